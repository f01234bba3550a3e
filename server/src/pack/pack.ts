/**
 * `nekoconnect pack`: a plugin folder into one `.ncp` package (the format is
 * read and checked by `plugins/package.ts`; docs/packages.md describes it).
 *
 * 1. spec.conf is read and checked, and the logic file found, as the loader does;
 * 2. the logic is bundled with esbuild into one ES module: its dependencies
 *    bundled in, Node.js built-ins and `nekoconnect` left as imports (the
 *    server that serves the package provides `nekoconnect`), with an external
 *    source map whose sources are relative to the plugin folder;
 * 3. the ops of its `Op` table are extracted (`validate/ops.ts`) into `ops.json`;
 * 4. the manifest lists the plugin, the NekoConnect range (`^` this version)
 *    and every entry's size and sha256;
 * 5. the zip is written with yazl, entries in a fixed order with a fixed
 *    time stamp and mode, so the same sources (and the same esbuild and
 *    Node.js) give the same bytes, and renamed into place whole.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build, type BuildFailure, type Message } from 'esbuild';
import { ZipFile } from 'yazl';
import { NekoError } from '../errors.js';
import { errorMessage } from '../format.js';
import { resolveLogicFile } from '../plugins/loader.js';
import {
  HASHED_ENTRIES,
  PACKAGE_ENTRIES,
  PACKAGE_EXTENSION,
  PACKAGE_FORMAT,
  nekoconnectVersion,
  sha256Hex,
  type PackageEntryName,
  type PackageManifest,
  type PackageOps,
} from '../plugins/package.js';
import { readSpec, type PluginSpec } from '../plugins/spec.js';
import { extractOps } from '../validate/ops.js';

/** Options of {@link packPlugin}. */
export interface PackOptions {
  /** The plugin folder (with its spec.conf). */
  dir: string;
  /** Where the package is written; created when missing. */
  outDir: string;
  /** Told before each step, for a progress line. */
  onStep?: (step: PackStep) => void;
}

/** The steps of a pack, in order. */
export type PackStep = 'spec' | 'bundle' | 'ops' | 'write';

/** One entry of a written package. */
export interface PackedEntry {
  name: PackageEntryName;
  size: number;
  sha256: string;
}

/** What {@link packPlugin} wrote. */
export interface PackResult {
  /** The package file, absolute. */
  file: string;
  size: number;
  /** The sha256 of the package file. */
  sha256: string;
  spec: PluginSpec;
  /** The logic source file that was bundled. */
  logicFile: string;
  manifest: PackageManifest;
  ops: PackageOps;
  entries: PackedEntry[];
}

/** The time stamp of every entry: the zip format's earliest (local time, as zip stores it). */
const ENTRY_TIME = new Date(1980, 0, 1, 0, 0, 0);

/** Gives bundled CommonJS dependencies the `require` an ES module lacks. */
const REQUIRE_BANNER =
  "import { createRequire as __nekoCreateRequire } from 'node:module'; const require = __nekoCreateRequire(import.meta.url);";

/** The name of the package of a plugin: `<greeter>-<version>.ncp`. */
export function packageFileName(spec: PluginSpec): string {
  return `${spec.greeter}-${spec.version}${PACKAGE_EXTENSION}`.replace(/[/\\]/g, '_');
}

/**
 * Packs the plugin in `options.dir` into `<outDir>/<greeter>-<version>.ncp`.
 *
 * @throws NekoError `NEKO_ERR_SPEC_*` (no or a bad spec.conf),
 *   `NEKO_ERR_PLUGIN_LOGIC_NOT_FOUND`, `NEKO_ERR_PACK_BUNDLE` (located at the
 *   source's first error), `NEKO_ERR_VALIDATE_OP` (an `Op` entry that is no
 *   op code), `NEKO_ERR_PACK_WRITE`
 */
export async function packPlugin(options: PackOptions): Promise<PackResult> {
  const dir = path.resolve(options.dir);
  const step = options.onStep ?? (() => undefined);

  step('spec');
  const spec = await readSpec(dir);
  const logicFile = await resolveLogicFile(dir, spec);
  const specText = await readFile(spec.file);

  step('bundle');
  const { code, map } = await bundleLogic(dir, logicFile);

  step('ops');
  const ops = await readOps(dir);
  const opsJson = Buffer.from(`${JSON.stringify(ops, null, 2)}\n`);

  const contents: Record<Exclude<PackageEntryName, 'manifest.json'>, Buffer> = {
    'spec.conf': specText,
    'logic.mjs': code,
    'logic.mjs.map': map,
    'ops.json': opsJson,
  };
  const entries = Object.fromEntries(
    HASHED_ENTRIES.map((name) => [name, { size: contents[name].length, sha256: sha256Hex(contents[name]) }]),
  ) as PackageManifest['entries'];
  const manifest: PackageManifest = {
    format: PACKAGE_FORMAT,
    plugin: { name: spec.name, greeter: spec.greeter, version: spec.version, logic: spec.logic },
    nekoconnect: `^${nekoconnectVersion()}`,
    entries,
  };
  const manifestJson = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);

  step('write');
  const all: Record<PackageEntryName, Buffer> = { 'manifest.json': manifestJson, ...contents };
  const zip = await zipEntries(PACKAGE_ENTRIES.map((name) => [name, all[name]] as const));
  const outDir = path.resolve(options.outDir);
  const file = path.join(outDir, packageFileName(spec));
  await writePackage(file, zip);
  return {
    file,
    size: zip.length,
    sha256: sha256Hex(zip),
    spec,
    logicFile,
    manifest,
    ops,
    entries: PACKAGE_ENTRIES.map((name) => ({ name, size: all[name].length, sha256: sha256Hex(all[name]) })),
  };
}

