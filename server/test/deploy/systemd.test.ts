/**
 * The systemd unit of docs/deploy.md:
 *
 * 1. `systemd-analyze verify` accepts it, without a warning, once its paths
 *    point at a real install (verify checks that `ExecStart`'s program
 *    exists and is executable).
 * 2. Its commands run as systemd would run them: `ExecStart` with
 *    `$CREDENTIALS_DIRECTORY` set to a folder holding the `LoadCredential=`
 *    file, in its `WorkingDirectory`, with the guide's config file and a TLS
 *    pair; it serves `/readyz` on its metrics port; `ExecReload` (`kill -HUP
 *    $MAINPID`) reloads it; `KillSignal` stops it with exit 0 well within
 *    `TimeoutStopSec`.
 *
 * What is substituted, and only that: the unit's absolute folders
 * (`/opt/nekoconnect`, `/etc/nekoconnect`, `/var/lib/nekoconnect`) become
 * folders of a temp root (`/opt/nekoconnect/current` is a release folder
 * whose `node_modules/nekoconnect` links to this repository's built package), the ports become free ones, and
 * `/usr/bin/node` becomes this Node.js when it is elsewhere. The process runs
 * as the test's user, not `User=`: the container test runs the server as an
 * unprivileged user. This machine's init is not systemd, so the unit is not
 * run by systemd itself, and its hardening is not exercised.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeCertificate } from '../../../scripts/test-support/tls.js';
import { assertBuilt, REPO_ROOT } from '../cli/run-cli.js';
import { freePort, parseUnit, run, setting, shellWords, titledBlock, userEnv, waitForHttp } from './guide.js';

const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

/** The unit's folders, and where the test puts them. */
const FOLDERS = ['/opt/nekoconnect', '/etc/nekoconnect', '/var/lib/nekoconnect'] as const;

interface Installed {
  root: string;
  /** The unit's text with its folders moved under `root`. */
  unit: string;
  at: (path: string) => string;
}

/** A temp root holding the install the unit expects: the package, plugins, config, secret, TLS pair, data dir. */
async function install(): Promise<Installed> {
  const root = await mkdtemp(join(tmpdir(), 'neko-deploy-systemd-'));
  onTestFinished(() => rm(root, { recursive: true, force: true }));
  const at = (path: string): string => join(root, path);
  let unit = titledBlock('nekoconnect.service').body;
  for (const folder of FOLDERS) unit = unit.replaceAll(folder, at(folder));
  if (!existsSync('/usr/bin/node')) unit = unit.replaceAll('/usr/bin/node', process.execPath);

  // /opt/nekoconnect: a release folder with the package (this repository's build) and the plugins (echo and
  // todo of plugins/), and `current` pointing at it, as the guide's Install leaves them.
  const release = at('/opt/nekoconnect/releases/test');
  await mkdir(join(release, 'node_modules'), { recursive: true });
  await symlink(join(REPO_ROOT, 'server'), join(release, 'node_modules', 'nekoconnect'));
  for (const plugin of ['echo', 'todo']) {
    await mkdir(join(release, 'plugins', plugin), { recursive: true });
    for (const file of ['spec.conf', 'logic.ts']) {
      await writeFile(
        join(release, 'plugins', plugin, file),
        await readFile(join(REPO_ROOT, 'plugins', plugin, file)),
      );
    }
  }
  await symlink(release, at('/opt/nekoconnect/current'));
  // /etc/nekoconnect: the guide's config file, the secret (0600), the TLS pair.
  await mkdir(at('/etc/nekoconnect/tls'), { recursive: true });
  await writeFile(
    at('/etc/nekoconnect/nekoconnect.config.json'),
    titledBlock('nekoconnect.config.json').body,
  );
  await writeFile(at('/etc/nekoconnect/secret'), 'deploy-systemd-secret-0123456789\n', { mode: 0o600 });
  const { key, cert } = await makeCertificate();
  await writeFile(at('/etc/nekoconnect/tls/server.key'), key, { mode: 0o640 });
  await writeFile(at('/etc/nekoconnect/tls/server.crt'), cert);
  // /var/lib/nekoconnect: the data directory, made as the guide makes it.
  await mkdir(at('/var/lib/nekoconnect'), { recursive: true, mode: 0o700 });
  await chmod(at('/var/lib/nekoconnect'), 0o700);
  return { root, unit, at };
}

