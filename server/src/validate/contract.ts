/**
 * The contract a plugin is checked against: the `Context`, `PluginContext`
 * and `SessionContext` types exported by the `nekoconnect` package that the
 * plugin itself sees (Node resolution from the plugin folder), read through
 * a small virtual module compiled with the plugin.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ts } from 'ts-morph';
import type { TsApi } from './typescript.js';

/** The types the checks compare a plugin's `Logic` with. */
export interface ContractTypes {
  /** What `recv` receives; undefined when the plugin's `nekoconnect` does not export it. */
  context: ts.Type | undefined;
  /** What `onLoad`/`onUnload` receive; undefined when not exported. */
  pluginContext: ts.Type | undefined;
  /** What `onJoin`/`onLeave` receive; undefined when not exported. */
  sessionContext: ts.Type | undefined;
  /** The second argument of `onSessionGone`; undefined when not exported (a `nekoconnect` from before clusters). */
  sessionGone: ts.Type | undefined;
  /** `new () => unknown`: what the loader needs of `Logic`. */
  noArgConstructor: ts.Type;
  /** `void | PromiseLike<unknown>`: what a handler may return. */
  handlerReturn: ts.Type;
  /** Names among Context, PluginContext, SessionContext that the package does not export. */
  missing: string[];
  /** The declaration file the types were read from, when it was found. */
  declarations: string | undefined;
}

/** The name of the virtual module, placed in the plugin folder (never written to disk). */
export const CONTRACT_FILE_NAME = '__nekoconnect_contract__.mts';

/** The exported types the contract needs. */
const CONTRACT_EXPORTS = ['Context', 'PluginContext', 'SessionContext'] as const;

/** Exported types of newer versions only: without them, the hooks that take them are left unchecked. */
const NEWER_EXPORTS = ['SessionGone'] as const;

/**
 * The declaration file of the `nekoconnect` package the plugin in
 * `pluginDir` imports: `node_modules/nekoconnect` in the plugin folder or
 * the nearest folder above it that has one, its `exports['.'].types` (or
 * `types`). When the plugin sees no such package, the validator's own
 * declarations stand in.
 */
export function resolveContractModule(pluginDir: string): string {
  for (let dir = path.resolve(pluginDir); ; dir = path.dirname(dir)) {
    const pkgDir = path.join(dir, 'node_modules', 'nekoconnect');
    const types = typesOfPackage(pkgDir);
    if (types !== undefined) return types;
    if (path.dirname(dir) === dir) break;
  }
  return ownDeclarations();
}

function typesOfPackage(pkgDir: string): string | undefined {
  let pkg: unknown;
  try {
    pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  } catch {
    return undefined;
  }
  const record = (value: unknown): Record<string, unknown> | undefined =>
    typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  const root = record(record(record(pkg)?.['exports'])?.['.']);
  const candidates = [
    root?.['types'],
    record(root?.['import'])?.['types'],
    record(pkg)?.['types'],
    record(pkg)?.['typings'],
  ];
  for (const candidate of candidates) {
    if (typeof candidate !== 'string') continue;
    const file = path.resolve(pkgDir, candidate);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** This package's own entry declarations: `dist/index.d.ts` when built, `src/index.ts` under test. */
function ownDeclarations(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const built = path.join(here, '..', 'index.d.ts');
  return existsSync(built) ? built : path.join(here, '..', 'index.ts');
}

/** The text of the virtual contract module for a plugin folder whose `nekoconnect` declarations are `declarations`. */
export function contractSource(pluginDir: string, declarations: string): string {
  let specifier = path.relative(pluginDir, declarations).split(path.sep).join('/');
  specifier = specifier.replace(/(\.d)?\.([cm]?)ts$/, '.$2js');
  if (!specifier.startsWith('.')) specifier = `./${specifier}`;
  return [
    `import type { ${CONTRACT_EXPORTS.join(', ')} } from ${JSON.stringify(specifier)};`,
    `import type { ${NEWER_EXPORTS.join(', ')} } from ${JSON.stringify(specifier)};`,
    'export type NekoContext = Context;',
    'export type NekoPluginContext = PluginContext;',
    'export type NekoSessionContext = SessionContext;',
    'export type NekoSessionGone = SessionGone;',
    'export type NekoNoArgConstructor = new () => unknown;',
    'export type NekoHandlerReturn = void | PromiseLike<unknown>;',
    '',
  ].join('\n');
}

/** Reads the contract types out of a program that holds the virtual contract module. */
export function readContract(
  tsApi: TsApi,
  checker: ts.TypeChecker,
  contractFile: ts.SourceFile,
): ContractTypes {
  const importDecl = contractFile.statements.find(tsApi.isImportDeclaration);
  const moduleSymbol = importDecl && checker.getSymbolAtLocation(importDecl.moduleSpecifier);
  const exported = new Set(moduleSymbol ? checker.getExportsOfModule(moduleSymbol).map((s) => s.name) : []);
  const alias = (name: string): ts.Type => {
    const decl = contractFile.statements.find(
      (s): s is ts.TypeAliasDeclaration => tsApi.isTypeAliasDeclaration(s) && s.name.text === name,
    );
    if (decl === undefined) throw new Error(`internal: ${name} missing from the contract module`);
    return checker.getTypeAtLocation(decl.name);
  };
  const ifExported = (exportName: string, aliasName: string): ts.Type | undefined =>
    exported.has(exportName) ? alias(aliasName) : undefined;
  return {
    context: ifExported('Context', 'NekoContext'),
    pluginContext: ifExported('PluginContext', 'NekoPluginContext'),
    sessionContext: ifExported('SessionContext', 'NekoSessionContext'),
    sessionGone: ifExported('SessionGone', 'NekoSessionGone'),
    noArgConstructor: alias('NekoNoArgConstructor'),
    handlerReturn: alias('NekoHandlerReturn'),
    missing: CONTRACT_EXPORTS.filter((name) => !exported.has(name)),
    declarations: moduleSymbol?.declarations?.[0]?.getSourceFile().fileName,
  };
}
