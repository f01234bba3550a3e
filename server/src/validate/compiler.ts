/**
 * The TypeScript program behind the type checks: the compiler options a
 * plugin is checked with, and a compiler host that keeps parsed files
 * between runs so that a warm validator re-checks one edited file in tens of
 * milliseconds.
 *
 * The host parses the way `tsc` does (JSDoc only where it carries types,
 * no parent pointers until binding), which is what keeps a cold
 * `nekoconnect validate` as fast as `tsc --noEmit`. The standard library
 * files come from ts-morph's bundled copy, so no TypeScript install is
 * needed next to the plugin.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ts } from 'ts-morph';
import { tsMorph, type TsApi } from './typescript.js';

/** How one plugin is compiled: its tsconfig.json's options, or the defaults. */
export interface CompilerSetup {
  /** Plugins with the same key share one program; equal keys mean equal options. */
  key: string;
  options: ts.CompilerOptions;
  /** The plugin's tsconfig.json, when it has one. */
  tsconfig: string | undefined;
  /** What TypeScript said about the tsconfig.json (unknown options, bad JSON…). */
  configDiagnostics: readonly ts.Diagnostic[];
}

/**
 * The compiler options for the plugin in `pluginDir`: those of its own
 * `tsconfig.json` when it has one (with `allowJs` on, so a `.js` logic file
 * can be read), else the defaults of a generated plugin: strict, ES2023,
 * `module`/`moduleResolution` `nodenext`, `skipLibCheck`, and Node's types
 * when `@types/node` is installed where the plugin can see it.
 */
export function compilerSetup(tsApi: TsApi, pluginDir: string): CompilerSetup {
  const tsconfig = path.join(pluginDir, 'tsconfig.json');
  const stamp = stampOf(tsconfig);
  if (stamp !== undefined) return tsconfigSetup(tsApi, tsconfig, stamp);

  const typeRoots = ancestorDirs(pluginDir)
    .map((dir) => path.join(dir, 'node_modules', '@types'))
    .filter((dir) => existsSync(dir));
  const hasNodeTypes = typeRoots.some((dir) => existsSync(path.join(dir, 'node', 'package.json')));
  return {
    // The key decides the options: plugins with equal keys share a program.
    key: `default:${hasNodeTypes ? 'node' : 'none'}:${typeRoots.join(path.delimiter)}`,
    tsconfig: undefined,
    configDiagnostics: [],
    options: {
      target: tsApi.ScriptTarget.ES2023,
      lib: ['lib.es2023.d.ts'],
      module: tsApi.ModuleKind.NodeNext,
      moduleResolution: tsApi.ModuleResolutionKind.NodeNext,
      strict: true,
      skipLibCheck: true,
      noEmit: true,
      allowJs: true,
      checkJs: false,
      typeRoots,
      types: hasNodeTypes ? ['node'] : [],
    },
  };
}

/** TypeScript's "no inputs were found": the validator gives the inputs itself. */
const NO_INPUTS = 18003;

function tsconfigSetup(tsApi: TsApi, tsconfig: string, stamp: string): CompilerSetup {
  const diagnostics: ts.Diagnostic[] = [];
  const parsed = tsApi.getParsedCommandLineOfConfigFile(
    tsconfig,
    { allowJs: true },
    {
      ...tsApi.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => diagnostics.push(d),
    },
  );
  diagnostics.push(...(parsed?.errors ?? []).filter((d) => d.code !== NO_INPUTS));
  return {
    // An edited tsconfig.json gets a new key, hence a new program.
    key: `tsconfig:${tsconfig}:${stamp}`,
    tsconfig,
    configDiagnostics: diagnostics,
    options: { ...(parsed?.options ?? { allowJs: true }), noEmit: true },
  };
}

function ancestorDirs(dir: string): string[] {
  const dirs: string[] = [];
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    dirs.push(current);
    if (path.dirname(current) === current) return dirs;
  }
}