/** The logic bundled into one ES module and its source map (sources relative to `dir`). */
async function bundleLogic(dir: string, logicFile: string): Promise<{ code: Buffer; map: Buffer }> {
  try {
    const result = await build({
      entryPoints: [logicFile],
      absWorkingDir: dir,
      // Nothing is written (write: false); the paths of the map are relative to this file's folder.
      outfile: path.join(dir, 'logic.mjs'),
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      external: ['nekoconnect', 'nekoconnect/*'],
      banner: { js: REQUIRE_BANNER },
      sourcemap: 'external',
      sourcesContent: true,
      write: false,
      logLevel: 'silent',
    });
    const code = result.outputFiles.find((f) => f.path.endsWith('.mjs'));
    const map = result.outputFiles.find((f) => f.path.endsWith('.mjs.map'));
    if (code === undefined || map === undefined)
      throw new Error('esbuild produced no module or no source map');
    // esbuild's external map leaves the module without a link to it: the loader names it.
    const text = `${code.text.replace(/\n?$/, '\n')}//# sourceMappingURL=logic.mjs.map\n`;
    return { code: Buffer.from(text), map: Buffer.from(map.contents) };
  } catch (err) {
    throw bundleError(err, dir, logicFile);
  }
}

async function readOps(dir: string): Promise<PackageOps> {
  const extracted = await extractOps(dir);
  const error = extracted.problems.find((p) => p.severity !== 'warning');
  if (error !== undefined) {
    throw new NekoError(error.code, error.message, {
      ...(error.location === undefined ? {} : { location: error.location }),
      hint: error.hint ?? 'give each op its own whole number from 0 to 4294967295',
    });
  }
  if ('reason' in extracted) return { ops: [], reason: extracted.reason.replaceAll(`${dir}${path.sep}`, '') };
  return {
    ops: extracted.ops.map((op) => ({
      name: op.name,
      op: op.op,
      ...(op.doc === undefined ? {} : { doc: op.doc }),
    })),
  };
}

/** The zip of `entries`, in their order, each with the same time stamp and mode. */
function zipEntries(entries: readonly (readonly [string, Buffer])[]): Promise<Buffer> {
  const zip = new ZipFile();
  for (const [name, data] of entries) {
    zip.addBuffer(data, name, { mtime: ENTRY_TIME, mode: 0o100644, compress: true, forceDosTimestamp: true });
  }
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on('error', reject);
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

let tempCounter = 0;

async function writePackage(file: string, data: Buffer): Promise<void> {
  const outDir = path.dirname(file);
  const partial = `${file}.${process.pid}-${++tempCounter}.tmp`;
  try {
    const info = await stat(outDir).catch(() => undefined);
    if (info !== undefined && !info.isDirectory()) throw new Error('it is not a folder');
    await mkdir(outDir, { recursive: true });
    await writeFile(partial, data);
    await rename(partial, file);
  } catch (err) {
    await rm(partial, { force: true }).catch(() => undefined);
    throw new NekoError('NEKO_ERR_PACK_WRITE', `cannot write the package ${file}: ${errorMessage(err)}`, {
      cause: err,
      hint: `give a folder you can write to with --out-dir <dir>, or fix the permissions of ${outDir}`,
    });
  }
}

function bundleError(err: unknown, dir: string, logicFile: string): NekoError {
  const errors: Message[] = isBuildFailure(err) ? err.errors : [];
  const first = errors[0];
  if (first === undefined) {
    return new NekoError('NEKO_ERR_PACK_BUNDLE', `cannot bundle ${logicFile}: ${errorMessage(err)}`, {
      cause: err,
      hint: 'see the cause for details',
    });
  }
  const more =
    errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
  const unresolved = /Could not resolve/.test(first.text);
  return new NekoError('NEKO_ERR_PACK_BUNDLE', `cannot bundle ${logicFile}: ${first.text}${more}`, {
    cause: err,
    ...(first.location === null || first.location === undefined
      ? {}
      : {
          location: {
            file: path.join(dir, first.location.file),
            line: first.location.line,
            column: first.location.column + 1,
          },
        }),
    hint: unresolved
      ? `install the package in the plugin's project (npm install in ${dir} or a folder above it), or fix the import`
      : 'fix the error at this location; the logic file and the files it imports must be valid TypeScript',
  });
}

function isBuildFailure(err: unknown): err is BuildFailure {
  return err instanceof Error && Array.isArray((err as Partial<BuildFailure>).errors);
}
