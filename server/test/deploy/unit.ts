/**
 * The systemd unit of docs/deploy.md, installed and run as far as this
 * machine allows: its folders under a temp root, its `ExecStart` started as
 * systemd would start it (the `LoadCredential=` file in
 * `$CREDENTIALS_DIRECTORY`, `WorkingDirectory=`, `UMask=`).
 *
 * What is substituted, and only that: the unit's absolute folders
 * (`/opt/nekoconnect`, `/etc/nekoconnect`, `/var/lib/nekoconnect`) become
 * folders of a temp root (each release folder's `node_modules/nekoconnect`
 * links to this repository's built package), the ports become free ones,
 * and `/usr/bin/node` becomes this Node.js when it is elsewhere. The process
 * runs as the test's user, not `User=`: the container test runs the server
 * as an unprivileged user. This machine's init is not systemd, so the unit
 * is not run by systemd itself, and its hardening is not exercised.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { makeCertificate } from '../../../scripts/test-support/tls.js';
import { REPO_ROOT } from '../cli/run-cli.js';
import { freePort, parseUnit, setting, shellWords, titledBlock, userEnv } from './guide.js';

/** The unit's folders, which the tests move under a temp root. */
export const FOLDERS = ['/opt/nekoconnect', '/etc/nekoconnect', '/var/lib/nekoconnect'] as const;

/** The secret the installed unit's credential holds. */
export const UNIT_SECRET = 'deploy-systemd-secret-0123456789';

export interface Installed {
  root: string;
  /** The unit's text with its folders moved under `root`. */
  unit: string;
  /** A path of the unit, moved under `root`. */
  at: (path: string) => string;
  /** One `[Service]` setting of the moved unit. */
  service: (key: string) => string;
}

/** A plugin of a release: its folder name, and its files' contents. */
export type ReleasePlugin = { name: string; files: Record<string, string> };

/** The example plugins echo and todo, from plugins/. */
export async function examplePlugins(): Promise<ReleasePlugin[]> {
  return Promise.all(
    ['echo', 'todo'].map(async (name) => ({
      name,
      files: Object.fromEntries(
        await Promise.all(
          ['spec.conf', 'logic.ts'].map(
            async (file) => [file, await readFile(join(REPO_ROOT, 'plugins', name, file), 'utf8')] as const,
          ),
        ),
      ),
    })),
  );
}

/**
 * A release folder as the guide's Install leaves it, `/opt/nekoconnect/releases/<name>`: the package (a link
 * to this repository's build, with the `.bin/nekoconnect` link npm makes) and the plugins.
 */
export async function addRelease(at: (path: string) => string, name: string, plugins: ReleasePlugin[]) {
  const release = at(`/opt/nekoconnect/releases/${name}`);
  await mkdir(join(release, 'node_modules', '.bin'), { recursive: true });
  await symlink(join(REPO_ROOT, 'server'), join(release, 'node_modules', 'nekoconnect'));
  await symlink('../nekoconnect/bin/nekoconnect.js', join(release, 'node_modules', '.bin', 'nekoconnect'));
  for (const plugin of plugins) {
    await mkdir(join(release, 'plugins', plugin.name), { recursive: true });
    for (const [file, text] of Object.entries(plugin.files)) {
      await writeFile(join(release, 'plugins', plugin.name, file), text);
    }
  }
  return release;
}

/**
 * A temp root holding the install the unit expects: release `a` with `plugins` (the examples by default)
 * and `current` pointing at it (unless `release` is false: the test installs one itself), the guide's
 * config file, the secret (0600), a TLS pair, the data directory (0700).
 */
export async function install(
  options: { plugins?: ReleasePlugin[]; release?: boolean } = {},
): Promise<Installed> {
  const root = await mkdtemp(join(tmpdir(), 'neko-deploy-systemd-'));
  onTestFinished(() => rm(root, { recursive: true, force: true }));
  const at = (path: string): string => join(root, path);
  let unit = titledBlock('nekoconnect.service').body;
  for (const folder of FOLDERS) unit = unit.replaceAll(folder, at(folder));
  if (!existsSync('/usr/bin/node')) unit = unit.replaceAll('/usr/bin/node', process.execPath);

  if (options.release !== false) {
    const release = await addRelease(at, 'a', options.plugins ?? (await examplePlugins()));
    await symlink(release, at('/opt/nekoconnect/current'));
  }
  await mkdir(at('/etc/nekoconnect/tls'), { recursive: true });
  await writeFile(
    at('/etc/nekoconnect/nekoconnect.config.json'),
    titledBlock('nekoconnect.config.json').body,
  );
  await writeFile(at('/etc/nekoconnect/secret'), `${UNIT_SECRET}\n`, { mode: 0o600 });
  const { key, cert } = await makeCertificate();
  await writeFile(at('/etc/nekoconnect/tls/server.key'), key, { mode: 0o640 });
  await writeFile(at('/etc/nekoconnect/tls/server.crt'), cert);
  await mkdir(at('/var/lib/nekoconnect'), { recursive: true, mode: 0o700 });
  await chmod(at('/var/lib/nekoconnect'), 0o700);
  const parsed = parseUnit(unit);
  return { root, unit, at, service: (key) => setting(parsed, 'Service', key) };
}

/** The words of an `Exec*=` setting with `${VAR}` and `$VAR` replaced from `env`, as systemd expands them. */
export function execWords(value: string, env: Record<string, string>): string[] {
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

/** One run of the unit's `ExecStart`. */
export interface ServiceRun {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** The exit code (null for a signal). */
  exited: Promise<number | null>;
}

/** The ports a started unit listens on (free ones, chosen once so that a restart binds the same). */
export interface ServicePorts {
  port: number;
  metricsPort: number;
}

export async function servicePorts(): Promise<ServicePorts> {
  return { port: await freePort(), metricsPort: await freePort() };
}

/**
 * Starts the unit's `ExecStart` as systemd would: the `LoadCredential=` file copied into
 * `$CREDENTIALS_DIRECTORY` (mode 0400), in `WorkingDirectory=`, with `UMask=`; killed when the test ends.
 */
export async function startService(installed: Installed, ports: ServicePorts): Promise<ServiceRun> {
  const { root, service } = installed;
  const [credential, source] = service('LoadCredential').split(/:(.*)/s) as [string, string];
  const credentials = join(root, 'run', 'credentials', 'nekoconnect.service');
  await mkdir(credentials, { recursive: true, mode: 0o700 });
  await rm(join(credentials, credential), { force: true });
  await writeFile(join(credentials, credential), await readFile(source), { mode: 0o400 });

  let words = execWords(service('ExecStart'), { CREDENTIALS_DIRECTORY: credentials });
  words = withFlag(
    withFlag(words, '--port', String(ports.port)),
    '--metrics-port',
    String(ports.metricsPort),
  );
  const [program, ...args] = words as [string, ...string[]];
  const child = spawn('/bin/sh', ['-c', `umask ${service('UMask')} && exec "$0" "$@"`, program, ...args], {
    cwd: service('WorkingDirectory'),
    env: userEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => out, exited };
}

/** The JSON records a run printed so far (`--log-format json`: every line is one). */
export function records(run: ServiceRun): Array<{ level: string; message: string }> {
  return run
    .output()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { level: string; message: string });
}
