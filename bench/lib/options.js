/**
 * Reading the numeric flags of the benchmark scripts, the same way in each.
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
