import path from 'node:path';
import type { ts } from 'ts-morph';
import type { Finding } from '../problem.js';
import {
  nameOrSelf,
  nodeLocation,
  typeText,
  withArticle,
  type LogicClass,
  type LogicInput,
} from './logic-input.js';

const HINT = 'write `export class Logic { async recv(ctx: Context) { … } }` (a named export)';

/**
 * The logic file exports a class named `Logic`: a named export (a default
 * export alone does not count), a value (not only a type), and something
 * `new` can be applied to. `NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT` otherwise,
 * pointing at the class that is not exported, the default export, or what
 * `Logic` is instead.
 *
 * @returns the class, for the checks that look inside it
 */
export function checkLogicExport(input: LogicInput): { logic?: LogicClass; findings: Finding[] } {
  const { ts: tsApi, checker, file } = input;
  const name = path.basename(file.fileName);
  const moduleSymbol = checker.getSymbolAtLocation(file);
  const exports = moduleSymbol === undefined ? [] : checker.getExportsOfModule(moduleSymbol);
  const exported = exports.find((s) => s.name === 'Logic');
  if (exported === undefined) return { findings: [missingExport(input, exports)] };

  const symbol = exported.flags & tsApi.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
  // Point at the declaration when it is in the logic file, else at the export that brings it in.
  const declared = symbol.valueDeclaration ?? symbol.declarations?.[0];
  const exportNode = exported.declarations?.[0];
  const inFile = declared !== undefined && declared.getSourceFile() === file ? declared : undefined;
  const anchor = nameOrSelf(inFile ?? exportNode ?? declared ?? file);

  if ((symbol.flags & tsApi.SymbolFlags.Value) === 0) {
    return {
      findings: [
        {
          code: 'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT',
          message: `${name} exports Logic only as a type; the server needs a class`,
          hint: HINT,
          ...nodeLocation(anchor),
        },
      ],
    };
  }

  const valueType = checker.getTypeOfSymbolAtLocation(symbol, file);
  const constructs = valueType.getConstructSignatures();
  const declaration = classDeclarationOf(tsApi, symbol.valueDeclaration);
  const first = constructs[0];
  if (first !== undefined) {
    const instanceType = checker.getReturnTypeOfSignature(first);
    return { logic: { symbol, valueType, instanceType, declaration, anchor }, findings: [] };
  }
  // A plain JavaScript function is a constructor too; TypeScript just cannot say what it builds.
  if (!input.typed && valueType.getCallSignatures().length > 0) {
    return { logic: { symbol, valueType, instanceType: undefined, declaration, anchor }, findings: [] };
  }
  return {
    findings: [
      {
        code: 'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT',
        message: `${name} exports Logic as ${withArticle(typeText(checker, checker.getBaseTypeOfLiteralType(valueType)))}, not a class`,
        hint: HINT,
        ...nodeLocation(anchor),
      },
    ],
  };
}

/** The class behind a value declaration: `class Logic {}` or `const Logic = class {}`. */
function classDeclarationOf(
  tsApi: LogicInput['ts'],
  node: ts.Declaration | undefined,
): ts.ClassLikeDeclaration | undefined {
  if (node === undefined) return undefined;
  if (tsApi.isClassDeclaration(node) || tsApi.isClassExpression(node)) return node;
  if (tsApi.isVariableDeclaration(node) && node.initializer && tsApi.isClassExpression(node.initializer)) {
    return node.initializer;
  }
  return undefined;
}

function missingExport(input: LogicInput, exports: readonly ts.Symbol[]): Finding {
  const { ts: tsApi, file } = input;
  const name = path.basename(file.fileName);

  // 1. Only a default export.
  const names = exports.map((s) => s.name).sort();
  const defaultExport = exports.find((s) => s.name === 'default')?.declarations?.[0];
  if (names.length === 1 && defaultExport !== undefined) {
    return {
      code: 'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT',
      message: `${name} has only a default export; the server needs a named export Logic`,
      hint: 'write `export class Logic { … }` instead of `export default class …`',
      ...nodeLocation(exportStatement(tsApi, defaultExport)),
    };
  }

  // 2. A Logic declared but not exported.
  const local = topLevelDeclaration(tsApi, file, 'Logic');
  if (local !== undefined) {
    return {
      code: 'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT',
      message: `${name} declares Logic but does not export it`,
      hint: 'add `export` in front of it: `export class Logic { … }`',
      ...nodeLocation(nameOrSelf(local)),
    };
  }

  // 3. Something else, or nothing.
  const found = names.length === 0 ? 'it exports nothing' : `it exports ${names.join(', ')}`;
  const firstExport = exports[0]?.declarations?.[0];
  return {
    code: 'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT',
    message: `${name} does not export a class named Logic (${found})`,
    hint: HINT,
    ...(firstExport !== undefined && firstExport.getSourceFile() === file
      ? nodeLocation(nameOrSelf(firstExport))
      : nodeLocation(file.statements[0] ?? file)),
  };
}

/** A class, function or variable named `name` at the top level of `file`, not itself exported. */
function topLevelDeclaration(
  tsApi: LogicInput['ts'],
  file: ts.SourceFile,
  name: string,
): ts.Node | undefined {
  for (const statement of file.statements) {
    const exported = tsApi.canHaveModifiers(statement)
      ? tsApi.getModifiers(statement)?.some((m) => m.kind === tsApi.SyntaxKind.ExportKeyword)
      : false;
    if (exported) continue;
    if (
      (tsApi.isClassDeclaration(statement) || tsApi.isFunctionDeclaration(statement)) &&
      statement.name?.text === name
    ) {
      return statement;
    }
    if (tsApi.isVariableStatement(statement)) {
      const decl = statement.declarationList.declarations.find(
        (d) => tsApi.isIdentifier(d.name) && d.name.text === name,
      );
      if (decl !== undefined) return decl;
    }
  }
  return undefined;
}

/** The statement that makes a declaration the default export: `export default class …` or `export default x;`. */
function exportStatement(tsApi: LogicInput['ts'], declaration: ts.Node): ts.Node {
  let node: ts.Node = declaration;
  while (!tsApi.isSourceFile(node.parent) && node.parent !== undefined) node = node.parent;
  return node;
}