/** The words of an `Exec*=` setting with `${VAR}` and `$VAR` replaced from `env`, as systemd expands them. */
function execWords(value: string, env: Record<string, string>): string[] {
  return shellWords(value).map((word) =>
    word.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => {
      const name = (a ?? b)!;
      if (env[name] === undefined)
        throw new Error(`the unit uses $${name}, which systemd would not set here`);
      return env[name];
    }),
  );
}

/** Replaces the value after `flag` in `words`; throws when the flag is not there. */
function withFlag(words: string[], flag: string, value: string): string[] {
  const i = words.indexOf(flag);
  if (i === -1) throw new Error(`the unit's ExecStart has no ${flag}`);
  return [...words.slice(0, i + 1), value, ...words.slice(i + 2)];
}

describe('the systemd unit of docs/deploy.md', () => {
  it('is accepted by systemd-analyze verify, without a warning', async () => {
    if (SYSTEMD_ANALYZE === undefined) {
      throw new Error(
        'systemd-analyze is missing: this test checks the unit of docs/deploy.md with it. ' +
          'Install it (Debian/Ubuntu: apt-get install -y systemd); .ci/run does.',
      );
    }
    const { root, unit } = await install();
    const file = join(root, 'nekoconnect.service');
    await writeFile(file, unit);
    const { stdout, stderr } = await run(SYSTEMD_ANALYZE, ['verify', file], { timeoutMs: 30_000 });
    // verify exits 0 on unknown keys and bad values too, and says so: any line about the unit is a defect.
    expect(`${stdout}${stderr}`.split('\n').filter((l) => l.includes('nekoconnect.service'))).toEqual([]);

    // And it does catch what it is here for: a misspelt key, and an ExecStart program that is not there.
    const misspelt = join(root, 'misspelt.service');
    await writeFile(misspelt, unit.replace('ProtectHome=', 'ProtectHom='));
    const warned = await run(SYSTEMD_ANALYZE, ['verify', misspelt], { timeoutMs: 30_000 });
    expect(warned.stderr).toMatch(/Unknown key 'ProtectHom'/);
    const noProgram = join(root, 'no-program.service');
    const program = setting(parseUnit(unit), 'Service', 'ExecStart').split(/\s/)[0]!;
    await writeFile(noProgram, unit.replace(`ExecStart=${program}`, `ExecStart=${program}-missing`));
    await expect(run(SYSTEMD_ANALYZE, ['verify', noProgram], { timeoutMs: 30_000 })).rejects.toThrow(
      /is not executable/,
    );
  });

  it('has the settings the guide explains', async () => {
    const unit = parseUnit(titledBlock('nekoconnect.service').body);
    const service = (key: string): string => setting(unit, 'Service', key);
    expect(service('Type')).toMatch(/^(simple|exec)$/);
    expect(service('User')).toBe('nekoconnect');
    expect(service('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(service('KillSignal')).toBe('SIGTERM');
    // A drain ends the process; the guide's upgrade counts on systemd starting it again, and not on exit code 2.
    expect(service('Restart')).toBe('always');
    expect(service('RestartPreventExitStatus')).toBe('2');
    expect(service('LoadCredential')).toBe('secret:/etc/nekoconnect/secret');
    expect(service('ExecStart')).toContain('--secret-file ${CREDENTIALS_DIRECTORY}/secret');
    expect(service('ReadWritePaths')).toBe('/var/lib/nekoconnect');
    expect(service('CapabilityBoundingSet')).toBe('');
    for (const key of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp']) expect(service(key), key).toBe('yes');
    expect(service('ProtectSystem')).toBe('strict');
    expect(service('RestrictAddressFamilies')).toBe('AF_INET AF_INET6 AF_UNIX');
    // TimeoutStopSec above the drain and the shutdown bounds of the guide's config, together.
    const { limits } = JSON.parse(titledBlock('nekoconnect.config.json').body) as {
      limits: { drainTimeoutMs: number; shutdownTimeoutMs: number };
    };
    expect(Number(service('TimeoutStopSec')) * 1000).toBeGreaterThan(
      limits.drainTimeoutMs + limits.shutdownTimeoutMs,
    );
  });

  it('runs: ExecStart serves and is ready, ExecReload reloads it, KillSignal stops it with exit 0', async () => {
    assertBuilt();
    const { root, unit, at } = await install();
    const service = parseUnit(unit).get('Service')!;
    const one = (key: string): string => setting(parseUnit(unit), 'Service', key);

    // LoadCredential=secret:<file>: systemd copies the file into $CREDENTIALS_DIRECTORY under the name "secret".
    const [credential, source] = one('LoadCredential').split(/:(.*)/s) as [string, string];
    const credentials = join(root, 'run', 'credentials', 'nekoconnect.service');
    await mkdir(credentials, { recursive: true, mode: 0o700 });
    await writeFile(join(credentials, credential), await readFile(source), { mode: 0o400 });

    const port = await freePort();
    const metricsPort = await freePort();
    let words = execWords(one('ExecStart'), { CREDENTIALS_DIRECTORY: credentials });
    words = withFlag(withFlag(words, '--port', String(port)), '--metrics-port', String(metricsPort));
    expect(service.get('ExecStart')).toHaveLength(1);

    const [program, ...args] = words as [string, ...string[]];
    // UMask= as systemd applies it before the exec.
    const umask = one('UMask');
    const child = spawn('/bin/sh', ['-c', `umask ${umask} && exec "$0" "$@"`, program, ...args], {
      cwd: one('WorkingDirectory'),
      env: userEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    const ready = await waitForHttp(`http://127.0.0.1:${metricsPort}/readyz`).catch((err: Error) => {
      throw new Error(`${err.message}\nserver output:\n${out}`);
    });
    expect(await ready.json()).toMatchObject({ ready: true });
    // --log-format json: every line is a JSON record.
    const records = (): Array<{ level: string; message: string }> =>
      out
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { level: string; message: string });
    expect(records().some((r) => /listening on tls:\/\/0\.0\.0\.0:/.test(r.message))).toBe(true);
    // The data directory is the only place written: the plugins' data files, the lock and the cache.
    expect(existsSync(at('/var/lib/nekoconnect/nekoconnect.lock'))).toBe(true);
    expect(existsSync(at('/var/lib/nekoconnect/todo.db'))).toBe(true);

    // ExecReload, as systemd runs it: $MAINPID is the ExecStart process.
    const [kill, ...killArgs] = execWords(one('ExecReload'), { MAINPID: String(child.pid) }) as [
      string,
      ...string[],
    ];
    await run(kill, killArgs);
    const deadline = Date.now() + 15_000;
    while (!records().some((r) => r.message.startsWith('reload done'))) {
      if (Date.now() > deadline) throw new Error(`no "reload done" line after ExecReload:\n${out}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(records().find((r) => r.message.startsWith('reload done'))!.message).toMatch(
      /2 plugins reloaded, 0 failed/,
    );
    expect(child.exitCode).toBe(null);

    // KillSignal, then systemd waits TimeoutStopSec before SIGKILL.
    const stopMs = Number(one('TimeoutStopSec')) * 1000;
    const started = Date.now();
    child.kill(one('KillSignal') as NodeJS.Signals);
    const code = await Promise.race([
      exited,
      new Promise((resolve) => setTimeout(() => resolve('timeout'), stopMs)),
    ]);
    expect(code, out).toBe(0);
    expect(Date.now() - started).toBeLessThan(stopMs);
    expect(existsSync(at('/var/lib/nekoconnect/nekoconnect.lock'))).toBe(false);
  }, 60_000);
});
