/**
 * Bundling for import: what the plugin loader does to a TypeScript logic file
 * and the config loader to `nekoconnect.config.ts`.
 *
 * The source is bundled with esbuild (so it may import sibling `.ts` files)
 * and written to a cache folder outside the source's folder, so that plugin
 * code may be read-only: the plugin loader writes to `<cache dir>/<folder
 * key>/`, the config loader to the system's temporary folder (see
 * {@link privateTempDir}). Packages are not bundled: each bare import is
 * resolved at bundle time from the importing source file's folder, as Node.js
 * would resolve it there (its `node_modules` and those of its parents, the
 * package's `exports` with the `import` condition), and the bundle imports
 * the resolved file by its absolute URL. Node.js built-ins stay as written.
 *
 * `import.meta.url`, `import.meta.dirname` and `import.meta.filename` name
 * each source file, not the bundle, so that a plugin finds the files beside
 * its source (`new URL('./words.txt', import.meta.url)`) wherever the
 * bundle is.
 *
 * Each build is named by a hash of its content, written whole or not at all
 * (a rename), and imported under a fresh `?v=` query so that a reload gets
 * fresh code instead of the ESM cache.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import type { BuildFailure, Loader, Message, Plugin } from 'esbuild';
import { NekoError } from '../errors.js';
import { isFile } from '../files.js';
import { errorMessage } from '../format.js';

/** Options of {@link bundleModule}. */
export interface BundleOptions {
  /** The source file to bundle. */
  entry: string;
  /**
   * The folder the source belongs to (a plugin folder, the config file's
   * folder). esbuild runs there, so error locations are joined onto it.
   */
  dir: string;
  /** The folder that receives the bundle; created (private to this user) when missing. */
  outDir: string;
  /** The code of the errors thrown. */
  code: 'NEKO_ERR_PLUGIN_TRANSPILE' | 'NEKO_ERR_CONFIG_LOAD';
  /** The hint of an error that points into the source. */
  syntaxHint: string;
  /** The hint of an error writing the bundle. Default: asks for write access to `outDir`. */
  writeHint?: string;
}

/** Bumped for every import so that each load evaluates the module afresh. */
let importCounter = 0;

/** Makes the names of half-written build files unique within the process. */
let tempCounter = 0;

/** A TypeScript source file, which Node.js does not import. */
const TYPESCRIPT_FILE = /\.[cm]?tsx?$/;

/** Marks the resolutions {@link nodeResolution} asks esbuild for, so it does not answer itself. */
const RESOLVING = Symbol('nekoconnect: resolving');

/**
 * Bundles `entry` and writes it to
 * `<outDir>/<entry name>.<hash of the output>.mjs`; returns that path.
 *
 * @throws NekoError with `options.code`: the source does not compile, or a
 *   package it imports cannot be resolved (located at esbuild's first
 *   error), or the bundle cannot be written.
 */
export async function bundleModule(options: BundleOptions): Promise<string> {
  const { entry, dir } = options;
  const absDir = path.resolve(dir);
  const outDir = path.resolve(options.outDir);
  let code: string;
  // The characters sourceImportMeta() put before each file's first line, to take off error columns.
  const shifts = new Map<string, number>();
  try {
    const result = await build({
      entryPoints: [path.resolve(entry)],
      absWorkingDir: absDir,
      // With write: false nothing is written here; it sets where the inline
      // source map's relative paths start from.
      outdir: outDir,
      bundle: true,
      plugins: [nodeResolution(), sourceImportMeta(shifts)],
      define: IMPORT_META_DEFINES,
      // Node.js has no `module` condition, which esbuild adds by default.
      conditions: [],
      format: 'esm',
      platform: 'node',
      target: 'node20',
      write: false,
      sourcemap: 'inline',
      logLevel: 'silent',
    });
    const output = result.outputFiles[0];
    if (output === undefined) throw new Error('esbuild produced no output');
    code = output.text;
  } catch (err) {
    throw bundleError(err, options, shifts);
  }

  const hash = createHash('sha256').update(code).digest('hex').slice(0, 10);
  const outFile = path.join(outDir, `${buildName(entry)}.${hash}.mjs`);
  try {
    // The name is a hash of the content: an existing file already holds this
    // build. Not rewriting it keeps watchers quiet; the rename keeps a crash
    // or a concurrent load from ever seeing half a file.
    if (!(await isFile(outFile))) {
      await mkdir(outDir, { recursive: true, mode: 0o700 });
      const partial = `${outFile}.${process.pid}-${++tempCounter}.tmp`;
      try {
        await writeFile(partial, code, { mode: 0o600 });
        await rename(partial, outFile);
      } finally {
        await rm(partial, { force: true });
      }
    }
  } catch (err) {
    throw new NekoError(
      options.code,
      `cannot write the transpiled ${entry} to ${outFile}: ${errorMessage(err)}`,
      { cause: err, hint: options.writeHint ?? `the server needs write access to ${outDir}` },
    );
  }
  return outFile;
}

