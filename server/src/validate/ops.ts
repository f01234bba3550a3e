/**
 * The ops a plugin declares, read from its source: the exported `Op` table
 * (`export const Op = { Say: 2, … } as const`) with the doc comment of each
 * entry, in declaration order. The Playground lists them, and `pack` writes
 * them to a package's `ops.json`.
 *
 * It reads the logic file with the validator's TypeScript (ts-morph's,
 * loaded on first use: `nekoconnect start` without a tool that needs the ops
 * never loads it), or takes a source file the warm validator already parsed.
 * The syntax alone is read, no type checker: the table is a literal.
 *
 * The server's own rule for op labels (`declaredOps` in plugins/stats.ts)
 * reads the same table from the loaded module: what it counts apart is what
 * is listed here.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ts } from 'ts-morph';
import { errorMessage } from '../format.js';
import { readSpec } from '../plugins/spec.js';
import { checkLogicFile } from './checks/logic-file.js';
import type { SourceLocation } from '../errors.js';
import { fromTsPath } from './checks/logic-input.js';
import type { Position } from './problem.js';
import type { Finding } from './problem.js';
import { tsMorph, type TsApi } from './typescript.js';

/** The largest op code a frame can carry (docs/protocol.md: `op` is at most 4294967295). */
export const MAX_OP = 0xffffffff;

/** One op of a plugin's `Op` table. */
export interface PluginOp {
  /** The entry's name, e.g. `Say`. */
  name: string;
  /** Its op code. */
  op: number;
  /** Its doc comment's text, trimmed (absent when it has none). */
  doc?: string;
}

/** Where the `Op` table is declared: the logic file and the line of `Op`, 1-based. */
export interface OpsSource {
  file: string;
  line: number;
}

/** The ops read from a plugin: its table's entries, or none with the reason. */
export type ExtractedOps =
  | {
      ops: PluginOp[];
      source: OpsSource;
      /** Entries left out (`NEKO_ERR_VALIDATE_OP`), each at its place. */
      problems: Finding[];
    }
  | {
      ops: [];
      /** Why there are none, e.g. `logic.ts exports no Op table`; a tool then takes a free op number. */
      reason: string;
      problems: Finding[];
    };

/** Where {@link extractOps} may find the logic file already parsed. */
export interface ExtractOpsOptions {
  /** The file as parsed and unchanged since (the warm validator's), or undefined to read it. */
  parsed?: (file: string) => ts.SourceFile | undefined;
}

/**
 * Reads the ops of a plugin folder (its spec.conf's `$logic` file), of a
 * logic file, or of a source file already parsed (by the warm validator).
 *
 * @returns the `Op` table's entries in declaration order; an empty list with
 *   a reason when the plugin has no such table (or no logic file); entries
 *   that are not op codes are left out and reported as problems
 * @throws NekoError from reading spec.conf (`NEKO_ERR_SPEC_*`) when a folder
 *   is given that is not a plugin folder
 */
export async function extractOps(
  target: string | ts.SourceFile,
  options: ExtractOpsOptions = {},
): Promise<ExtractedOps> {
  if (typeof target !== 'string') return opsOfSourceFile(tsMorph().ts, target);
  let file = path.resolve(target);
  if ((await stat(file).catch(() => undefined))?.isDirectory() === true) {
    const spec = await readSpec(file);
    const { logicFile } = await checkLogicFile(file, spec);
    if (logicFile === undefined) {
      return { ops: [], reason: `no logic file for $logic {"${spec.logic}"} in ${file}`, problems: [] };
    }
    file = logicFile;
  }
  const parsed = options.parsed?.(file);
  if (parsed !== undefined) return opsOfSourceFile(tsMorph().ts, parsed);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { ops: [], reason: `cannot read ${file}: ${errorMessage(err)}`, problems: [] };
  }
  const tsApi = tsMorph().ts;
  const kind = /\.[cm]?jsx?$/.test(file) ? tsApi.ScriptKind.JS : tsApi.ScriptKind.TS;
  const sourceFile = tsApi.createSourceFile(file, text, tsApi.ScriptTarget.Latest, true, kind);
  return opsOfSourceFile(tsApi, sourceFile);
}

