/**
 * Reading the flags of the benchmark scripts, the same way in each.
 */

/**
 * The number a flag gives, or `fallback` when it is not given. `1,000` and
 * `1_000` are read as 1000.
 * @param {string | undefined} text the flag's value
 * @param {number} fallback
 * @param {string} name the flag's name, for the error
 * @param {{ integer?: boolean, min: number, max: number }} range
 * @returns {number}
 */
export function numberFlag(text, fallback, name, range) {
  if (text === undefined) return fallback;
  const value = Number(text.replaceAll(/[,_]/g, ''));
  if (
    !Number.isFinite(value) ||
    value < range.min ||
    value > range.max ||
    (range.integer && !Number.isInteger(value))
  ) {
    throw new Error(
      `--${name} must be ${range.integer ? 'a whole number' : 'a number'} from ${range.min} to ${range.max}, got "${text}"`,
    );
  }
  return value;
}

/**
 * The names a comma-separated flag gives (`--targets neko,ws`), each once,
 * in the order of `known`; an alias stands for its name.
 * @template {string} T
 * @param {string} text the flag's value
 * @param {readonly T[]} known
 * @param {string} flag the flag's name, for the error
 * @param {string} what what a name names (`target`), for the error
 * @param {Record<string, T>} [aliases] other spellings, lower case
 * @returns {T[]}
 */
export function listFlag(text, known, flag, what, aliases = {}) {
  const wanted = new Set();
  for (const raw of text.split(',')) {
    const name = raw.trim().toLowerCase();
    if (name === '') continue;
    const id = /** @type {readonly string[]} */ (known).includes(name) ? name : aliases[name];
    if (id === undefined) {
      throw new Error(`--${flag}: unknown ${what} "${raw.trim()}"; the ${what}s are ${known.join(', ')}`);
    }
    wanted.add(id);
  }
  if (wanted.size === 0) throw new Error(`--${flag} needs at least one of ${known.join(', ')}`);
  return known.filter((id) => wanted.has(id));
}