/** The name a source file's bundles start with: its file name without the extension. */
export function buildName(entry: string): string {
  return path.basename(entry, path.extname(entry));
}

/**
 * The folder of a cache that holds the bundles of the sources of `dir`: one
 * per folder, named by its base name and a short hash of its absolute path,
 * so that two folders of the same name (two `chat` plugins) never share one.
 */
export function cacheFolderOf(cacheDir: string, dir: string): string {
  const abs = path.resolve(dir);
  const key = createHash('sha256').update(abs).digest('hex').slice(0, 8);
  const name = path.basename(abs).replace(/[^\w.-]/g, '_') || 'root';
  return path.join(path.resolve(cacheDir), `${name}-${key}`);
}

/**
 * This user's folder in the system's temporary folder,
 * `<os.tmpdir()>/nekoconnect-<uid>`: where config bundles go, and plugin
 * bundles when no cache dir is given. {@link ensurePrivateTempDir} creates it.
 */
export function privateTempDir(): string {
  const uid = typeof process.getuid === 'function' ? String(process.getuid()) : os.userInfo().username;
  return path.join(os.tmpdir(), `nekoconnect-${uid}`);
}

/**
 * Creates {@link privateTempDir} (mode 0700) and checks that it is this
 * user's own folder: in a temporary folder shared by every user, someone
 * else could have made it first, to have the server import code they wrote.
 *
 * @returns the folder
 * @throws NekoError with `code` when it is a link, not a folder, another
 *   user's, or open to other users
 */
export async function ensurePrivateTempDir(code: BundleOptions['code']): Promise<string> {
  const dir = privateTempDir();
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  let problem: string | undefined;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const info = await lstat(dir);
    if (!info.isDirectory()) problem = 'it is not a folder (a link or a file is in its place)';
    else if (uid !== undefined && info.uid !== uid) {
      problem = `it belongs to another user (uid ${info.uid}), not to this one (uid ${uid})`;
    } else if (uid !== undefined && (info.mode & 0o077) !== 0) {
      problem = `other users may use it (mode ${(info.mode & 0o777).toString(8)})`;
    }
  } catch (err) {
    throw new NekoError(code, `cannot create the folder ${dir} for bundles: ${errorMessage(err)}`, {
      cause: err,
      hint: 'check the permissions of the temporary folder (TMPDIR)',
    });
  }
  if (problem !== undefined) {
    throw new NekoError(code, `the folder ${dir} cannot hold this user's bundles safely: ${problem}`, {
      hint: `remove ${dir} (the server makes it again, private to its user), or point TMPDIR elsewhere`,
    });
  }
  return dir;
}

/**
 * Removes the other `<name>.<hash>.mjs` builds next to `current`. Best
 * effort: a stale build left behind is only clutter.
 */
export async function removeStaleBuilds(current: string, name: string): Promise<void> {
  const buildDir = path.dirname(current);
  const keep = path.basename(current);
  const pattern = new RegExp(`^${escapeRegExp(name)}\\.[0-9a-f]+\\.mjs$`);
  try {
    const stale = (await readdir(buildDir)).filter((file) => file !== keep && pattern.test(file));
    await Promise.all(stale.map((file) => rm(path.join(buildDir, file), { force: true })));
  } catch {
    // Ignored on purpose: the new build is written and will be imported.
  }
}

/** Imports `file` as a fresh module instance. Whatever the module throws is passed on. */
export async function importFresh(file: string): Promise<object> {
  const url = `${pathToFileURL(path.resolve(file)).href}?v=${++importCounter}`;
  return (await import(url)) as object;
}

/**
 * The esbuild plugin that keeps packages out of the bundle yet importable
 * from wherever the bundle is: a bare import (`lodash`, `@scope/pkg/sub`) is
 * resolved by esbuild's resolver from the importing file's folder (as Node.js
 * would: `node_modules` up the tree, `exports` with the `import` or `require`
 * condition, symlinks followed) and becomes an import of the resolved file's
 * `file:` URL. Node.js built-ins and URLs stay as written; `#` imports (the
 * package's own `imports` map) are left to esbuild, and a name that resolves
 * to a TypeScript file (a tsconfig `paths` alias) is bundled.
 *
 * A static import that cannot be resolved fails the build at the import; a
 * dynamic `import()` or `require()` of a missing package stays as written,
 * so that code that tries an optional package still loads.
 */