/** The ops of one parsed logic file (see {@link extractOps}). */
export function opsOfSourceFile(tsApi: TsApi, sourceFile: ts.SourceFile): ExtractedOps {
  const fileName = path.basename(fromTsPath(sourceFile.fileName));
  const table = findOpTable(tsApi, sourceFile);
  if (table === undefined) {
    return {
      ops: [],
      reason: `${fileName} exports no Op table (export const Op = { … } as const)`,
      problems: [],
    };
  }
  const { declaration } = table;
  const source: OpsSource = {
    file: fromTsPath(sourceFile.fileName),
    line: locate(sourceFile, declaration.name).location.line,
  };
  const literal = declaration.initializer === undefined ? undefined : unwrap(tsApi, declaration.initializer);
  if (literal === undefined || !tsApi.isObjectLiteralExpression(literal)) {
    return { ops: [], reason: `${fileName}: Op is not an object literal ({ Name: 1, … })`, problems: [] };
  }

  const constants = topLevelConstants(tsApi, sourceFile);
  const ops: PluginOp[] = [];
  const problems: Finding[] = [];
  const seen = new Map<number, { name: string; line: number }>();
  for (const property of literal.properties) {
    const name = property.name === undefined ? undefined : propertyName(tsApi, property.name);
    const at = locate(sourceFile, property);
    if (name === undefined) {
      problems.push({
        code: 'NEKO_ERR_VALIDATE_OP',
        message: 'an entry of the Op table is not `Name: number`',
        hint: 'write each op as `Name: 1,` in the object literal itself',
        ...at,
      });
      continue;
    }
    const valueNode = tsApi.isPropertyAssignment(property)
      ? property.initializer
      : tsApi.isShorthandPropertyAssignment(property)
        ? property.name
        : undefined;
    const value = valueNode === undefined ? undefined : numberOf(tsApi, valueNode, constants);
    if (value === undefined) {
      problems.push({
        code: 'NEKO_ERR_VALIDATE_OP',
        message: `Op.${name} is not a number literal`,
        hint: `give it its op code itself, e.g. ${name}: 1,`,
        ...at,
      });
      continue;
    }
    if (!Number.isInteger(value) || value < 0 || value > MAX_OP) {
      problems.push({
        code: 'NEKO_ERR_VALIDATE_OP',
        message: `Op.${name} is ${value}: an op code is a whole number from 0 to ${MAX_OP}`,
        hint: 'see docs/protocol.md for the op field',
        ...at,
      });
      continue;
    }
    const earlier = seen.get(value);
    if (earlier !== undefined) {
      problems.push({
        code: 'NEKO_ERR_VALIDATE_OP',
        severity: 'warning',
        message: `Op.${name} is ${value}, the op of Op.${earlier.name} (line ${earlier.line}): it is listed once, as ${earlier.name}`,
        hint: `give Op.${name} an op code of its own`,
        ...at,
      });
      continue;
    }
    seen.set(value, { name, line: at.location.line });
    const doc = docOf(tsApi, sourceFile, property);
    ops.push(doc === undefined ? { name, op: value } : { name, op: value, doc });
  }
  return { ops, source, problems };
}

/** The declaration of the exported `Op` (`export const Op = …`, or `const X = …` with `export { X as Op }`). */
function findOpTable(
  tsApi: TsApi,
  sourceFile: ts.SourceFile,
): { declaration: ts.VariableDeclaration & { name: ts.Identifier } } | undefined {
  let local: string | undefined;
  for (const statement of sourceFile.statements) {
    if (
      tsApi.isExportDeclaration(statement) &&
      statement.moduleSpecifier === undefined &&
      !statement.isTypeOnly &&
      statement.exportClause !== undefined &&
      tsApi.isNamedExports(statement.exportClause)
    ) {
      for (const element of statement.exportClause.elements) {
        if (element.name.text === 'Op' && !element.isTypeOnly)
          local = (element.propertyName ?? element.name).text;
      }
    }
  }
  for (const statement of sourceFile.statements) {
    if (!tsApi.isVariableStatement(statement)) continue;
    const exported = statement.modifiers?.some((m) => m.kind === tsApi.SyntaxKind.ExportKeyword) === true;
    for (const declaration of statement.declarationList.declarations) {
      if (!tsApi.isIdentifier(declaration.name)) continue;
      const name = declaration.name.text;
      if ((exported && name === 'Op') || (local !== undefined && name === local)) {
        return { declaration: declaration as ts.VariableDeclaration & { name: ts.Identifier } };
      }
    }
  }
  return undefined;
}

/** The expression under `as const`, `satisfies …`, `<T>…`, `(…)` and `!`. */
function unwrap(tsApi: TsApi, node: ts.Expression): ts.Expression {
  let current = node;
  for (;;) {
    if (
      tsApi.isAsExpression(current) ||
      tsApi.isSatisfiesExpression(current) ||
      tsApi.isTypeAssertionExpression(current) ||
      tsApi.isParenthesizedExpression(current) ||
      tsApi.isNonNullExpression(current)
    ) {
      current = current.expression;
    } else {
      return current;
    }
  }
}

