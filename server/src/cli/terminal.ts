import kleur from 'kleur';
import type { AddressInfo } from 'node:net';
import { clock } from '../format.js';
import type { LogRecord } from '../logging/logger.js';

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
  debug: () => kleur.gray('debug'),
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

/** `listening on tcp://127.0.0.1:10390  (Ctrl+C to stop)`. */
export function listeningLine(address: AddressInfo, tls: boolean): string {
  return `${kleur.green('listening')} on ${tls ? 'tls' : 'tcp'}://${address.address}:${address.port}  ${kleur.dim('(Ctrl+C to stop)')}`;
}
