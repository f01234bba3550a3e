/**
 * The dev watcher's events as terminal text: one line per reload
 * (`12:00:01 ✓ todo reloaded in 38 ms (v3)`), and for a rejected change the
 * errors with their code frames. Colours follow kleur's `enabled`.
 */
import kleur from 'kleur';
import type { NekoError } from '../errors.js';
import { clock, formatError, indent, plural, shownDir } from '../format.js';
import { formatLocation } from '../code-frame.js';
import type { DevEvent } from './events.js';

/** A formatted event: the text, and whether it goes to stderr. */
export interface FormattedEvent {
  text: string;
  toStderr: boolean;
}

/**
 * Formats one event.
 *
 * @param cwd folders are shown relative to it
 */
export function formatDevEvent(event: DevEvent, cwd = process.cwd(), time = Date.now()): FormattedEvent {
  const at = kleur.dim(clock(time));
  switch (event.type) {
    case 'reloaded': {
      const what = event.added ? 'loaded' : 'reloaded';
      const renamed =
        event.renamedFrom === undefined
          ? ''
          : kleur.dim(` (was "${event.renamedFrom}", which answers 404 now)`);
      const lines = [
        `${at} ${kleur.green('✓')} ${kleur.bold(event.greeter)} ${what} in ${ms(event.durationMs)} ${kleur.dim(`(v${event.version})`)}${renamed}`,
        ...event.warnings.map((w) => warningLine(w, cwd)),
      ];
      return { text: lines.join('\n'), toStderr: false };
    }
    case 'removed':
      return {
        text: `${at} ${kleur.yellow('−')} ${kleur.bold(event.greeter)} removed ${kleur.dim('(answers 404 now)')}`,
        toStderr: false,
      };
    case 'rejected': {
      const label = event.greeter ?? shownDir(event.dir, cwd);
      const stage = event.stage === 'validate' ? 'failed validation' : 'failed to load';
      const effect =
        event.serving !== undefined
          ? `still serving v${event.serving}`
          : event.servedBy !== undefined
            ? `${shownDir(event.servedBy, cwd)} keeps serving "${event.greeter}", ${shownDir(event.dir, cwd)} is refused`
            : event.answers === 503
              ? 'answers 503 until a save fixes it'
              : 'not served until a save fixes it';
      const lines = [
        `${at} ${kleur.red('✗')} ${kleur.bold(label)} ${stage} ${kleur.dim(`(${effect})`)}`,
        ...event.errors.map((e) => indent(formatError(e))),
      ];
      return { text: lines.join('\n'), toStderr: true };
    }
    case 'checked': {
      const label = event.greeter ?? shownDir(event.dir, cwd);
      const shown = event.shown ?? 0;
      const counts = [
        event.errors.length > 0 ? plural(event.errors.length, shown > 0 ? 'more error' : 'error') : '',
        event.warnings.length > 0 ? plural(event.warnings.length, 'warning') : '',
      ].filter((s) => s !== '');
      const effect =
        event.errors.length + shown > 0
          ? 'a save that keeps an error will not reload'
          : 'warnings do not stop a reload';
      // Its load errors were printed with the start-up report: they are not printed again.
      if (shown > 0) counts.unshift(`${plural(shown, 'error')} shown above`);
      const lines = [
        `${at} ${kleur.yellow('!')} ${kleur.bold(label)} validation: ${counts.join(', ')} ${kleur.dim(`(${effect})`)}`,
        ...event.errors.map((e) => indent(formatError(e))),
        ...event.warnings.map((w) => warningLine(w, cwd)),
      ];
      return { text: lines.join('\n'), toStderr: true };
    }
    case 'validated':
      return {
        text: `${at} ${kleur.dim(
          `validated ${plural(event.plugins, 'plugin')} in ${seconds(event.durationMs)}: saves are checked warm from now on`,
        )}`,
        toStderr: false,
      };
    case 'state': {
      const { problem } = event;
      const lines = [
        `${at} ${kleur.yellow('!')} ${kleur.bold(event.greeter)} ${problem.path} is ${problem.what} ${kleur.dim(
          `(session ${event.session}; ctx.state must be JSON-serialisable)`,
        )}`,
        `    ${kleur.yellow('warning')} ${kleur.dim(event.warning.code)} fix: ${problem.fix}`,
      ];
      return { text: lines.join('\n'), toStderr: true };
    }
    case 'error':
      return { text: `${at} ${formatError(event.error)}`, toStderr: true };
  }
}

/** A validator warning on one line: where, code, message. */
function warningLine(warning: NekoError, cwd: string): string {
  const where = warning.location
    ? `${formatLocation({ ...warning.location, file: shownDir(warning.location.file, cwd) })} `
    : '';
  const message = warning.message.split('\n')[0] ?? '';
  return `    ${kleur.yellow('warning')} ${where}${kleur.dim(warning.code)} ${message}`;
}

function ms(durationMs: number): string {
  return `${Math.max(1, Math.round(durationMs))} ms`;
}

function seconds(durationMs: number): string {
  return durationMs >= 1000 ? `${(durationMs / 1000).toFixed(1)} s` : ms(durationMs);
}
