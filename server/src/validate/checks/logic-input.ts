/**
 * What the checks of a logic file share: the program, its type checker, the
 * logic file, and the contract types; plus helpers to point at a node.
 */
import path from 'node:path';
import type { ts } from 'ts-morph';
import type { SourceLocation } from '../../errors.js';
import type { ContractTypes } from '../contract.js';
import type { Position } from '../problem.js';
import type { TsApi } from '../typescript.js';

/** The input of every check of a logic file. */
export interface LogicInput {
  ts: TsApi;
  program: ts.Program;
  checker: ts.TypeChecker;
  /** The plugin folder, absolute. */
  pluginDir: string;
  /** The logic file. */
  file: ts.SourceFile;
  /**
   * False for a `.js`/`.mjs` logic file: without annotations its parameter
   * and return types say nothing, so only its shape is checked.
   */
  typed: boolean;
  contract: ContractTypes;
}

/** The exported `Logic`, as {@link checkLogicExport} found it. */
export interface LogicClass {
  /** The exported value, aliases resolved. */
  symbol: ts.Symbol;
  /** The type of the value `Logic` (the constructor). */
  valueType: ts.Type;
  /** The type of `new Logic()`; undefined when TypeScript sees no constructor (a plain JS function). */
  instanceType: ts.Type | undefined;
  /** The class declaration, when Logic is a class. */
  declaration: ts.ClassLikeDeclaration | undefined;
  /** Where to point for a problem of the class as a whole: its name, else its export. */
  anchor: ts.Node;
}

/** The start and end of `node`, 1-based, in its own file. */
export function nodeLocation(node: ts.Node): { location: SourceLocation; end: Position } {
  const sourceFile = node.getSourceFile();
  const start = sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile));
  const end = sourceFile.getLineAndCharacterOfPosition(node.getEnd());
  return {
    location: { file: fromTsPath(sourceFile.fileName), line: start.line + 1, column: start.character + 1 },
    end: { line: end.line + 1, column: end.character + 1 },
  };
}

/** A TypeScript path (always `/`) as the platform writes it. */
export function fromTsPath(file: string): string {
  return process.platform === 'win32' ? file.replaceAll('/', '\\') : file;
}

/** A type as a person reads it, kept short. */
export function typeText(checker: ts.TypeChecker, type: ts.Type): string {
  const text = checker.typeToString(type);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** `a string`, `an object`; literal types (`"x"`, `42`) and `undefined`, `null`, `void`, `never` go bare. */
export function withArticle(text: string): string {
  if (!/^[a-z]/i.test(text) || ['undefined', 'null', 'void', 'never'].includes(text)) return text;
  return /^[aeiou]/i.test(text) ? `an ${text}` : `a ${text}`;
}

/** The name of a declaration, else the declaration itself: what to point at. */
export function nameOrSelf(node: ts.Node): ts.Node {
  return (node as { name?: ts.Node }).name ?? node;
}

/** True when `file` is inside `dir` and not under a `node_modules` of it. */
export function isPluginFile(dir: string, file: string): boolean {
  const rel = path.relative(dir, fromTsPath(file));
  return (
    rel !== '' &&
    !rel.startsWith('..') &&
    !path.isAbsolute(rel) &&
    !rel.split(path.sep).includes('node_modules')
  );
}
