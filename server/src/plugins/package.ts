/**
 * `.ncp` plugin packages: reading and checking them, and putting their logic
 * where Node.js can import it. (Writing one is `nekoconnect pack`, in `pack/`.)
 *
 * A package is a zip (read with yauzl) holding exactly these entries:
 * - `manifest.json`: the format version, the plugin (name, greeter, version,
 *   logic name), the NekoConnect version range it was built for (`^0.1.0`),
 *   and the size and sha256 of every other entry;
 * - `spec.conf`: the plugin's spec.conf as written;
 * - `logic.mjs`: the logic bundled into one ES module, its dependencies
 *   bundled in, `nekoconnect` left to the server;
 * - `logic.mjs.map`: its source map (sources relative to the plugin folder);
 * - `ops.json`: the ops of its `Op` table (`{ "ops": [{ "name", "op", "doc"? }] }`),
 *   or none with the reason (`{ "ops": [], "reason": "…" }`).
 *
 * Reading is bounded (the file's size, the number of entries, each entry's
 * size as the zip declares it, and yauzl checks that an entry inflates to no
 * more than it declares), so a zip bomb or a huge entry is refused before it
 * costs memory. The hashes detect a damaged package; they do not prove who
 * made it (a package runs code with the server's rights: serve only the
 * packages you trust).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Entry } from 'yauzl';
import { NekoError } from '../errors.js';
import { errorMessage } from '../format.js';
import { parseSpecText, type PluginSpec } from './spec.js';

/** The extension of a package file. */
export const PACKAGE_EXTENSION = '.ncp';

/** The manifest format this server reads and `pack` writes. */
export const PACKAGE_FORMAT = 1;

/** The entries of a package, in the order `pack` writes them. */
export const PACKAGE_ENTRIES = [
  'manifest.json',
  'spec.conf',
  'logic.mjs',
  'logic.mjs.map',
  'ops.json',
] as const;

/** The name of one entry of a package. */
export type PackageEntryName = (typeof PACKAGE_ENTRIES)[number];

/** The entries the manifest lists (all but itself). */
export const HASHED_ENTRIES = PACKAGE_ENTRIES.filter(
  (name): name is Exclude<PackageEntryName, 'manifest.json'> => name !== 'manifest.json',
);

/** The bounds of reading a package. */
export const PACKAGE_LIMITS = {
  /** The package file's size. */
  maxFileBytes: 64 * 1024 * 1024,
  /** Entries in the zip (a package has five). */
  maxEntries: 16,
  /** One entry, uncompressed. */
  maxEntryBytes: 32 * 1024 * 1024,
  /** All entries together, uncompressed. */
  maxTotalBytes: 96 * 1024 * 1024,
} as const;

/** One entry as the manifest lists it. */
export interface ManifestEntry {
  size: number;
  /** Lowercase hex. */
  sha256: string;
}

/** `manifest.json`. */
export interface PackageManifest {
  format: number;
  plugin: { name: string; greeter: string; version: string; logic: string };
  /** The NekoConnect versions the package was built for: `^x.y.z`, `~x.y.z` or `x.y.z`. */
  nekoconnect: string;
  entries: Record<Exclude<PackageEntryName, 'manifest.json'>, ManifestEntry>;
}

/** One op of `ops.json`. */
export interface PackageOp {
  name: string;
  op: number;
  doc?: string;
}

/** `ops.json`: the ops of the plugin's `Op` table, or none and why. */
export type PackageOps = { ops: PackageOp[] } | { ops: []; reason: string };

/** A package read from its file: the manifest checked, the entries not verified yet. */
export interface PluginPackage {
  /** The package file, as given. */
  file: string;
  /** The sha256 of the whole file, lowercase hex. */
  sha256: string;
  /** The file's size in bytes. */
  size: number;
  manifest: PackageManifest;
  entries: ReadonlyMap<string, Buffer>;
}

/** True when `file` is named like a package (`*.ncp`). */
export function isPackageFile(file: string): boolean {
  return file.endsWith(PACKAGE_EXTENSION);
}

/** How an entry of a package is named in messages and locations: `<file>!/spec.conf`. */
export function packageEntryPath(file: string, entry: string): string {
  return `${file}!/${entry}`;
}