function nodeResolution(): Plugin {
  return {
    name: 'nekoconnect-node-resolution',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^[^./#]/ }, async (args) => {
        if (args.pluginData === RESOLVING || path.isAbsolute(args.path)) return undefined;
        if (isBuiltin(args.path) || /^[a-z][a-z\d+.-]+:/i.test(args.path)) {
          return { path: args.path, external: true };
        }
        const resolved = await pluginBuild.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: RESOLVING,
        });
        if (resolved.errors.length > 0 || resolved.path === '') {
          if (args.kind === 'dynamic-import' || args.kind === 'require-call') {
            return { path: args.path, external: true };
          }
          return {
            errors: [
              {
                text:
                  `cannot resolve the import "${args.path}" from ${args.importer}: ` +
                  `no such package in the node_modules folders from ${args.resolveDir} up`,
              },
            ],
          };
        }
        if (resolved.external) return { path: resolved.path, external: true };
        // A TypeScript file (a tsconfig `paths` alias of the plugin's own sources) is bundled:
        // Node.js could not import it.
        if (TYPESCRIPT_FILE.test(resolved.path)) return { path: resolved.path };
        return { path: pathToFileURL(resolved.path).href, external: true };
      });
    },
  };
}

/** Each `import.meta` field a source may read, and the name of the constant that holds it for one file. */
const IMPORT_META_FIELDS = {
  url: '__nekoImportMetaUrl',
  dirname: '__nekoImportMetaDirname',
  filename: '__nekoImportMetaFilename',
} as const;

const IMPORT_META_DEFINES = Object.fromEntries(
  Object.entries(IMPORT_META_FIELDS).map(([field, name]) => [`import.meta.${field}`, name]),
);

const LOADERS: Readonly<Record<string, Loader>> = {
  '.ts': 'ts',
  '.mts': 'ts',
  '.cts': 'ts',
  '.tsx': 'tsx',
  '.js': 'js',
  '.mjs': 'js',
  '.cjs': 'js',
  '.jsx': 'jsx',
};

/**
 * The esbuild plugin that gives each source file its own `import.meta.url`,
 * `dirname` and `filename`: `define` turns them into constants, which this
 * declares at the start of the file's first line (so no line moves and
 * stack traces keep their line numbers); the bundle drops the unused ones.
 *
 * @param shifts receives how many characters went before each file's first line
 */
function sourceImportMeta(shifts: Map<string, number>): Plugin {
  return {
    name: 'nekoconnect-import-meta',
    setup(pluginBuild) {
      pluginBuild.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        const loader = LOADERS[path.extname(args.path)];
        if (loader === undefined || args.namespace !== 'file') return undefined;
        const source = await readFile(args.path, 'utf8');
        // Only files that read import.meta get the constants (and the first line's columns moved);
        // a hashbang must stay first, so such a file keeps the bundle's import.meta.
        if (!source.includes('import.meta') || source.startsWith('#!')) return { contents: source, loader };
        const values = {
          url: pathToFileURL(args.path).href,
          dirname: path.dirname(args.path),
          filename: args.path,
        };
        const declarations = Object.entries(IMPORT_META_FIELDS)
          .map(([field, name]) => `const ${name} = ${JSON.stringify(values[field as keyof typeof values])};`)
          .join(' ');
        shifts.set(args.path, declarations.length + 1);
        return { contents: `${declarations} ${source}`, loader };
      });
    },
  };
}

function bundleError(err: unknown, options: BundleOptions, shifts: Map<string, number>): NekoError {
  const { entry, dir, code } = options;
  const errors: Message[] = isBuildFailure(err) ? err.errors : [];
  const first = errors[0];
  if (first === undefined) {
    return new NekoError(code, `cannot transpile ${entry}: ${errorMessage(err)}`, {
      cause: err,
      hint: 'see the cause for details',
    });
  }
  const more =
    errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
  const unresolved = first.pluginName === 'nekoconnect-node-resolution';
  return new NekoError(code, `cannot transpile ${entry}: ${first.text}${more}`, {
    cause: err,
    // esbuild's file is relative to absWorkingDir (dir); its column counts from 0.
    location:
      first.location === null || first.location === undefined
        ? undefined
        : sourceLocation(path.join(dir, first.location.file), first.location, shifts),
    hint: unresolved
      ? `install the package where the source can import it (npm install in ${dir} or a folder above it), or fix the import`
      : options.syntaxHint,
  });
}

/** An esbuild location (column from 0) in the source as written: without what sourceImportMeta() added to line 1. */
function sourceLocation(
  file: string,
  { line, column }: { line: number; column: number },
  shifts: Map<string, number>,
): { file: string; line: number; column: number } {
  const shift = line === 1 ? (shifts.get(path.resolve(file)) ?? 0) : 0;
  return { file, line, column: Math.max(0, column - shift) + 1 };
}

function isBuildFailure(err: unknown): err is BuildFailure {
  return err instanceof Error && Array.isArray((err as Partial<BuildFailure>).errors);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
