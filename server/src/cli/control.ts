/**
 * `nekoconnect reload` and `nekoconnect drain`: steer a running server
 * from another shell, for those who cannot send it a signal by pid
 * themselves. The server is found through the lock of its data directory
 * (`<data-dir>/nekoconnect.lock`, which names its pid); the command checks
 * that the process runs and sends it `SIGHUP` (reload) or `SIGUSR2` (drain).
 */
import { hostname } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { NekoError } from '../errors.js';
import { shownDir } from '../format.js';
import { readDataDirLock, type DataDirLock } from '../storage/nedb/lock.js';
import { DEFAULT_DATA_DIR } from '../storage/nedb/storage.js';
import { defineCommand, type CliIo, type ControlSignal, type FlagValues } from './command.js';

/** The flags of both commands: where the server's data directory is. */
const CONTROL_FLAGS = {
  'data-dir': {
    type: 'string',
    value: '<dir>',
    help: "the server's data directory",
    default: `the config's dataDir, else ${DEFAULT_DATA_DIR}`,
    key: 'dataDir',
  },
  config: {
    type: 'string',
    value: '<file>',
    help: 'read dataDir from this config file instead',
    key: 'config',
  },
  'no-config': { type: 'boolean', help: 'ignore the config file', key: 'noConfig' },
} as const;

/** `drain` can also wait for the server to exit. */
const DRAIN_FLAGS = {
  ...CONTROL_FLAGS,
  wait: {
    type: 'boolean',
    help: 'wait until the server has exited (for a stop script: the drain then ends before the stop)',
    key: 'wait',
  },
} as const;

type ControlFlags = FlagValues<typeof CONTROL_FLAGS>;

/** How often `drain --wait` checks whether the server is gone. */
const WAIT_POLL_MS = 100;

const CONTROL_FOOTER = `Exit codes: 0 the signal was sent, 1 no server runs on the data directory
(NEKO_ERR_SIGNAL_NO_SERVER) or it may not be signalled (NEKO_ERR_SIGNAL_DENIED),
2 usage or configuration error.`;

/**
 * The data directory a command names: `--data-dir`, else the config's
 * `dataDir` (relative to the config's folder), else the default, as `start`
 * decides it.
 */
export async function controlDataDir(flags: ControlFlags, cwd: string): Promise<string> {
  if (flags.dataDir !== undefined) return path.resolve(cwd, flags.dataDir);
  const loaded = await loadConfig(cwd, { configFile: flags.config, noConfig: flags.noConfig });
  return path.resolve(loaded?.dir ?? cwd, loaded?.config.dataDir ?? DEFAULT_DATA_DIR);
}

/**
 * The server that holds a data directory, checked alive.
 *
 * @throws NekoError `NEKO_ERR_SIGNAL_NO_SERVER` (no lock, or its process is
 *   gone: a stale lock), `NEKO_ERR_SIGNAL_DENIED` (another user's process,
 *   or another machine's)
 */
export async function runningServer(dataDir: string, cwd: string): Promise<DataDirLock> {
  const shown = shownDir(dataDir, cwd);
  const lock = await readDataDirLock(dataDir);
  if (lock === undefined) {
    throw new NekoError('NEKO_ERR_SIGNAL_NO_SERVER', `no server runs on ${shown}: it has no lock file`, {
      hint: 'give the data directory the server uses with --data-dir (or the config that names it with --config)',
    });
  }
  const who = `pid ${lock.pid}, started ${lock.startedAt}`;
  if (lock.hostname !== hostname()) {
    throw new NekoError(
      'NEKO_ERR_SIGNAL_DENIED',
      `the server of ${shown} runs on another machine (${lock.hostname}, ${who})`,
      { hint: `run this command on ${lock.hostname}` },
    );
  }
  try {
    process.kill(lock.pid, 0);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPERM') throw denied(shown, who);
    throw new NekoError(
      'NEKO_ERR_SIGNAL_NO_SERVER',
      `no server runs on ${shown}: its lock file names ${who}, and that process is gone (a stale lock)`,
      {
        hint: `the server stopped without removing ${lock.file} (a crash?); the next server started there takes it over`,
      },
    );
  }
  return lock;
}

function denied(shown: string, who: string): NekoError {
  return new NekoError(
    'NEKO_ERR_SIGNAL_DENIED',
    `not permitted to signal the server of ${shown} (${who}): it runs as another user`,
    { hint: 'run this command as the user the server runs as (or as root)' },
  );
}

/** Finds the server of the data directory and sends it `signal`; prints what it did. Resolves with its pid. */
async function signalServer(
  flags: ControlFlags,
  io: CliIo,
  signal: ControlSignal,
  what: string,
): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  const dataDir = await controlDataDir(flags, cwd);
  const lock = await runningServer(dataDir, cwd);
  try {
    process.kill(lock.pid, signal);
  } catch (err) {
    const shown = shownDir(dataDir, cwd);
    if ((err as NodeJS.ErrnoException).code === 'EPERM') throw denied(shown, `pid ${lock.pid}`);
    throw new NekoError('NEKO_ERR_SIGNAL_NO_SERVER', `the server of ${shown} (pid ${lock.pid}) is gone`, {
      cause: err,
    });
  }
  io.out(`sent ${signal} to the server of ${shownDir(dataDir, cwd)} (pid ${lock.pid}): ${what}`);
  return lock.pid;
}

/** Resolves once the process `pid` is gone. */
async function exited(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return;
    }
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
  }
}

/** `nekoconnect reload`. */
export const RELOAD_COMMAND = defineCommand({
  name: 'reload',
  summary: 'reload a running server: its config and plugins (SIGHUP)',
  description: `Sends SIGHUP to the server that runs on the data directory (found through
its lock file, <data-dir>/nekoconnect.lock). The server reads its config
file again, reloads every plugin in place (sessions, state and databases
stay; a plugin that fails keeps its serving version), applies the limits,
the log level and format and the TLS certificate and key, and logs each
setting that needs a restart, then a summary line. See docs/config.md.`,
  flags: CONTROL_FLAGS,
  footer: CONTROL_FOOTER,
  run: async (flags, _args, io) => {
    await signalServer(flags, io, 'SIGHUP', 'it reloads its config and plugins; its log says what changed');
    return 0;
  },
});

/** `nekoconnect drain`. */
export const DRAIN_COMMAND = defineCommand({
  name: 'drain',
  summary: 'drain a running server, then stop it (SIGUSR2)',
  description: `Sends SIGUSR2 to the server that runs on the data directory (found through
its lock file, <data-dir>/nekoconnect.lock). The server stops accepting
connections, reports not ready, tells each client it goes away (status 503)
once its conversation is over, waits for them up to limits.drainTimeoutMs
(--drain-timeout-ms, 30 s by default), then shuts down and exits.
With --wait, this command returns only once the server has exited.
See docs/config.md.`,
  flags: DRAIN_FLAGS,
  footer: CONTROL_FOOTER,
  run: async (flags, _args, io) => {
    const started = Date.now();
    const pid = await signalServer(
      flags,
      io,
      'SIGUSR2',
      'it drains its connections, then shuts down and exits',
    );
    if (flags.wait !== true) return 0;
    await exited(pid);
    io.out(
      `the server (pid ${pid}) has exited, ${((Date.now() - started) / 1000).toFixed(1)} s after the signal`,
    );
    return 0;
  },
});
