/**
 * A plugin's `ctx.state` for a session, as the dashboard shows it: a JSON
 * copy. `ctx.state` should hold plain data, but nothing stops a plugin from
 * putting a function, a bigint, a cycle or a Map in it; such a part is
 * replaced by a marker object `{ "$unserialisable": "<what it is>" }` and
 * named in the list of problems, and the rest of the state is shown as it is.
 * Reading the state never throws and never changes it.
 */

/** The key of the marker object that stands for a part JSON cannot carry. */
export const UNSERIALISABLE = '$unserialisable';

/** The most nested levels shown; deeper parts are a marker. */
const MAX_DEPTH = 32;
/** The most values copied from one state (an enormous state is cut, with a problem saying so). */
const MAX_VALUES = 10_000;

/** A state as JSON, with what had to be replaced. */
export interface StateView {
  /** The JSON copy, markers in place of what JSON cannot carry. */
  readonly value: unknown;
  /** One line per replaced part, e.g. `state.timer is a function`; empty when the state is plain data. */
  readonly problems: string[];
}

/** The JSON copy of a session's state; see the module comment. */
export function stateView(state: unknown): StateView {
  const problems: string[] = [];
  const walk = { problems, open: new Set<object>(), values: 0 };
  return { value: copy(state, 'state', 0, walk), problems };
}

interface Walk {
  readonly problems: string[];
  readonly open: Set<object>;
  values: number;
}

function marker(walk: Walk, path: string, what: string): { [UNSERIALISABLE]: string } {
  walk.problems.push(`${path} ${what}`);
  return { [UNSERIALISABLE]: what };
}

function copy(value: unknown, path: string, depth: number, walk: Walk): unknown {
  if (++walk.values > MAX_VALUES) {
    if (walk.values === MAX_VALUES + 1) walk.problems.push(`the state has more than ${MAX_VALUES} values`);
    return { [UNSERIALISABLE]: 'cut: the state is too large to show whole' };
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : marker(walk, path, `is ${String(value)}, not a JSON number`);
    case 'undefined':
      return marker(walk, path, 'is undefined');
    case 'bigint':
      return marker(walk, path, `is a bigint (${String(value)}n)`);
    case 'symbol':
      return marker(walk, path, `is a symbol (${String(value.description ?? '')})`);
    case 'function':
      return marker(walk, path, `is a function${value.name ? ` (${value.name})` : ''}`);
    case 'object':
      break;
  }
  if (value === null) return null;
  if (walk.open.has(value)) return marker(walk, path, 'refers back to a value that contains it (a cycle)');
  if (depth >= MAX_DEPTH) return marker(walk, path, `is nested more than ${MAX_DEPTH} levels deep`);
  walk.open.add(value);
  try {
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      for (let i = 0; i < value.length; i++) out.push(copy(value[i], `${path}[${i}]`, depth + 1, walk));
      return out;
    }
    if (value instanceof Date) {
      return Number.isNaN(value.getTime()) ? marker(walk, path, 'is an invalid Date') : value.toISOString();
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
      return marker(
        walk,
        path,
        `is ${typeof name === 'string' && name !== '' ? `a ${name}` : 'an object'}, not plain data`,
      );
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      let item: unknown;
      try {
        item = (value as Record<string, unknown>)[key];
      } catch (err) {
        out[key] = marker(walk, `${path}${property(key)}`, `could not be read: ${(err as Error).message}`);
        continue;
      }
      out[key] = copy(item, `${path}${property(key)}`, depth + 1, walk);
    }
    return out;
  } catch (err) {
    return marker(walk, path, `could not be read: ${(err as Error).message}`);
  } finally {
    walk.open.delete(value);
  }
}

function property(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
