/**
 * The cluster of docs/deploy.md ("A cluster"), installed and run as far as
 * this machine allows: the template unit `nekoconnect@.service` for one
 * instance (`%i` expanded as systemd does), its `EnvironmentFile=` (the
 * guide's `cluster.env`) and the guide's cluster config file, under a temp
 * root as `unit.ts` does for the single server's unit.
 *
 * What is substituted, and only that: the unit's absolute folders move under
 * the temp root, its three ports (`--port`, `--ws-port`, `--metrics-port`)
 * become free ones and its `--cluster-name` a fresh one (so that the tests
 * of a file never share a cluster), and the two URLs of `cluster.env` point
 * at the test's PostgreSQL and Redis. The config file is the guide's, as
 * for the single server. The process runs as the test's user and not under
 * systemd (this machine's init is not systemd).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { REPO_ROOT } from '../cli/run-cli.js';
import { freePort, parseUnit, setting, systemdInstance, titledBlock, userEnv, waitForHttp } from './guide.js';
import { addRelease, execWords, FOLDERS, UNIT_SECRET, type ReleasePlugin, type ServiceRun } from './unit.js';

export { UNIT_SECRET };

/** The variables of an `EnvironmentFile=`: `KEY=value` lines; blank lines and `#` comments skipped. */
export function environmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`not an EnvironmentFile line: ${line}`);
    env[m[1]!] = m[2]!;
  }
  return env;
}

/** The guide's cluster installed under a temp root. */
export interface ClusterInstall {
  root: string;
  /** The template unit's text, its folders moved under `root`. */
  template: string;
  /** The cluster's name, in place of the unit's `--cluster-name`. */
  name: string;
  at: (path: string) => string;
}

/** The example plugins chat and todo, from plugins/, and more given by the test. */
async function plugins(extra: ReleasePlugin[]): Promise<ReleasePlugin[]> {
  const examples = await Promise.all(
    ['chat', 'todo'].map(async (name) => ({
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
  return [...examples, ...extra];
}

/** Replaces the value after `flag` in `words`; throws when the flag is not there. */
function withFlag(words: string[], flag: string, value: string): string[] {
  const i = words.indexOf(flag);
  if (i === -1) throw new Error(`the template unit's ExecStart has no ${flag}`);
  return [...words.slice(0, i + 1), value, ...words.slice(i + 2)];
}

/**
 * Installs the guide's cluster under a temp root: release `a` with the chat
 * and todo examples (and `extra` plugins), `current` pointing at it, the
 * secret, the cluster config file and `cluster.env` with the test's engines.
 */
export async function installCluster(options: {
  redis: string;
  database: string;
  name: string;
  extra?: ReleasePlugin[];
}): Promise<ClusterInstall> {
  const root = await mkdtemp(join(tmpdir(), 'neko-deploy-cluster-'));
  onTestFinished(() => rm(root, { recursive: true, force: true }));
  const at = (path: string): string => join(root, path);
  let template = titledBlock('nekoconnect@.service').body;
  for (const folder of FOLDERS) template = template.replaceAll(folder, at(folder));
  if (!existsSync('/usr/bin/node')) template = template.replaceAll('/usr/bin/node', process.execPath);

  const release = await addRelease(at, 'a', await plugins(options.extra ?? []));
  await symlink(release, at('/opt/nekoconnect/current'));
  await mkdir(at('/etc/nekoconnect'), { recursive: true });
  await writeFile(at('/etc/nekoconnect/secret'), `${UNIT_SECRET}\n`, { mode: 0o600 });

  await writeFile(
    at('/etc/nekoconnect/nekoconnect.config.json'),
    titledBlock('nekoconnect.config.json').body,
  );

  // The guide's cluster.env with the URLs of the test's engines (and nothing else changed).
  const urls: Record<string, string> = {
    NEKOCONNECT_DATABASE_URL: options.database,
    NEKOCONNECT_REDIS_URL: options.redis,
  };
  const written = environmentFile(titledBlock('cluster.env').body);
  for (const key of Object.keys(urls)) {
    if (written[key] === undefined) throw new Error(`docs/deploy.md's cluster.env does not set ${key}`);
  }
  const env = Object.entries({ ...written, ...urls })
    .map(([key, value]) => `${key}=${value}`)
    .join('\n');
  await writeFile(at('/etc/nekoconnect/cluster.env'), `${env}\n`, { mode: 0o600 });
  return { root, template, name: options.name, at };
}

/** The free ports one instance listens on. */
export interface InstancePorts {
  port: number;
  wsPort: number;
  metricsPort: number;
}

/** One started instance of the template unit. */
export interface Instance extends ServiceRun {
  name: string;
  ports: InstancePorts;
  /** `http://127.0.0.1:<metrics port>`. */
  metrics: string;
}

/**
 * Starts instance `name` of the template unit as systemd would (its
 * `EnvironmentFile=` read into the environment, the credential in
 * `$CREDENTIALS_DIRECTORY`, its `StateDirectory=` made, `WorkingDirectory=`,
 * `UMask=`) on free ports, and waits until its `/readyz` answers 200.
 * Killed when the test ends.
 */
export async function startInstance(install: ClusterInstall, name: string): Promise<Instance> {
  const { root, at } = install;
  const unit = parseUnit(systemdInstance(install.template, name));
  const service = (key: string): string => setting(unit, 'Service', key);
  const [credential, source] = service('LoadCredential').split(/:(.*)/s) as [string, string];
  const credentials = join(root, 'run', 'credentials', `nekoconnect@${name}.service`);
  await mkdir(credentials, { recursive: true, mode: 0o700 });
  await rm(join(credentials, credential), { force: true });
  await writeFile(join(credentials, credential), await readFile(source), { mode: 0o400 });
  await mkdir(at(join('/var/lib', service('StateDirectory'))), { recursive: true, mode: 0o700 });
  const fileEnv = environmentFile(await readFile(service('EnvironmentFile'), 'utf8'));

  const ports: InstancePorts = {
    port: await freePort(),
    wsPort: await freePort(),
    metricsPort: await freePort(),
  };
  let words = execWords(service('ExecStart'), { CREDENTIALS_DIRECTORY: credentials });
  words = withFlag(words, '--port', String(ports.port));
  words = withFlag(words, '--ws-port', String(ports.wsPort));
  words = withFlag(words, '--metrics-port', String(ports.metricsPort));
  words = withFlag(words, '--cluster-name', install.name);
  const [program, ...args] = words as [string, ...string[]];
  const child = spawn('/bin/sh', ['-c', `umask ${service('UMask')} && exec "$0" "$@"`, program, ...args], {
    cwd: service('WorkingDirectory'),
    env: userEnv(fileEnv),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const metrics = `http://127.0.0.1:${ports.metricsPort}`;
  try {
    await waitForHttp(`${metrics}/readyz`, 200, 30_000);
  } catch (err) {
    throw new Error(`nekoconnect@${name} did not become ready: ${(err as Error).message}\n${out}`, {
      cause: err,
    });
  }
  return { name, ports, metrics, child, output: () => out, exited };
}

/** The value of a metric without labels (or with exactly `labels`) in an instance's `/metrics`. */
export async function metric(instance: Instance, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${instance.metrics}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  if (line === undefined) throw new Error(`no ${name}${labels} in /metrics of nekoconnect@${instance.name}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}
