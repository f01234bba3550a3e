/**
 * A V8 code cache for ts-morph and the TypeScript it bundles (12 MB of
 * JavaScript): without it, every `nekoconnect validate` spends about half a
 * second compiling them before any checking starts.
 *
 * On Node.js 22.1 and later this is Node's own compile cache
 * (`module.enableCompileCache()`, as `tsc` itself uses). On Node.js 20 the
 * same is done by hand, for ts-morph's files only: they are compiled with
 * the cached code of a previous run, and after a first validation, which
 * compiled the functions it needed, the code is written for the next run.
 *
 * The cache lives in the system's temporary folder, one folder per user and
 * Node.js version. `NODE_DISABLE_COMPILE_CACHE=1` turns it off.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';

type CompileFn = (this: Module, content: string, filename: string) => unknown;

/** A script compiled without usable cached code, whose code is written by {@link flushCodeCache}. */
const pending: { script: vm.Script; file: string }[] = [];

/**
 * Requires `id` (a CommonJS package) through `requireFn`, with a code cache
 * for every file under a folder named `ts-morph` or `@ts-morph`.
 */
export function requireWithCodeCache(requireFn: NodeJS.Require, id: string): unknown {
  if (process.env['NODE_DISABLE_COMPILE_CACHE'] !== undefined) return requireFn(id);
  const enableCompileCache = (Module as { enableCompileCache?: () => unknown }).enableCompileCache;
  if (typeof enableCompileCache === 'function') {
    enableCompileCache();
    return requireFn(id);
  }
  const dir = cacheDir();
  if (dir === undefined) return requireFn(id);

  const proto = Module.prototype as unknown as { _compile: CompileFn };
  const original = proto._compile;
  proto._compile = function (content, filename) {
    const parts = filename.split(path.sep);
    const covered = (parts.includes('ts-morph') || parts.includes('@ts-morph')) && !content.startsWith('#!');
    return covered ? compileCached(this, content, filename, dir) : original.call(this, content, filename);
  };
  try {
    return requireFn(id);
  } finally {
    proto._compile = original;
  }
}

/**
 * Writes the code of the scripts that had no usable cache, including the
 * functions compiled since they were loaded. Call it once real work has run;
 * later calls do nothing. Never throws: a cache that cannot be written is
 * only slower.
 */
export function flushCodeCache(): void {
  for (const { script, file } of pending.splice(0)) {
    try {
      const temp = `${file}.${process.pid}.tmp`;
      writeFileSync(temp, script.createCachedData(), { mode: 0o600 });
      renameSync(temp, file);
      // Entries of older versions of the same source file are of no more use.
      const dir = path.dirname(file);
      const source = `${path.basename(file).split('-')[0]}-`;
      for (const name of readdirSync(dir)) {
        if (name.startsWith(source) && name.endsWith('.bin') && name !== path.basename(file)) {
          rmSync(path.join(dir, name), { force: true });
        }
      }
    } catch {
      // Read-only or full disk: the next run compiles again.
    }
  }
}

function compileCached(module: Module, content: string, filename: string, dir: string): unknown {
  // One entry per source file; its name changes with the file (a reinstalled package).
  const stat = statSync(filename);
  const file = path.join(dir, `${digest(filename)}-${digest(`${stat.size}:${stat.mtimeMs}`)}.bin`);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(file);
  } catch {
    cachedData = undefined;
  }
  // The same wrapper as Node's, on the same line, so positions in stack traces hold.
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${content}\n});`;
  const script = new vm.Script(wrapped, { filename, ...(cachedData === undefined ? {} : { cachedData }) });
  if (cachedData === undefined || script.cachedDataRejected === true) pending.push({ script, file });
  const fn = script.runInThisContext() as (...args: unknown[]) => unknown;
  const requireFn = createRequire(filename);
  return fn.call(module.exports, module.exports, requireFn, module, filename, path.dirname(filename));
}

/** The cache folder, created private to this user; undefined when it cannot be used safely. */
function cacheDir(): string | undefined {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const dir = path.join(
    os.tmpdir(),
    `nekoconnect-compile-cache-${uid ?? 'user'}`,
    `${process.version}-${process.arch}`,
  );
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Someone else's folder could hold code planted for us: do without.
    if (uid !== undefined && statSync(path.dirname(dir)).uid !== uid) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
