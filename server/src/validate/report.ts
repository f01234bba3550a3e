/**
 * The validator's report for people (terminal text, kleur colours) and for
 * programs (a stable JSON shape, documented in docs/validate.md).
 */
import kleur from 'kleur';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { NekoErrorCode } from '../errors.js';
import { plural, renderCodeFrame, shownPath } from '../format.js';
import type { PluginResult, Problem, Severity, ValidationReport } from './problem.js';

/** Options of {@link formatReport}. */
export interface FormatReportOptions {
  /** Paths are shown relative to this folder when inside it. Defaults to `process.cwd()`. */
  cwd?: string;
}

/**
 * The report as terminal text: each problem as `file:line:col`, its
 * severity and code, a one-line explanation, a code frame and a fix; then
 * one line per plugin and a summary. Colours follow kleur's `enabled` (the
 * CLI turns them off when the output is not a TTY or `NO_COLOR` is set).
 */
export function formatReport(report: ValidationReport, options: FormatReportOptions = {}): string {
  const cwd = options.cwd ?? process.cwd();
  const sources = new Map<string, string | undefined>();
  const blocks = report.problems.map((problem) => formatProblem(problem, cwd, sources));
  const lines = [...blocks.flatMap((block) => [block, ''])];
  const width = Math.max(...report.plugins.map((p) => pluginLabel(p).length));
  for (const plugin of report.plugins) {
    lines.push(formatPluginLine(plugin, width, cwd));
    for (const note of plugin.notes ?? []) lines.push(kleur.dim(`  note: ${note}`));
  }
  lines.push('', summary(report));
  return lines.join('\n');
}

function formatProblem(problem: Problem, cwd: string, sources: Map<string, string | undefined>): string {
  const loc = problem.location;
  const where =
    loc === undefined
      ? shownPath(problem.plugin, cwd)
      : `${shownPath(loc.file, cwd)}:${loc.line}:${loc.column}`;
  const lines = [`${kleur.bold(where)} ${severityLabel(problem.severity)} ${kleur.dim(problem.code)}`];
  lines.push(`  ${problem.message}`);
  for (const detail of problem.details ?? []) lines.push(kleur.dim(`    ${detail}`));
  if (loc !== undefined) {
    if (!sources.has(loc.file)) sources.set(loc.file, readSource(loc.file));
    const source = sources.get(loc.file);
    if (source !== undefined) {
      lines.push(renderCodeFrame(source, loc, colorFor(problem.severity)));
    }
  }
  if (problem.hint !== undefined) lines.push(`  ${kleur.cyan('fix:')} ${problem.hint}`);
  return lines.join('\n');
}

function formatPluginLine(plugin: PluginResult, width: number, cwd: string): string {
  const errors = count(plugin.problems, 'error');
  const warnings = count(plugin.problems, 'warning');
  const mark = errors > 0 ? kleur.red('✗') : warnings > 0 ? kleur.yellow('!') : kleur.green('✓');
  const counts = [errors > 0 ? plural(errors, 'error') : '', warnings > 0 ? plural(warnings, 'warning') : '']
    .filter((s) => s !== '')
    .join(', ');
  return `${mark} ${pluginLabel(plugin).padEnd(width)}  ${kleur.dim(shownPath(plugin.dir, cwd))}${counts === '' ? '' : `  ${counts}`}`;
}

function summary(report: ValidationReport): string {
  const n = report.plugins.length;
  const plugins = plural(n, 'plugin');
  if (report.errorCount > 0) {
    const failed = report.plugins.filter((p) => count(p.problems, 'error') > 0).length;
    const warnings = report.warningCount > 0 ? ` and ${plural(report.warningCount, 'warning')}` : '';
    const where = n === 1 ? plugins : `${failed} of ${plugins}`;
    return kleur.red(`✗ ${plural(report.errorCount, 'error')}${warnings} in ${where}`);
  }
  const warnings = report.warningCount > 0 ? `, ${plural(report.warningCount, 'warning')}` : '';
  return kleur.green(`✓ ${plugins} valid${warnings}`) + kleur.dim(` (${Math.round(report.durationMs)} ms)`);
}