/** The file's top-level `const NAME = <expression>` declarations, for entries that name one. */
function topLevelConstants(tsApi: TsApi, sourceFile: ts.SourceFile): Map<string, ts.Expression> {
  const constants = new Map<string, ts.Expression>();
  for (const statement of sourceFile.statements) {
    if (!tsApi.isVariableStatement(statement)) continue;
    if ((statement.declarationList.flags & tsApi.NodeFlags.Const) === 0) continue;
    for (const declaration of statement.declarationList.declarations) {
      if (tsApi.isIdentifier(declaration.name) && declaration.initializer !== undefined) {
        constants.set(declaration.name.text, declaration.initializer);
      }
    }
  }
  return constants;
}

/**
 * The number an entry's value spells: a numeric literal (decimal, hex,
 * octal, binary, with `_` separators), signed, or the name of a top-level
 * constant that is one; undefined for anything else.
 */
function numberOf(
  tsApi: TsApi,
  node: ts.Expression,
  constants: ReadonlyMap<string, ts.Expression>,
  depth = 0,
): number | undefined {
  const expression = unwrap(tsApi, node);
  if (tsApi.isNumericLiteral(expression)) return Number(expression.text.replaceAll('_', ''));
  if (tsApi.isPrefixUnaryExpression(expression)) {
    const operand = numberOf(tsApi, expression.operand, constants, depth);
    if (operand === undefined) return undefined;
    if (expression.operator === tsApi.SyntaxKind.MinusToken) return -operand;
    if (expression.operator === tsApi.SyntaxKind.PlusToken) return operand;
    return undefined;
  }
  if (tsApi.isIdentifier(expression) && depth < 8) {
    const initializer = constants.get(expression.text);
    return initializer === undefined ? undefined : numberOf(tsApi, initializer, constants, depth + 1);
  }
  return undefined;
}

/** An entry's name: an identifier, a string or a number; undefined for a computed name. */
function propertyName(tsApi: TsApi, name: ts.PropertyName): string | undefined {
  if (tsApi.isIdentifier(name) || tsApi.isStringLiteral(name) || tsApi.isNumericLiteral(name))
    return name.text;
  return undefined;
}

/**
 * The text of an entry's doc comment (the `/** … *\/` right above it), its
 * tags left out: paragraphs kept apart by a blank line, the lines of each
 * joined by a space, trimmed.
 */
function docOf(tsApi: TsApi, sourceFile: ts.SourceFile, node: ts.Node): string | undefined {
  const docs = tsApi.getJSDocCommentsAndTags(node).filter((d): d is ts.JSDoc => tsApi.isJSDoc(d));
  const last = docs.at(-1);
  const text = last === undefined ? rawDocOf(sourceFile, node) : tsApi.getTextOfJSDocComment(last.comment);
  if (text === undefined) return undefined;
  const paragraphs = text
    .split(/\r?\n\s*\r?\n/)
    .map((paragraph) =>
      paragraph
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line !== '')
        .join(' '),
    )
    .filter((paragraph) => paragraph !== '');
  return paragraphs.length === 0 ? undefined : paragraphs.join('\n\n');
}

/**
 * The doc comment right before `node` read from the text, for the places
 * where TypeScript attaches none (an entry on the line of the `{`): its
 * lines without the leading `*`, up to the first tag.
 */
function rawDocOf(sourceFile: ts.SourceFile, node: ts.Node): string | undefined {
  // The trivia before the entry: whitespace and comments only.
  const trivia = sourceFile.text.slice(node.pos, node.getStart(sourceFile));
  const raw = [...trivia.matchAll(/\/\*\*(?!\/)([\s\S]*?)\*\//g)].at(-1)?.[1];
  if (raw === undefined) return undefined;
  const lines: string[] = [];
  for (const line of raw.split(/\r?\n/)) {
    const bare = line.replace(/^\s*\*?/, '').trim();
    if (bare.startsWith('@')) break;
    lines.push(bare);
  }
  return lines.join('\n');
}

/**
 * Where `node` starts and ends, 1-based, in `sourceFile`: given the file, so
 * that a file parsed without parent pointers is read as well.
 */
function locate(sourceFile: ts.SourceFile, node: ts.Node): { location: SourceLocation; end: Position } {
  const start = sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile));
  const end = sourceFile.getLineAndCharacterOfPosition(node.getEnd());
  return {
    location: { file: fromTsPath(sourceFile.fileName), line: start.line + 1, column: start.character + 1 },
    end: { line: end.line + 1, column: end.character + 1 },
  };
}