/** A path as TypeScript writes it: absolute, with `/`. */
export function toTsPath(file: string): string {
  return path.resolve(file).split(path.sep).join('/');
}

/* ------------------------------------------------------------------------ */

/** ts-morph keeps the standard library's `.d.ts` files in memory, under this folder. */
const BUNDLED_LIB_DIR = '/node_modules/typescript/lib';

interface LibFiles {
  dir: string;
  read(file: string): string | undefined;
}

let libFiles: LibFiles | undefined;

/** The standard library files, read through a ts-morph project (which serves them from memory). */
function bundledLibFiles(): LibFiles {
  if (libFiles !== undefined) return libFiles;
  const host = new (tsMorph().Project)({ skipAddingFilesFromTsConfig: true }).getModuleResolutionHost();
  if (!host.fileExists(`${BUNDLED_LIB_DIR}/lib.es5.d.ts`)) {
    throw new Error(`internal: ts-morph's bundled lib files are not under ${BUNDLED_LIB_DIR}`);
  }
  libFiles = { dir: BUNDLED_LIB_DIR, read: (file) => host.readFile(file) };
  return libFiles;
}

interface CachedFile {
  sourceFile: ts.SourceFile;
  /** How it was parsed; a request with other settings parses again. */
  parseKey: string;
  /** mtime and size when read; undefined for files that never change (lib, virtual). */
  stamp: string | undefined;
}

/**
 * Parsed source files, shared by the programs of one validator. A file is
 * parsed once and handed to every later program until it changes, which is
 * what lets TypeScript reuse the old program's structure and bindings.
 */
export class SourceFileCache {
  readonly #files = new Map<string, CachedFile>();
  readonly #virtual = new Map<string, string>();
  /** Bumped when a file appears or disappears: module resolutions must be redone. */
  #generation = 0;

  get generation(): number {
    return this.#generation;
  }

  /** Makes the next program resolve every import again (a package.json or tsconfig.json changed). */
  invalidateResolutions(): void {
    this.#generation++;
  }

