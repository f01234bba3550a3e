import kleur from 'kleur';
import type { AddressInfo } from 'node:net';
import { clock } from '../format.js';
import type { LogRecord, Logger } from '../logging/logger.js';

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

/** One log record as a terminal line: `12:00:01 info  [echo] s-3 message`. */
export function formatLogRecord(record: LogRecord): string {
  const parts = [kleur.dim(clock(record.time)), LEVEL_LABEL[record.level]()];
  if (record.plugin) parts.push(kleur.magenta(`[${record.plugin}]`));
  if (record.session) parts.push(kleur.dim(record.session));
  parts.push(record.message);
  if (record.code) parts.push(kleur.dim(`(${record.code})`));
  return parts.join(' ');
}

/** What {@link printLogs} gives back: a way to hold lines while a report says the same. */
export interface LogPrinter {
  /** Keeps the records from now on instead of printing them. */
  hold(): void;
  /** Prints the records held, except those `covered` says a report already printed, and prints again. */
  release(covered: (record: LogRecord) => boolean): void;
}

/** Prints every log record of a server: info to `out`, warnings and errors to `err`. */
export function printLogs(
  logger: Logger,
  io: { out: (line: string) => void; err: (line: string) => void },
): LogPrinter {
  let held: LogRecord[] | undefined;
  const print = (record: LogRecord): void => {
    const line = formatLogRecord(record);
    if (record.level === 'info') io.out(line);
    else io.err(line);
  };
  logger.subscribe((record) => {
    if (held) held.push(record);
    else print(record);
  });
  return {
    hold: () => {
      held ??= [];
    },
    release: (covered) => {
      const records = held ?? [];
      held = undefined;
      for (const record of records) if (!covered(record)) print(record);
    },
  };
}

/** `listening on tcp://127.0.0.1:10390  (Ctrl+C to stop)`. */
export function listeningLine(address: AddressInfo, tls: boolean): string {
  return `${kleur.green('listening')} on ${tls ? 'tls' : 'tcp'}://${address.address}:${address.port}  ${kleur.dim('(Ctrl+C to stop)')}`;
}
