import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { createDashboard, type Dashboard } from '../../src/dashboard/dashboard.js';
import { packPlugin, type PackResult } from '../../src/pack/index.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { startServer } from '../helpers/server.js';
import { ZipFile } from 'yazl';
import { fromBufferPromise } from 'yauzl';

/** A fresh temp dir, removed when the test finishes. */
export async function tempDir(prefix = 'neko-pack-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The line of `Boom`'s throw in {@link GREET_LOGIC} (1-based), for the stack trace tests. */
export const BOOM_LINE = 20;

/**
 * A plugin that imports a package of its own (`tiny-shout`, CommonJS, in its
 * node_modules), a sibling TypeScript file and `nekoconnect` at run time;
 * op 1 answers `HELLO, <TEXT>!` (and the version of the code), op 2 throws at
 * line {@link BOOM_LINE} of logic.ts.
 */
export const GREET_LOGIC = (version = 'v1'): string => `import type { Context } from 'nekoconnect';
import { isNekoError } from 'nekoconnect';
import shout from 'tiny-shout';
import { exclaim } from './lib/exclaim.js';

/** The ops of the greet plugin. */
export const Op = {
  /** data: a name; answers \`HELLO, <NAME>!\` */
  Hello: 1,
  /** throws, for the stack trace */
  Boom: 2,
} as const;

export class Logic {
  recv(ctx: Context): void {
    const version: string = '${version}';
    if (ctx.op === Op.Boom) {
      const why = 'boom from the package';
      const detail = isNekoError(why) ? 'coded' : 'plain';
      throw new Error(why + ' (' + detail + ')');
    }
    ctx.send(exclaim(shout('hello, ' + ctx.text())) + ' ' + version, { op: ctx.op });
  }
}
`;

/** Writes the greet plugin's project into `dir` (its spec.conf with `greeter`, version `version`). */
export async function writeGreetPlugin(
  dir: string,
  options: { greeter?: string; version?: string; code?: string; logic?: string } = {},
): Promise<string> {
  const greeter = options.greeter ?? 'greet';
  await mkdir(path.join(dir, 'lib'), { recursive: true });
  await mkdir(path.join(dir, 'node_modules', 'tiny-shout'), { recursive: true });
  await writeFile(
    path.join(dir, 'spec.conf'),
    `$name {"Greet"};\n$greet {"${greeter}"};\n$logic {"logic"};\n$version {"${options.version ?? '1.2.3'}"};\n`,
  );
  await writeFile(path.join(dir, 'logic.ts'), options.logic ?? GREET_LOGIC(options.code));
  await writeFile(
    path.join(dir, 'lib', 'exclaim.ts'),
    'export function exclaim(text: string): string {\n  return text + "!";\n}\n',
  );
  await writeFile(
    path.join(dir, 'node_modules', 'tiny-shout', 'package.json'),
    '{ "name": "tiny-shout", "version": "1.0.0", "main": "index.js" }\n',
  );
  await writeFile(
    path.join(dir, 'node_modules', 'tiny-shout', 'index.js'),
    'module.exports = function tinyShout(text) { return String(text).toUpperCase(); };\n',
  );
  return dir;
}

/** Reads every entry of a zip file, by name, in the order of the zip. */
export async function zipEntries(file: string): Promise<Map<string, Buffer>> {
  const zip = await fromBufferPromise(await readFile(file));
  const out = new Map<string, Buffer>();
  for await (const entry of zip.eachEntry()) {
    const stream = await zip.openReadStreamPromise(entry);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    out.set(entry.fileName, Buffer.concat(chunks));
  }
  return out;
}

/** Writes `entries` as a zip into `file` (yazl, as pack does, but with whatever entries a test wants). */
export async function writeZip(file: string, entries: Iterable<[string, Buffer]>): Promise<void> {
  const zip = new ZipFile();
  for (const [name, data] of entries) zip.addBuffer(data, name);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  await writeFile(file, Buffer.concat(chunks));
}

/**
 * Copies a package with some of its entries changed (the manifest kept as
 * it is unless `manifest` changes it): a tampered or incompatible package.
 */
export async function rewritePackage(
  from: string,
  to: string,
  change: { entry?: (name: string, data: Buffer) => Buffer; manifest?: (m: Record<string, unknown>) => void },
): Promise<void> {
  const entries = await zipEntries(from);
  const out: [string, Buffer][] = [];
  for (const [name, data] of entries) {
    let next = change.entry?.(name, data) ?? data;
    if (name === 'manifest.json' && change.manifest !== undefined) {
      const manifest = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
      change.manifest(manifest);
      next = Buffer.from(JSON.stringify(manifest, null, 2));
    }
    out.push([name, next]);
  }
  await writeZip(to, out);
}

/**
 * A server serving a plugins directory with a folder plugin (`echo`) and a
 * packed one (`greet`), and its dashboard listening on a free port.
 */
export async function dashboardOfFolderAndPackage(): Promise<{
  plugins: string;
  packed: PackResult;
  dashboard: Dashboard;
  port: number;
}> {
  const plugins = await makePluginsDir([
    { greeter: 'echo', logic: 'export class Logic { recv(ctx) { ctx.send(ctx.data); } }\n' },
  ]);
  const packed = await packPlugin({ dir: await writeGreetPlugin(await tempDir()), outDir: plugins });
  const { server } = await startServer();
  const dashboard = createDashboard(server, { port: 0 });
  onTestFinished(() => dashboard.close());
  await server.loadPlugins(plugins);
  const { port } = await dashboard.listen();
  return { plugins, packed, dashboard, port };
}