  /** Serves `text` as the content of `file`, which need not exist on disk. */
  setVirtual(file: string, text: string): void {
    const key = toTsPath(file);
    if (this.#virtual.get(key) === text) return;
    this.#virtual.set(key, text);
    this.#files.delete(key);
  }

  isVirtual(file: string): boolean {
    return this.#virtual.has(toTsPath(file));
  }

  /** Forgets `file` so it is read again. A file never seen (created since) or gone bumps {@link generation}. */
  forget(file: string): void {
    const key = toTsPath(file);
    const known = this.#files.delete(key);
    if (!known || !existsSync(file)) this.#generation++;
  }

  /** Forgets the files under `dir` (outside `node_modules`) whose mtime or size changed since they were read. */
  refresh(dir: string): void {
    const prefix = `${toTsPath(dir)}/`;
    for (const [key, cached] of this.#files) {
      if (cached.stamp === undefined || !key.startsWith(prefix)) continue;
      if (key.slice(prefix.length).split('/').includes('node_modules')) continue;
      const now = stampOf(key);
      if (now === cached.stamp) continue;
      this.#files.delete(key);
      if (now === undefined) this.#generation++;
    }
  }

  readFile(file: string): string | undefined {
    const virtual = this.#virtual.get(file);
    if (virtual !== undefined) return virtual;
    const lib = bundledLibFiles();
    if (file.startsWith(`${lib.dir}/`)) return lib.read(file);
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  }

  fileExists(file: string): boolean {
    if (this.#virtual.has(file)) return true;
    const lib = bundledLibFiles();
    if (file.startsWith(`${lib.dir}/`)) return lib.read(file) !== undefined;
    return statSync(file, { throwIfNoEntry: false })?.isFile() ?? false;
  }

  getSourceFile(
    tsApi: TsApi,
    file: string,
    options: ts.CreateSourceFileOptions,
    parseKey: string,
  ): ts.SourceFile | undefined {
    const cached = this.#files.get(file);
    if (cached !== undefined && cached.parseKey === parseKey) return cached.sourceFile;
    const fixed = this.#virtual.has(file) || file.startsWith(`${bundledLibFiles().dir}/`);
    // The stamp is taken before the read: a change in between is seen next time.
    const stamp = fixed ? undefined : stampOf(file);
    const text = this.readFile(file);
    if (text === undefined) return undefined;
    const sourceFile = tsApi.createSourceFile(file, text, options, false);
    this.#files.set(file, { sourceFile, parseKey, stamp });
    return sourceFile;
  }

  /** `file` as a program last parsed it, while it has not changed since; undefined otherwise. */
  parsed(file: string): ts.SourceFile | undefined {
    const cached = this.#files.get(toTsPath(file));
    if (cached === undefined) return undefined;
    if (cached.stamp !== undefined && cached.stamp !== stampOf(file)) return undefined;
    return cached.sourceFile;
  }

  clear(): void {
    this.#files.clear();
    this.#virtual.clear();
  }
}

/** The mtime and size of `file`, as a string that changes when it does; undefined when it does not exist. */
export function stampOf(file: string): string | undefined {
  const s = statSync(file, { throwIfNoEntry: false });
  return s === undefined ? undefined : `${s.mtimeMs}:${s.size}`;
}

/**
 * The programs of one {@link CompilerSetup}: each new one is built from the
 * last, so unchanged files keep their parse and their bindings.
 */
export class ProgramBuilder {
  readonly #tsApi: TsApi;
  readonly #files: SourceFileCache;
  readonly #host: ts.CompilerHost;
  #program: ts.Program | undefined;
  #generation = -1;

  constructor(
    tsApi: TsApi,
    readonly setup: CompilerSetup,
    files: SourceFileCache,
  ) {
    this.#tsApi = tsApi;
    this.#files = files;
    const lib = bundledLibFiles();
    const host = tsApi.createCompilerHost(setup.options);
    // Files parse the way tsc parses them: JSDoc only where it can carry types.
    host.jsDocParsingMode = tsApi.JSDocParsingMode.ParseForTypeErrors;
    host.getDefaultLibLocation = () => lib.dir;
    host.getDefaultLibFileName = (options) => `${lib.dir}/${tsApi.getDefaultLibFileName(options)}`;
    host.readFile = (file) => files.readFile(file);
    host.fileExists = (file) => files.fileExists(file);
    const directoryExists = host.directoryExists?.bind(host);
    host.directoryExists = (dir) => dir === lib.dir || (directoryExists?.(dir) ?? true);
    const moduleDetection = String(setup.options.moduleDetection ?? '');
    host.getSourceFile = (file, languageVersionOrOptions) => {
      const options: ts.CreateSourceFileOptions =
        typeof languageVersionOrOptions === 'object'
          ? languageVersionOrOptions
          : { languageVersion: languageVersionOrOptions };
      const parseKey = [
        options.languageVersion,
        options.impliedNodeFormat ?? '',
        options.jsDocParsingMode ?? '',
        moduleDetection,
      ].join(':');
      return files.getSourceFile(tsApi, file, options, parseKey);
    };
    this.#host = host;
  }

  /** A program of `rootNames`, reusing the previous one where nothing changed. */
  program(rootNames: readonly string[]): ts.Program {
    const oldProgram = this.#generation === this.#files.generation ? this.#program : undefined;
    this.#generation = this.#files.generation;
    this.#program = this.#tsApi.createProgram({
      rootNames: rootNames.map(toTsPath),
      options: this.setup.options,
      host: this.#host,
      ...(oldProgram === undefined ? {} : { oldProgram }),
    });
    return this.#program;
  }

  dispose(): void {
    this.#program = undefined;
  }
}
