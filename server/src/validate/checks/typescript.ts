import type { ts } from 'ts-morph';
import type { NekoErrorCode } from '../../errors.js';
import type { CompilerSetup } from '../compiler.js';
import type { Finding } from '../problem.js';
import type { TsApi } from '../typescript.js';
import { fromTsPath, isPluginFile, type LogicInput } from './logic-input.js';

/**
 * TypeScript's own diagnostics for the plugin's files: the logic file and
 * every file of the plugin folder it imports (not `node_modules`), compiled
 * with the plugin's tsconfig.json when it has one. Each is a
 * `NEKO_ERR_VALIDATE_TYPESCRIPT` with TypeScript's number in `tsCode`; the
 * position is TypeScript's. For a `.js` file TypeScript reports syntax
 * errors only, unless the tsconfig sets `checkJs`.
 *
 * @param skip files of the program that are not the plugin's (the virtual contract module)
 */
export function checkTypeScript(input: LogicInput, skip: (file: string) => boolean): Finding[] {
  const { ts: tsApi, program, pluginDir } = input;
  const diagnostics: ts.Diagnostic[] = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
  ];
  for (const sourceFile of program.getSourceFiles()) {
    if (!isPluginFile(pluginDir, sourceFile.fileName) || skip(sourceFile.fileName)) continue;
    diagnostics.push(
      ...program.getSyntacticDiagnostics(sourceFile),
      ...program.getSemanticDiagnostics(sourceFile),
    );
  }
  return diagnostics.flatMap((d) => findingFromDiagnostic(tsApi, d, 'NEKO_ERR_VALIDATE_TYPESCRIPT'));
}

/**
 * The plugin's tsconfig.json reads and parses: `NEKO_ERR_VALIDATE_TSCONFIG`
 * for each error TypeScript finds in it (bad JSON, unknown option, a missing
 * `extends`), at its position.
 */
export function checkTsconfig(tsApi: TsApi, setup: CompilerSetup): Finding[] {
  return setup.configDiagnostics.flatMap((d) =>
    findingFromDiagnostic(tsApi, d, 'NEKO_ERR_VALIDATE_TSCONFIG'),
  );
}

/** A TypeScript diagnostic as a finding: its first line as the message, the rest as details. Suggestions are dropped. */
export function findingFromDiagnostic(
  tsApi: TsApi,
  diagnostic: ts.Diagnostic,
  code: NekoErrorCode,
): Finding[] {
  const category = diagnostic.category;
  if (category !== tsApi.DiagnosticCategory.Error && category !== tsApi.DiagnosticCategory.Warning) return [];
  const [message = '', ...details] = tsApi
    .flattenDiagnosticMessageText(diagnostic.messageText, '\n')
    .split('\n');
  const finding: Finding = {
    code,
    severity: category === tsApi.DiagnosticCategory.Error ? 'error' : 'warning',
    message: `TS${diagnostic.code}: ${message}`,
    tsCode: diagnostic.code,
  };
  if (details.length > 0) finding.details = details.map((line) => line.trim());
  const file = diagnostic.file;
  if (file !== undefined && diagnostic.start !== undefined) {
    const start = file.getLineAndCharacterOfPosition(diagnostic.start);
    const end = file.getLineAndCharacterOfPosition(diagnostic.start + (diagnostic.length ?? 0));
    finding.location = { file: fromTsPath(file.fileName), line: start.line + 1, column: start.character + 1 };
    finding.end = { line: end.line + 1, column: end.character + 1 };
  }
  return [finding];
}
