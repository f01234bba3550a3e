import kleur from 'kleur';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { NekoError } from '../errors.js';
import type { LogRecord, Logger } from '../logging/logger.js';
import { codeFrame, formatLocation } from '../plugins/code-frame.js';

/**
 * Colors on when the stream is a TTY and `NO_COLOR` is unset (or when
 * `FORCE_COLOR` asks for them).
 */
export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

/** Sets kleur's colors for this process from {@link useColor}. */
export function configureColor(stream?: NodeJS.WriteStream): void {
  kleur.enabled = useColor(stream);
}

const LEVEL_LABEL = {
  info: () => kleur.cyan('info '),
  warn: () => kleur.yellow('warn '),
  error: () => kleur.red('error'),
} as const;

function clock(time: number): string {
  const d = new Date(time);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** One log record as a terminal line: `12:00:01 info  [echo] s-3 message`. */
export function formatLogRecord(record: LogRecord): string {
  const parts = [kleur.dim(clock(record.time)), LEVEL_LABEL[record.level]()];
  if (record.plugin) parts.push(kleur.magenta(`[${record.plugin}]`));
  if (record.session) parts.push(kleur.dim(record.session));
  parts.push(record.message);
  if (record.code) parts.push(kleur.dim(`(${record.code})`));
  return parts.join(' ');
}

/**
 * A coded error for a person: `file:line:col` when it points into a file,
 * the code and message, a code frame, and the hint.
 */
export function formatError(err: NekoError): string {
  const lines: string[] = [];
  const where = err.location ? `${kleur.bold(formatLocation(err.location))} ` : '';
  lines.push(`${kleur.red('error')} ${where}${kleur.dim(err.code)}`);
  lines.push(`  ${err.message}`);
  if (err.location) {
    try {
      const source = readFileSync(err.location.file, 'utf8');
      const frame = codeFrame(source, err.location.line, err.location.column);
      lines.push(
        frame
          .split('\n')
          .map((l) => `    ${l.startsWith('>') ? kleur.red(l) : kleur.dim(l)}`)
          .join('\n'),
      );
    } catch {
      // The file is gone or unreadable: the location alone still helps.
    }
  }
  if (err.hint) lines.push(`  ${kleur.cyan('fix:')} ${err.hint}`);
  return lines.join('\n');
}

/** Prints every log record of a server: info to `out`, warnings and errors to `err`. */
export function printLogs(
  logger: Logger,
  io: { out: (line: string) => void; err: (line: string) => void },
): void {
  logger.subscribe((record) => {
    const line = formatLogRecord(record);
    if (record.level === 'info') io.out(line);
    else io.err(line);
  });
}

/** `listening on tcp://127.0.0.1:10390  (Ctrl+C to stop)`. */
export function listeningLine(address: AddressInfo, tls: boolean): string {
  return `${kleur.green('listening')} on ${tls ? 'tls' : 'tcp'}://${address.address}:${address.port}  ${kleur.dim('(Ctrl+C to stop)')}`;
}
