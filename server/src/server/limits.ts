/**
 * The limits of protocol §6, declared once: each one's default, range, unit,
 * command-line flag and help line. `createServer`'s option check, the config
 * file's schema and the CLI's flags and help all read this table.
 */
import { MAX_UINT32, MIN_FRAME_LENGTH } from '../protocol/constants.js';

/** The limits of protocol §6. Every one is configurable. */
export interface Limits {
  /** Largest `packet_len` accepted, in bytes. Default 1 MiB. */
  maxPacketBytes: number;
  /** Time to complete the handshake, in ms. Default 10 s. */
  handshakeTimeoutMs: number;
  /** Close a session after this long without a byte from the client, in ms; 0 is off. Default off. */
  idleTimeoutMs: number;
  /** Connections at once; further ones are refused by the listener. Default 10,000. */
  maxConnections: number;
  /** Unused server randoms kept per session. Default 64. */
  nonceWindow: number;
  /** Default wait of `ctx.recv()`, in ms. Default 30 s. */
  recvTimeoutMs: number;
  /** On shutdown, how long running handlers may take before connections are cut, in ms. Default 10 s. */
  shutdownTimeoutMs: number;
  /**
   * Bytes that may wait to be sent to one client. A client that stops
   * reading lets them pile up; past this, its session is closed (slow
   * reader). Default 4 MiB.
   */
  maxPendingBytes: number;
  /**
   * On a drain (`SIGUSR2`, `nekoconnect drain`), how long conversations may
   * go on before the shutdown, in ms. Default 30 s.
   */
  drainTimeoutMs: number;
}

/** An inclusive range of whole numbers. */
export interface IntRange {
  min: number;
  max: number;
}

/** One limit: its default, the whole numbers it may be, and how the CLI offers it. */
export interface LimitSpec extends IntRange {
  default: number;
  unit: 'bytes' | 'ms' | 'count';
  /** The `start`/`dev` flag that sets it (without `--`); undefined when only the config file does. */
  flag: string | undefined;
  /** The help line of the flag: what the limit does. */
  help: string;
  /** How the help shows the default, when the bare number would not say enough. */
  defaultNote?: string;
}

const DAY_MS = 86_400_000;

/** Every limit, in the order the help and the docs list them. */
export const LIMITS = Object.freeze({
  maxPacketBytes: {
    default: 1024 * 1024,
    min: MIN_FRAME_LENGTH,
    max: MAX_UINT32,
    unit: 'bytes',
    flag: 'max-packet-bytes',
    help: 'largest packet accepted',
  },
  handshakeTimeoutMs: {
    default: 10_000,
    min: 1,
    max: DAY_MS,
    unit: 'ms',
    flag: 'handshake-timeout-ms',
    help: 'time to authenticate',
  },
  idleTimeoutMs: {
    default: 0,
    min: 0,
    max: DAY_MS,
    unit: 'ms',
    flag: 'idle-timeout-ms',
    help: 'close sessions idle this long',
    defaultNote: '0: off',
  },
  maxConnections: {
    default: 10_000,
    min: 1,
    max: 1_000_000,
    unit: 'count',
    flag: 'max-connections',
    help: 'connections at once',
  },
  nonceWindow: {
    default: 64,
    min: 1,
    max: 65_536,
    unit: 'count',
    flag: undefined,
    help: 'unused server randoms kept per session',
  },
  recvTimeoutMs: {
    default: 30_000,
    min: 1,
    max: DAY_MS,
    unit: 'ms',
    flag: 'recv-timeout-ms',
    help: 'default wait of ctx.recv()',
  },
  shutdownTimeoutMs: {
    default: 10_000,
    min: 0,
    max: DAY_MS,
    unit: 'ms',
    flag: undefined,
    help: 'how long running handlers may take on shutdown',
  },
  maxPendingBytes: {
    default: 4 * 1024 * 1024,
    min: 1024,
    max: MAX_UINT32,
    unit: 'bytes',
    flag: 'max-pending-bytes',
    help: 'bytes queued for one client before it is closed as a slow reader',
  },
  drainTimeoutMs: {
    default: 30_000,
    min: 0,
    max: DAY_MS,
    unit: 'ms',
    flag: 'drain-timeout-ms',
    help: 'on a drain (SIGUSR2), time conversations get before the shutdown',
  },
} as const satisfies Record<keyof Limits, LimitSpec>);

/** The flag of each limit that has one, by limit. */
export type LimitFlagName<K extends keyof Limits = keyof Limits> = NonNullable<(typeof LIMITS)[K]['flag']>;

/** The names of the limits, in table order. */
export const LIMIT_KEYS = Object.keys(LIMITS) as (keyof Limits)[];

/** The default of each limit. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze(
  Object.fromEntries(LIMIT_KEYS.map((key) => [key, LIMITS[key].default])) as unknown as Limits,
);

/** The whole-number range of each limit, shared by `createServer`, the config file and the CLI flags. */
export const LIMIT_RANGES: Readonly<Record<keyof Limits, IntRange>> = Object.freeze(
  Object.fromEntries(
    LIMIT_KEYS.map((key) => [key, Object.freeze({ min: LIMITS[key].min, max: LIMITS[key].max })]),
  ) as unknown as Record<keyof Limits, IntRange>,
);

/** The range of a TCP port; 0 picks a free one. */
export const PORT_RANGE: Readonly<IntRange> = Object.freeze({ min: 0, max: 65535 });

/** Whether `value` is a whole number in `range`. */
export function inRange(value: unknown, range: IntRange): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= range.min && value <= range.max;
}
