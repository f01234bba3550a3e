/**
 * Whether a session's `ctx.state` is JSON-serialisable, as the plugin docs
 * ask: plain objects, arrays, strings, finite numbers, booleans and null.
 * A clustered server will move a session's state between processes as
 * JSON; what JSON cannot carry (a function, a class instance, a Map, a
 * cycle…) would be lost or changed on the way, so `nekoconnect dev` warns
 * about it while the plugin is being written. Pure: it only reads the value.
 */

/** One value of a state that JSON cannot carry as it is. */
export interface StateProblem {
  /** The top-level key of `ctx.state` it is under. */
  readonly key: string;
  /** Where it is, from `ctx.state`: `ctx.state.game.players[1].socket`. */
  readonly path: string;
  /** What it is: `a function`, `a Map`, `an instance of class Player`, `NaN`… */
  readonly what: string;
  /** What JSON would make of it, and what to store instead. */
  readonly fix: string;
}

/** Values looked at per state at most: a huge state is checked up to there (the rest is not reported). */
export const MAX_CHECKED_VALUES = 10_000;

/**
 * The values of `state` that JSON cannot carry, at most one per top-level
 * key (the first found, depth first, in key order).
 */
export function checkStateJson(state: unknown, maxValues = MAX_CHECKED_VALUES): StateProblem[] {
  const problems: StateProblem[] = [];
  if (state === null || typeof state !== 'object') return problems;
  const walk = new Walk(maxValues);
  for (const key of Object.keys(state)) {
    const found = walk.find((state as Record<string, unknown>)[key], `ctx.state${member(key)}`, [state]);
    if (found !== undefined) problems.push({ key, ...found });
    if (walk.exhausted) break;
  }
  return problems;
}

type Found = Omit<StateProblem, 'key'>;

class Walk {
  #left: number;

  constructor(maxValues: number) {
    this.#left = maxValues;
  }

  get exhausted(): boolean {
    return this.#left <= 0;
  }

  /**
   * The first problem in `value` at `path`; `ancestors` are the objects
   * that hold it, from `ctx.state` down, to tell a cycle.
   */
  find(value: unknown, path: string, ancestors: object[], inArray = false): Found | undefined {
    if (this.#left-- <= 0) return undefined;
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return undefined;
      case 'number':
        if (Number.isFinite(value)) return undefined;
        return {
          path,
          what: String(value),
          fix: 'JSON writes it as null: store null, or a finite number',
        };
      case 'undefined':
        // A property set to undefined is only left out, as if never set; in an array it becomes null.
        if (!inArray) return undefined;
        return { path, what: 'undefined inside an array', fix: 'JSON writes it as null: store null' };
      case 'bigint':
        return {
          path,
          what: `a bigint (${value}n)`,
          fix: 'JSON cannot write a bigint at all: store it as a string (String(n)), or as a number when it fits',
        };
      case 'symbol':
        return { path, what: 'a symbol', fix: 'JSON leaves it out: store a string' };
      case 'function':
        return {
          path,
          what: isClass(value) ? `a class (${value.name || 'anonymous'})` : 'a function',
          fix: 'JSON leaves it out: keep data in ctx.state (an id, a name) and the functions in the Logic class or the module',
        };
      case 'object':
        return this.#object(value, path, ancestors);
    }
  }

  #object(value: object | null, path: string, ancestors: object[]): Found | undefined {
    if (value === null) return undefined;
    const cycleAt = ancestors.indexOf(value);
    if (cycleAt >= 0) {
      return {
        path,
        what: `a cycle: it is ${cycleAt === 0 ? 'ctx.state itself' : 'an object that holds it'}`,
        fix: 'JSON cannot write a cycle at all: store an id of the object instead of the object',
      };
    }
    const kind = nonPlainKind(value);
    if (kind !== undefined) return { path, ...kind };
    const inner = [...ancestors, value];
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        if (!(i in value)) {
          return {
            path: `${path}[${i}]`,
            what: 'a hole in an array',
            fix: 'JSON writes it as null: store null',
          };
        }
        const found = this.find(value[i], `${path}[${i}]`, inner, true);
        if (found !== undefined || this.exhausted) return found;
      }
      return undefined;
    }
    for (const key of Object.keys(value)) {
      const found = this.find((value as Record<string, unknown>)[key], `${path}${member(key)}`, inner);
      if (found !== undefined || this.exhausted) return found;
    }
    return undefined;
  }
}

/** For an object that is not a plain object or array: what it is and the fix. */
function nonPlainKind(value: object): Omit<Found, 'path'> | undefined {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null || proto === Array.prototype) return undefined;
  if (value instanceof Map) {
    return {
      what: 'a Map',
      fix: 'JSON writes it as {} and its entries are lost: store a plain object (Object.fromEntries(map)) or an array of [key, value] pairs',
    };
  }
  if (value instanceof Set) {
    return {
      what: 'a Set',
      fix: 'JSON writes it as {} and its values are lost: store an array ([...set])',
    };
  }
  if (value instanceof Date) {
    return {
      what: 'a Date',
      fix: 'JSON writes it as a string, which comes back as a string: store date.getTime() (a number) or date.toISOString()',
    };
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    const name = Buffer.isBuffer(value) ? 'Buffer' : value.constructor.name;
    return {
      what: `a ${name}`,
      fix: 'JSON does not write bytes as bytes: store a base64 string (Buffer.from(bytes).toString("base64")) or an array of numbers',
    };
  }
  const name = className(value);
  return {
    what: name === undefined ? 'an object with a prototype' : `an instance of class ${name}`,
    fix: 'JSON keeps its own fields but not its class, so its methods and getters are gone after a move: store the plain data ({ ...value } or the fields you need) and rebuild the instance when you need it',
  };
}

function className(value: object): string | undefined {
  const ctor: unknown = (Object.getPrototypeOf(value) as { constructor?: unknown } | null)?.constructor;
  return typeof ctor === 'function' && ctor.name !== '' ? ctor.name : undefined;
}

function isClass(fn: unknown): fn is { name: string } {
  return typeof fn === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

/** `.name` for an identifier key, `["two words"]` for any other. */
function member(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
