/**
 * A resumable session moving between the processes of a cluster: the
 * package the process that held it sends to the process its client resumed
 * on (docs/cluster.md, "A resume on another process"). It carries the
 * session's id, what each plugin it joined keeps for it (`ctx.state`, a
 * structured clone, and its groups), the grace it had left, and the packets
 * kept for it during the gap, in order. It is written with `v8.serialize`,
 * the structured clone of Node.js.
 */
import { deserialize, serialize } from 'node:v8';
import type { SendData } from '../context/context.js';
import { NekoError } from '../errors.js';

/** What one plugin keeps for a moving session. */
export interface MovedPlugin {
  readonly greeter: string;
  /** The plugin's `ctx.state` for the session. */
  readonly state: Record<string, unknown>;
  /** The plugin's groups (`ctx.group(name)`) the session is in. */
  readonly groups: readonly string[];
}

/** A packet kept for the session while it waited for its client. */
export interface MovedPacket {
  readonly greeter: string;
  readonly op: number;
  readonly data: SendData;
}

/** A session handed over from one process to another. */
export interface SessionHandover {
  readonly sessionId: string;
  /** What was left of its grace period when it was handed over, in ms. */
  readonly graceLeftMs: number;
  /** The plugins it joined, in the order it joined them. */
  readonly plugins: readonly MovedPlugin[];
  /** The packets kept for it during the gap, in the order they were sent. */
  readonly kept: readonly MovedPacket[];
}

/** The package's layout version: a process refuses a package of another one. */
const VERSION = 1;

interface Wire {
  v: number;
  id: string;
  grace: number;
  plugins: { g: string; state: Uint8Array; groups: string[] }[];
  kept: { g: string; op: number; d: SendData }[];
}

/**
 * Writes the package; or says which plugin's state cannot be copied
 * (`NEKO_ERR_SESSION_HANDOVER_STATE`), and the session cannot move.
 */
export function encodeHandover(
  handover: SessionHandover,
): { readonly bytes: Buffer } | { readonly greeter: string; readonly error: NekoError } {
  const plugins: Wire['plugins'] = [];
  for (const plugin of handover.plugins) {
    const state = cloneState(handover.sessionId, plugin);
    if (state instanceof NekoError) return { greeter: plugin.greeter, error: state };
    plugins.push({ g: plugin.greeter, state, groups: [...plugin.groups] });
  }
  const wire: Wire = {
    v: VERSION,
    id: handover.sessionId,
    grace: handover.graceLeftMs,
    plugins,
    kept: handover.kept.map((packet) => ({ g: packet.greeter, op: packet.op, d: packet.data })),
  };
  return { bytes: serialize(wire) };
}

/**
 * Reads a package.
 * @throws NekoError `NEKO_ERR_SESSION_HANDOVER` when it is not one this version writes
 */
export function decodeHandover(bytes: Uint8Array): SessionHandover {
  let wire: Wire;
  try {
    wire = deserialize(bytes) as Wire;
  } catch (err) {
    throw malformed(`it cannot be read (${(err as Error).message})`);
  }
  if (typeof wire !== 'object' || wire === null || wire.v !== VERSION) {
    throw malformed(
      `its layout version is ${String((wire as Partial<Wire> | null)?.v)}, this process reads ${VERSION}`,
    );
  }
  if (
    typeof wire.id !== 'string' ||
    typeof wire.grace !== 'number' ||
    !Array.isArray(wire.plugins) ||
    !Array.isArray(wire.kept)
  ) {
    throw malformed('a field is missing');
  }
  return {
    sessionId: wire.id,
    graceLeftMs: wire.grace,
    plugins: wire.plugins.map((plugin) => ({
      greeter: plugin.g,
      state: deserialize(plugin.state) as Record<string, unknown>,
      groups: plugin.groups,
    })),
    kept: wire.kept.map((packet) => ({ greeter: packet.g, op: packet.op, data: packet.d })),
  };
}

/** A plugin's state, cloned; the refusal when the clone would not be the same value. */
function cloneState(sessionId: string, plugin: MovedPlugin): Uint8Array | NekoError {
  const path = unclonable(plugin.state, 'ctx.state', new Set());
  let bytes: Buffer | undefined;
  let reason = path;
  if (reason === undefined) {
    try {
      bytes = serialize(plugin.state);
    } catch (err) {
      reason = `ctx.state: ${(err as Error).message}`;
    }
  }
  if (bytes === undefined) {
    return new NekoError(
      'NEKO_ERR_SESSION_HANDOVER_STATE',
      `session ${sessionId} cannot move to another process: the state plugin ${plugin.greeter} keeps for it cannot be copied (${reason})`,
      {
        hint: 'Keep only structured-clonable values in ctx.state (plain objects, arrays, strings, numbers, Map, Set, Date, typed arrays); keep functions and class instances in the Logic instance, keyed by session id.',
      },
    );
  }
  return bytes;
}

/** Prototypes of the values a structured clone copies as they are. */
const CLONABLE: readonly object[] = [
  Object.prototype,
  Array.prototype,
  Map.prototype,
  Set.prototype,
  Date.prototype,
  RegExp.prototype,
  ArrayBuffer.prototype,
  DataView.prototype,
  Boolean.prototype,
  Number.prototype,
  String.prototype,
  BigInt.prototype,
];

/**
 * Where a value holds something a structured clone would not copy as it is,
 * said as a path (`ctx.state.player`: an instance of class Player), or
 * undefined. A class instance would arrive as a plain object, without its
 * class, its methods or its private fields, so it is refused too.
 */
function unclonable(value: unknown, path: string, seen: Set<object>): string | undefined {
  if (typeof value === 'function') return `${path}: a function`;
  if (typeof value === 'symbol') return `${path}: a symbol`;
  if (typeof value !== 'object' || value === null || seen.has(value)) return undefined;
  seen.add(value);
  const proto = Object.getPrototypeOf(value) as object | null;
  const builtIn =
    proto === null || CLONABLE.includes(proto) || ArrayBuffer.isView(value) || value instanceof Error;
  if (!builtIn) {
    const name = (proto as { constructor?: { name?: string } }).constructor?.name;
    return `${path}: an instance of class ${name || '(anonymous)'}`;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) {
      const found = unclonable(k, `${path} key`, seen) ?? unclonable(v, `${path}.get(${String(k)})`, seen);
      if (found) return found;
    }
    return undefined;
  }
  if (value instanceof Set) {
    for (const v of value) {
      const found = unclonable(v, `${path} member`, seen);
      if (found) return found;
    }
    return undefined;
  }
  if (ArrayBuffer.isView(value) || value instanceof Error) return undefined;
  for (const key of Object.keys(value)) {
    const found = unclonable((value as Record<string, unknown>)[key], `${path}.${key}`, seen);
    if (found) return found;
  }
  return undefined;
}

function malformed(why: string): NekoError {
  return new NekoError(
    'NEKO_ERR_SESSION_HANDOVER',
    `a session handed over by another process of the cluster was refused: ${why}`,
    { hint: 'Run the same NekoConnect version on every process of the cluster.' },
  );
}
