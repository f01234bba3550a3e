/**
 * The validator's report as GitHub Actions workflow commands: each problem
 * becomes an `::error` or `::warning` annotation that GitHub shows on the
 * line it points at (in the pull request's diff and the run's summary).
 */
import path from 'node:path';
import { plural } from '../format.js';
import type { Problem, ValidationReport } from './problem.js';

/** Options of {@link formatGithubReport}. */
export interface GithubReportOptions {
  /** Files are named relative to this folder (the repository's root in a workflow). Defaults to `process.cwd()`. */
  cwd?: string;
}

/**
 * One line per problem, `::error file=…,line=…,col=…,title=<code>::<message>`
 * (`::warning` for a warning), then a plain summary line. The message holds
 * the explanation, its details and the fix, as lines.
 */
export function formatGithubReport(report: ValidationReport, options: GithubReportOptions = {}): string {
  const cwd = options.cwd ?? process.cwd();
  const lines = report.problems.map((problem) => githubAnnotation(problem, cwd));
  for (const plugin of report.plugins) {
    for (const note of plugin.notes ?? []) {
      lines.push(`::notice file=${escapeProperty(githubPath(plugin.dir, cwd))}::${escapeData(note)}`);
    }
  }
  const plugins = plural(report.plugins.length, 'plugin');
  lines.push(
    report.errorCount > 0
      ? `nekoconnect validate: ${plural(report.errorCount, 'error')}, ${plural(report.warningCount, 'warning')} in ${plugins}`
      : `nekoconnect validate: ${plugins} valid, ${plural(report.warningCount, 'warning')}`,
  );
  return lines.join('\n');
}

/** One problem as a workflow command. */
export function githubAnnotation(problem: Problem, cwd: string): string {
  const loc = problem.location;
  const properties: Array<[string, string | number]> = [
    ['file', githubPath(loc?.file ?? problem.plugin, cwd)],
  ];
  if (loc !== undefined) {
    properties.push(['line', loc.line], ['col', loc.column]);
    if (problem.end !== undefined) {
      properties.push(['endLine', problem.end.line]);
      // GitHub takes endColumn only for an annotation on one line.
      if (problem.end.line === loc.line) properties.push(['endColumn', problem.end.column]);
    }
  }
  const title = problem.tsCode === undefined ? problem.code : `${problem.code} (TS${problem.tsCode})`;
  properties.push(['title', title]);
  const message = [
    problem.message,
    ...(problem.details ?? []).map((d) => `  ${d}`),
    ...(problem.hint === undefined ? [] : [`fix: ${problem.hint}`]),
  ].join('\n');
  const props = properties.map(([key, value]) => `${key}=${escapeProperty(String(value))}`).join(',');
  return `::${problem.severity} ${props}::${escapeData(message)}`;
}

/** A file as GitHub wants it: relative to `cwd`, with `/`; absolute when outside it. */
export function githubPath(file: string, cwd: string): string {
  const rel = path.relative(cwd, file);
  if (rel === '') return '.';
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel.split(path.sep).join('/');
}

/** The message of a workflow command: `%`, CR and LF escaped, as GitHub's toolkit does. */
export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A property value of a workflow command: also `:` and `,`, which end it. */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