/** The plugin's greeter when spec.conf parsed, else its folder name. */
function pluginLabel(plugin: PluginResult): string {
  return plugin.spec?.greeter ?? path.basename(plugin.dir);
}

function severityLabel(severity: Severity): string {
  return severity === 'error' ? kleur.red('error') : kleur.yellow('warning');
}

function colorFor(severity: Severity): (text: string) => string {
  return severity === 'error' ? kleur.red : kleur.yellow;
}

function count(problems: readonly Problem[], severity: Severity): number {
  return problems.filter((p) => p.severity === severity).length;
}

function readSource(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                      */
/* ------------------------------------------------------------------------ */

/** The version of the JSON shape; it changes only when a field changes meaning or goes away. */
export const JSON_REPORT_VERSION = 1;

/** One problem in the JSON report. Absent values are `null`, never missing. */
export interface JsonProblem {
  /** The plugin folder, absolute. */
  plugin: string;
  code: NekoErrorCode;
  severity: Severity;
  /** The check that found it, e.g. `checkRecv`. */
  check: string;
  message: string;
  details: string[];
  hint: string | null;
  /** Absolute path of the file it points into. */
  file: string | null;
  /** 1-based. */
  line: number | null;
  /** 1-based, in UTF-16 code units. */
  column: number | null;
  endLine: number | null;
  endColumn: number | null;
  /** TypeScript's error number, for `NEKO_ERR_VALIDATE_TYPESCRIPT`. */
  tsCode: number | null;
}

/** One plugin in the JSON report. */
export interface JsonPlugin {
  /** The plugin folder, absolute. */
  dir: string;
  /** From spec.conf; `null` when it did not parse. */
  name: string | null;
  greeter: string | null;
  version: string | null;
  /** The logic file, absolute; `null` when not found. */
  logicFile: string | null;
  ok: boolean;
  errorCount: number;
  warningCount: number;
  /** What could not be checked and why (a `.ncp` package: the type checks need the sources); often empty. */
  notes: string[];
}

/** The whole JSON report (`nekoconnect validate --json`). */
export interface JsonReport {
  version: typeof JSON_REPORT_VERSION;
  /** The folder validated, absolute. */
  root: string;
  /** True when there is no error (warnings allowed). */
  ok: boolean;
  errorCount: number;
  warningCount: number;
  durationMs: number;
  plugins: JsonPlugin[];
  problems: JsonProblem[];
}

/** The report in the documented JSON shape (see docs/validate.md). */
export function toJsonReport(report: ValidationReport): JsonReport {
  return {
    version: JSON_REPORT_VERSION,
    root: report.root,
    ok: report.errorCount === 0,
    errorCount: report.errorCount,
    warningCount: report.warningCount,
    durationMs: Math.round(report.durationMs),
    plugins: report.plugins.map((plugin) => {
      const errorCount = count(plugin.problems, 'error');
      return {
        dir: plugin.dir,
        name: plugin.spec?.name ?? null,
        greeter: plugin.spec?.greeter ?? null,
        version: plugin.spec?.version ?? null,
        logicFile: plugin.logicFile ?? null,
        ok: errorCount === 0,
        errorCount,
        warningCount: count(plugin.problems, 'warning'),
        notes: plugin.notes ?? [],
      };
    }),
    problems: report.problems.map((p) => ({
      plugin: p.plugin,
      code: p.code,
      severity: p.severity,
      check: p.check,
      message: p.message,
      details: p.details ?? [],
      hint: p.hint ?? null,
      file: p.location ? path.resolve(p.location.file) : null,
      line: p.location?.line ?? null,
      column: p.location?.column ?? null,
      endLine: p.end?.line ?? null,
      endColumn: p.end?.column ?? null,
      tsCode: p.tsCode ?? null,
    })),
  };
}