/** The sha256 of `data`, lowercase hex. */
export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Reads a package file: opens the zip within {@link PACKAGE_LIMITS}, reads
 * its entries and checks the manifest's shape. Hashes, spec.conf and
 * compatibility are checked by {@link packageSpec} and {@link verifyPackage}.
 *
 * @throws NekoError `NEKO_ERR_PACKAGE_CORRUPT` (not a zip, truncated, an
 *   entry that does not inflate, an entry missing or unknown, a manifest
 *   that is not JSON), `NEKO_ERR_PACKAGE_TOO_LARGE`, `NEKO_ERR_PACKAGE_MANIFEST`
 */
export async function readPackage(file: string): Promise<PluginPackage> {
  let data: Buffer;
  try {
    const info = await stat(file);
    if (info.size > PACKAGE_LIMITS.maxFileBytes) {
      throw tooLarge(file, `the file is ${info.size} bytes, more than ${PACKAGE_LIMITS.maxFileBytes}`);
    }
    data = await readFile(file);
  } catch (err) {
    if (err instanceof NekoError) throw err;
    throw new NekoError('NEKO_ERR_PACKAGE_CORRUPT', `cannot read the package ${file}: ${errorMessage(err)}`, {
      cause: err,
      hint: 'check the path and its permissions',
    });
  }
  const entries = await readEntries(file, data);
  for (const name of PACKAGE_ENTRIES) {
    if (!entries.has(name)) {
      throw corrupt(file, `it has no ${name}`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(entries.get('manifest.json')!.toString('utf8'));
  } catch (err) {
    throw corrupt(file, `its manifest.json is not JSON (${errorMessage(err)})`);
  }
  return { file, sha256: sha256Hex(data), size: data.length, manifest: checkManifest(file, json), entries };
}

/**
 * The package's spec.conf, parsed, once its hash matches the manifest and
 * it names the plugin the manifest names.
 *
 * @throws NekoError `NEKO_ERR_PACKAGE_HASH`, `NEKO_ERR_PACKAGE_MANIFEST`, or a
 *   `NEKO_ERR_SPEC_*` error located in `<file>!/spec.conf`
 */
export function packageSpec(pkg: PluginPackage): PluginSpec {
  verifyEntry(pkg, 'spec.conf');
  const spec = parseSpecText(
    pkg.entries.get('spec.conf')!.toString('utf8'),
    packageEntryPath(pkg.file, 'spec.conf'),
  );
  const { plugin } = pkg.manifest;
  for (const key of ['name', 'greeter', 'version', 'logic'] as const) {
    if (spec[key] !== plugin[key]) {
      throw new NekoError(
        'NEKO_ERR_PACKAGE_MANIFEST',
        `the package ${pkg.file} is inconsistent: its manifest.json says ${key} ${JSON.stringify(plugin[key])}, its spec.conf ${JSON.stringify(spec[key])}`,
        { hint: 'pack the plugin again with `nekoconnect pack`; never edit a package by hand' },
      );
    }
  }
  return spec;
}

/**
 * Checks every entry's size and sha256 against the manifest, and that the
 * package was built for this NekoConnect version.
 *
 * @param running this server's version (default: the `nekoconnect` package's)
 * @throws NekoError `NEKO_ERR_PACKAGE_HASH` naming the entry, or
 *   `NEKO_ERR_PACKAGE_INCOMPATIBLE` naming both versions
 */
export function verifyPackage(pkg: PluginPackage, running: string = nekoconnectVersion()): void {
  verifyEntries(pkg);
  checkCompatible(pkg, running);
}

/**
 * Checks every entry's size and sha256 against the manifest.
 * @throws NekoError `NEKO_ERR_PACKAGE_HASH` naming the first entry that differs
 */
export function verifyEntries(pkg: PluginPackage): void {
  for (const name of HASHED_ENTRIES) verifyEntry(pkg, name);
}

/**
 * The package's `ops.json`, checked: a list of `{ name, op, doc? }` with whole
 * op codes from 0 to 4294967295, or none with a reason.
 *
 * @throws NekoError `NEKO_ERR_PACKAGE_MANIFEST` when it has another shape
 */
export function packageOps(pkg: PluginPackage): PackageOps {
  const where = packageEntryPath(pkg.file, 'ops.json');
  let json: unknown;
  try {
    json = JSON.parse(pkg.entries.get('ops.json')!.toString('utf8'));
  } catch (err) {
    throw badOps(where, `it is not JSON (${errorMessage(err)})`);
  }
  if (!isRecord(json) || !Array.isArray(json.ops)) throw badOps(where, 'it has no "ops" list');
  const ops: PackageOp[] = [];
  const seen = new Set<number>();
  for (const [i, entry] of json.ops.entries()) {
    if (
      !isRecord(entry) ||
      typeof entry.name !== 'string' ||
      typeof entry.op !== 'number' ||
      !Number.isInteger(entry.op) ||
      entry.op < 0 ||
      entry.op > 0xffffffff ||
      (entry.doc !== undefined && typeof entry.doc !== 'string')
    ) {
      throw badOps(where, `ops[${i}] is not { "name": string, "op": 0 to 4294967295, "doc"?: string }`);
    }
    if (seen.has(entry.op)) throw badOps(where, `op ${entry.op} is listed twice`);
    seen.add(entry.op);
    ops.push({ name: entry.name, op: entry.op, ...(entry.doc === undefined ? {} : { doc: entry.doc }) });
  }
  if (ops.length === 0) {
    if (typeof json.reason !== 'string') throw badOps(where, 'an empty "ops" list needs a "reason"');
    return { ops: [], reason: json.reason };
  }
  return { ops };
}

/**
 * Writes the package's logic and its source map into `outDir` (a cache
 * folder): `logic.<hash>.mjs` (its `sourceMappingURL` renamed to match) and
 * `logic.<hash>.mjs.map`, plus a `node_modules/nekoconnect` link to this
 * server's own package, so that the logic's `import … from 'nekoconnect'`
 * resolves to the server that runs it. Files already there (same hash) are
 * kept; each is written whole or not at all.
 *
 * @returns the module file to import
 * @throws NekoError `NEKO_ERR_PLUGIN_TRANSPILE` when the cache folder cannot be written
 */
export async function extractPackageLogic(pkg: PluginPackage, outDir: string): Promise<string> {
  const logic = pkg.entries.get('logic.mjs')!;
  const hash = pkg.manifest.entries['logic.mjs'].sha256.slice(0, 10);
  const base = `${pkg.manifest.plugin.logic}.${hash}.mjs`;
  const moduleFile = path.join(outDir, base);
  const code = logic
    .toString('utf8')
    .replace(/\/\/# sourceMappingURL=[^\n]*\n?$/, `//# sourceMappingURL=${base}.map\n`);
  try {
    await mkdir(outDir, { recursive: true, mode: 0o700 });
    await linkServerPackage(outDir);
    await writeWhole(`${moduleFile}.map`, pkg.entries.get('logic.mjs.map')!);
    await writeWhole(moduleFile, code);
  } catch (err) {
    throw new NekoError(
      'NEKO_ERR_PLUGIN_TRANSPILE',
      `cannot write the logic of the package ${pkg.file} to ${outDir}: ${errorMessage(err)}`,
      {
        cause: err,
        hint: `the server needs write access to its cache dir; give it another with --cache-dir <dir>`,
      },
    );
  }
  return moduleFile;
}

/**
 * Removes the source maps of other builds next to `moduleFile` (`<logic>.<hash>.mjs.map`), once it is
 * imported; the stale modules themselves go with `removeStaleBuilds`. Best effort.
 */
export async function removeStaleMaps(moduleFile: string, logic: string): Promise<void> {
  const dir = path.dirname(moduleFile);
  const keep = `${path.basename(moduleFile)}.map`;
  const escaped = logic.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^${escaped}\\.[0-9a-f]+\\.mjs\\.map$`);
  try {
    const stale = (await readdir(dir)).filter((name) => name !== keep && pattern.test(name));
    await Promise.all(stale.map((name) => rm(path.join(dir, name), { force: true })));
  } catch {
    // Only clutter is left behind.
  }
}

/** The version of the `nekoconnect` package this code belongs to. */
export function nekoconnectVersion(): string {
  return serverPackage().version;
}

/**
 * Whether `version` is in `range`: `^x.y.z` (the same major, or for 0.y the
 * same minor, or for 0.0.z the same patch; not below x.y.z), `~x.y.z` (the
 * same major and minor, not below) or an exact `x.y.z`. Prereleases are
 * compared by their core only. Undefined when `range` is none of these.
 */
export function satisfiesRange(version: string, range: string): boolean | undefined {
  const m = /^([~^]?)(\d+)\.(\d+)\.(\d+)$/.exec(range.trim());
  const v = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (m === null || v === null) return undefined;
  const want = [Number(m[2]), Number(m[3]), Number(m[4])] as const;
  const have = [Number(v[1]), Number(v[2]), Number(v[3])] as const;
  const cmp = compareCore(have, want);
  if (m[1] === '') return cmp === 0;
  if (cmp < 0) return false;
  if (m[1] === '~') return have[0] === want[0] && have[1] === want[1];
  if (want[0] > 0) return have[0] === want[0];
  if (want[1] > 0) return have[0] === 0 && have[1] === want[1];
  return have[0] === 0 && have[1] === 0 && have[2] === want[2];
}

/* ------------------------------------------------------------------------ */

async function readEntries(file: string, data: Buffer): Promise<Map<string, Buffer>> {
  const entries = new Map<string, Buffer>();
  let total = 0;
  try {
    // Loaded on the first package: a server without one never reads a zip.
    const { fromBufferPromise } = await import('yauzl');
    const zip = await fromBufferPromise(data, { validateEntrySizes: true, strictFileNames: true });
    if (zip.entryCount > PACKAGE_LIMITS.maxEntries) {
      throw tooLarge(file, `it has ${zip.entryCount} entries, more than ${PACKAGE_LIMITS.maxEntries}`);
    }
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      if (!(PACKAGE_ENTRIES as readonly string[]).includes(name)) {
        throw corrupt(file, `it holds ${JSON.stringify(name)}, which is no entry of a package`);
      }
      if (entries.has(name)) throw corrupt(file, `it holds ${name} twice`);
      if (entry.uncompressedSize > PACKAGE_LIMITS.maxEntryBytes) {
        throw tooLarge(
          file,
          `${name} is ${entry.uncompressedSize} bytes, more than ${PACKAGE_LIMITS.maxEntryBytes}`,
        );
      }
      total += entry.uncompressedSize;
      if (total > PACKAGE_LIMITS.maxTotalBytes) {
        throw tooLarge(file, `its entries are more than ${PACKAGE_LIMITS.maxTotalBytes} bytes together`);
      }
      entries.set(name, await readEntry(zip, entry));
    }
  } catch (err) {
    if (err instanceof NekoError) throw err;
    throw corrupt(file, `it is not a readable zip (${errorMessage(err)})`, err);
  }
  return entries;
}

async function readEntry(
  zip: { openReadStreamPromise(entry: Entry): Promise<NodeJS.ReadableStream> },
  entry: Entry,
): Promise<Buffer> {
  const stream = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function verifyEntry(pkg: PluginPackage, name: Exclude<PackageEntryName, 'manifest.json'>): void {
  const expected = pkg.manifest.entries[name];
  const data = pkg.entries.get(name)!;
  const actual = sha256Hex(data);
  if (data.length !== expected.size || actual !== expected.sha256) {
    throw new NekoError(
      'NEKO_ERR_PACKAGE_HASH',
      `the package ${pkg.file} is damaged: its ${name} does not match manifest.json ` +
        `(sha256 ${actual.slice(0, 12)}…, ${data.length} bytes; the manifest says ${expected.sha256.slice(0, 12)}…, ${expected.size} bytes)`,
      {
        hint: 'the file was changed after it was packed: copy it again from its source, or pack the plugin again',
      },
    );
  }
}

/**
 * Checks that the package was built for NekoConnect `running`.
 * @throws NekoError `NEKO_ERR_PACKAGE_INCOMPATIBLE` naming both versions
 */
export function checkCompatible(pkg: PluginPackage, running: string = nekoconnectVersion()): void {
  const range = pkg.manifest.nekoconnect;
  const fits = satisfiesRange(running, range);
  if (fits === true) return;
  throw new NekoError(
    'NEKO_ERR_PACKAGE_INCOMPATIBLE',
    fits === undefined
      ? `the package ${pkg.file} asks for NekoConnect ${JSON.stringify(range)}, a range this server does not read (it reads ^x.y.z, ~x.y.z and x.y.z)`
      : `the package ${pkg.file} was built for NekoConnect ${range}; this server is ${running}`,
    {
      hint: `pack the plugin again with NekoConnect ${running} (\`npx nekoconnect pack\` in its project), or serve it with a NekoConnect in ${range}`,
    },
  );
}

/** The manifest's shape, or `NEKO_ERR_PACKAGE_MANIFEST` naming the first thing wrong. */
function checkManifest(file: string, json: unknown): PackageManifest {
  const fail = (what: string): never => {
    throw new NekoError('NEKO_ERR_PACKAGE_MANIFEST', `the manifest.json of ${file} ${what}`, {
      hint: 'pack the plugin again with `nekoconnect pack`; never edit a package by hand',
    });
  };
  if (!isRecord(json)) return fail('is not a JSON object');
  if (json.format !== PACKAGE_FORMAT) {
    return fail(
      typeof json.format === 'number' && json.format > PACKAGE_FORMAT
        ? `has format ${json.format}, newer than this server reads (${PACKAGE_FORMAT}): upgrade NekoConnect`
        : `has no "format": ${PACKAGE_FORMAT}`,
    );
  }
  const plugin = json.plugin;
  if (!isRecord(plugin)) return fail('has no "plugin" object');
  for (const key of ['name', 'greeter', 'version', 'logic'] as const) {
    if (typeof plugin[key] !== 'string' || plugin[key] === '') fail(`has no "plugin.${key}" string`);
  }
  if (typeof json.nekoconnect !== 'string') return fail('has no "nekoconnect" version range');
  const entries = json.entries;
  if (!isRecord(entries)) return fail('has no "entries" object');
  for (const name of Object.keys(entries)) {
    if (!(HASHED_ENTRIES as readonly string[]).includes(name))
      fail(`lists ${JSON.stringify(name)}, no entry of a package`);
  }
  for (const name of HASHED_ENTRIES) {
    const entry = entries[name];
    if (
      !isRecord(entry) ||
      typeof entry.size !== 'number' ||
      typeof entry.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(entry.sha256)
    ) {
      fail(`has no { "size", "sha256" } for ${name}`);
    }
  }
  return json as unknown as PackageManifest;
}

function corrupt(file: string, what: string, cause?: unknown): NekoError {
  return new NekoError('NEKO_ERR_PACKAGE_CORRUPT', `the package ${file} is corrupt: ${what}`, {
    ...(cause === undefined ? {} : { cause }),
    hint: 'the file is truncated or damaged: copy it again from its source, or pack the plugin again',
  });
}

function tooLarge(file: string, what: string): NekoError {
  return new NekoError('NEKO_ERR_PACKAGE_TOO_LARGE', `the package ${file} is refused: ${what}`, {
    hint: 'a package holds one bundled logic file and its source map; keep large assets out of the logic',
  });
}

function badOps(where: string, what: string): NekoError {
  return new NekoError('NEKO_ERR_PACKAGE_MANIFEST', `${where}: ${what}`, {
    hint: 'pack the plugin again with `nekoconnect pack`; never edit a package by hand',
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function compareCore(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) {
    if (a[i]! !== b[i]!) return a[i]! < b[i]! ? -1 : 1;
  }
  return 0;
}

let writeCounter = 0;

/** Writes `file` whole (a rename) unless it is there with the same size. */
async function writeWhole(file: string, data: Buffer | string): Promise<void> {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  const existing = await stat(file).catch(() => undefined);
  if (existing?.isFile() === true && existing.size === size) return;
  const partial = `${file}.${process.pid}-${++writeCounter}.tmp`;
  try {
    await writeFile(partial, data, { mode: 0o600 });
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
}

/** The server's own package folder and version (src/ and dist/ both sit two folders below it). */
let ownPackage: { dir: string; version: string } | undefined;
function serverPackage(): { dir: string; version: string } {
  if (ownPackage === undefined) {
    const dir = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string };
    ownPackage = { dir, version: pkg.version };
  }
  return ownPackage;
}

/** `<outDir>/node_modules/nekoconnect` → this server's package folder. */
async function linkServerPackage(outDir: string): Promise<void> {
  const modules = path.join(outDir, 'node_modules');
  const link = path.join(modules, 'nekoconnect');
  const target = serverPackage().dir;
  if ((await readlink(link).catch(() => undefined)) === target) return;
  await mkdir(modules, { recursive: true, mode: 0o700 });
  await rm(link, { force: true, recursive: false }).catch(() => undefined);
  try {
    await symlink(target, link, process.platform === 'win32' ? 'junction' : 'dir');
  } catch (err) {
    // Another load made it meanwhile.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}
