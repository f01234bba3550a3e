/**
 * What the validator reports: problems, each with a code, a severity, the
 * check that found it and where it points.
 */
import type { NekoError, NekoErrorCode, SourceLocation } from '../errors.js';
import type { PluginSpec } from '../plugins/spec.js';

/** `error` fails validation (exit code 1); `warning` is shown but does not. */
export type Severity = 'error' | 'warning';

/** A line and column, both counted from 1. */
export interface Position {
  line: number;
  column: number;
}

/** One thing wrong with a plugin. */
export interface Problem {
  /** The plugin folder, absolute. */
  plugin: string;
  /** A stable `NEKO_ERR_*` code (docs/errors.md). */
  code: NekoErrorCode;
  severity: Severity;
  /** The name of the check that found it, e.g. `checkRecv`. */
  check: string;
  /** One line saying what is wrong. */
  message: string;
  /** More lines of explanation (e.g. the rest of a TypeScript message chain). */
  details?: string[];
  /** How to fix it, when there is something to say. */
  hint?: string;
  /** Where the culprit starts; absent when it is not in one place (e.g. a missing folder). */
  location?: SourceLocation;
  /** Where the culprit ends (exclusive), when known. */
  end?: Position;
  /** For `NEKO_ERR_VALIDATE_TYPESCRIPT`: TypeScript's own error number, e.g. 2322. */
  tsCode?: number;
}

/** The outcome for one plugin folder. */
export interface PluginResult {
  /** The plugin folder, absolute. */
  dir: string;
  /** Present when spec.conf parsed. */
  spec?: PluginSpec;
  /** The logic file `$logic` names, when it exists. */
  logicFile?: string;
  /** Its problems, in file order. */
  problems: Problem[];
  /** What the report could not check and why (for a `.ncp` package: the type checks need the sources). */
  notes?: string[];
}

/** The outcome of one `validate(dir)`. */
export interface ValidationReport {
  /** The folder that was validated, absolute: one plugin folder or a plugins directory. */
  root: string;
  /** One result per plugin folder, in name order. */
  plugins: PluginResult[];
  /** Every plugin's problems, in plugin order. */
  problems: Problem[];
  errorCount: number;
  warningCount: number;
  /** Wall time of the validation, in ms. */
  durationMs: number;
}

/** A problem as a check states it; the plugin folder and check name are added by the caller. */
export type Finding = Omit<Problem, 'plugin' | 'check' | 'severity'> & { severity?: Severity };

/** Turns a coded error (e.g. from the spec.conf parser) into a finding. */
export function findingFromError(err: NekoError): Finding {
  return {
    code: err.code,
    message: err.message,
    ...(err.hint === undefined ? {} : { hint: err.hint }),
    ...(err.location === undefined ? {} : { location: err.location }),
  };
}

/**
 * Orders problems for reading: those without a place first, then spec.conf,
 * then the other files by path, each by line and column. Stable for ties.
 */
export function compareProblems(a: Problem, b: Problem): number {
  return (
    rank(a) - rank(b) ||
    compareText(a.location?.file ?? '', b.location?.file ?? '') ||
    position(a) - position(b)
  );
}

function rank(p: Problem): number {
  if (p.location === undefined) return 0;
  return p.location.file.endsWith('spec.conf') ? 1 : 2;
}

function position(p: Problem): number {
  return (p.location?.line ?? 0) * 1_000_000 + (p.location?.column ?? 0);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
