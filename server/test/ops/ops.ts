/**
 * What the operations tests share: a temp folder with a config file and
 * plugins written by the test, and a real `nekoconnect start` on it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { startCli, type RunningCli } from '../cli/run-cli.js';

export const SECRET = 'ops-secret';

/** A temp folder, removed when the test ends. */
export async function tempDir(prefix = 'neko-ops-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes (or rewrites) the plugin `greeter` under `<dir>/plugins`, with `logic` as its logic.ts. */
export async function writePlugin(
  dir: string,
  greeter: string,
  logic: string,
  version = '1.0.0',
): Promise<void> {
  const folder = join(dir, 'plugins', greeter);
  await mkdir(folder, { recursive: true });
  await writeFile(
    join(folder, 'spec.conf'),
    `$name {"${greeter}"}; $greet {"${greeter}"}; $logic {"logic"}; $version {"${version}"};\n`,
  );
  await writeFile(join(folder, 'logic.ts'), logic);
}

/** Writes the config file `<dir>/nekoconnect.config.json`: plugins and data under `dir`, and `extra`. */
export async function writeConfig(dir: string, extra: Record<string, unknown> = {}): Promise<string> {
  const file = join(dir, 'nekoconnect.config.json');
  await writeFile(file, JSON.stringify({ plugins: 'plugins', dataDir: 'data', port: 0, ...extra }, null, 2));
  return file;
}

/** A server the test started, listening. */
export interface StartedServer {
  cli: RunningCli;
  port: number;
  config: string;
  /** The dashboard's port, when it was asked for. */
  dashboardPort: number | undefined;
}

/** Starts `nekoconnect start --config <dir>/nekoconnect.config.json` and waits until it listens. */
export async function startServer(dir: string, args: string[] = []): Promise<StartedServer> {
  const config = join(dir, 'nekoconnect.config.json');
  const cli = startCli(['start', '--config', config, ...args], { NEKOCONNECT_SECRET: SECRET });
  const [, port] = await cli.waitFor(/listening on (?:tcp|tls):\/\/127\.0\.0\.1:(\d+)/, 30_000);
  const dashboard = /dashboard http:\/\/[^:]+:(\d+)\//.exec(cli.stdout());
  return { cli, port: Number(port), config, dashboardPort: dashboard ? Number(dashboard[1]) : undefined };
}

/** Resolves once `predicate` holds, checking every 20 ms; rejects after `timeoutMs` saying `what`. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
