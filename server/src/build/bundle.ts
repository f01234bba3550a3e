/**
 * Bundling for import: what the plugin loader does to a TypeScript logic file
 * and the config loader to `nekoconnect.config.ts`.
 *
 * The source is bundled with esbuild (so it may import sibling `.ts` files;
 * packages stay external) and written to `<dir>/.nekoconnect/build/`, where
 * bare imports resolve from `dir`'s `node_modules` as they would from the
 * source. Each build is named by a hash of its content, and imported under a
 * fresh `?v=` query so that a reload gets fresh code instead of the ESM cache.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import type { BuildFailure, Message } from 'esbuild';
import { NekoError } from '../errors.js';
import { isFile } from '../files.js';
import { errorMessage } from '../format.js';

/** Where bundles go, inside the folder they are built for. */
export const BUILD_DIR = path.join('.nekoconnect', 'build');

/** Options of {@link bundleModule}. */
export interface BundleOptions {
  /** The source file to bundle. */
  entry: string;
  /**
   * The folder whose `.nekoconnect/build/` receives the bundle (a plugin
   * folder, the config file's folder). esbuild runs there, so error
   * locations are joined onto it.
   */
  dir: string;
  /** The code of the errors thrown. */
  code: 'NEKO_ERR_PLUGIN_TRANSPILE' | 'NEKO_ERR_CONFIG_LOAD';
  /** The hint of an error that points into the source. */
  syntaxHint: string;
}

/** Bumped for every import so that each load evaluates the module afresh. */
let importCounter = 0;

/** Makes the names of half-written build files unique within the process. */
let tempCounter = 0;

/**
 * Bundles `entry` and writes it to
 * `<dir>/.nekoconnect/build/<entry name>.<hash of the output>.mjs`; returns that path.
 *
 * @throws NekoError with `options.code`: the source does not compile (located
 *   at esbuild's first error), or the bundle cannot be written.
 */
export async function bundleModule(options: BundleOptions): Promise<string> {
  const { entry, dir } = options;
  const absDir = path.resolve(dir);
  const buildDir = path.join(absDir, BUILD_DIR);
  let code: string;
  try {
    const result = await build({
      entryPoints: [path.resolve(entry)],
      absWorkingDir: absDir,
      // With write: false nothing is written here; it sets where the inline
      // source map's relative paths start from.
      outdir: buildDir,
      bundle: true,
      packages: 'external',
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
    throw bundleError(err, options);
  }

  const hash = createHash('sha256').update(code).digest('hex').slice(0, 10);
  const outFile = path.join(buildDir, `${buildName(entry)}.${hash}.mjs`);
  try {
    // The name is a hash of the content: an existing file already holds this
    // build. Not rewriting it keeps watchers quiet; the rename keeps a crash
    // or a concurrent load from ever seeing half a file.
    if (!(await isFile(outFile))) {
      await mkdir(buildDir, { recursive: true });
      const partial = `${outFile}.${process.pid}-${++tempCounter}.tmp`;
      try {
        await writeFile(partial, code);
        await rename(partial, outFile);
      } finally {
        await rm(partial, { force: true });
      }
    }
  } catch (err) {
    throw new NekoError(
      options.code,
      `cannot write the transpiled ${entry} to ${outFile}: ${errorMessage(err)}`,
      { cause: err, hint: `the server needs write access to ${path.join(dir, BUILD_DIR)}` },
    );
  }
  return outFile;
}

/** The name a source file's bundles start with: its file name without the extension. */
export function buildName(entry: string): string {
  return path.basename(entry, path.extname(entry));
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

function bundleError(err: unknown, options: BundleOptions): NekoError {
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
  return new NekoError(code, `cannot transpile ${entry}: ${first.text}${more}`, {
    cause: err,
    // esbuild's file is relative to absWorkingDir (dir); its column counts from 0.
    location:
      first.location === null || first.location === undefined
        ? undefined
        : {
            file: path.join(dir, first.location.file),
            line: first.location.line,
            column: first.location.column + 1,
          },
    hint: options.syntaxHint,
  });
}

function isBuildFailure(err: unknown): err is BuildFailure {
  return err instanceof Error && Array.isArray((err as Partial<BuildFailure>).errors);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
