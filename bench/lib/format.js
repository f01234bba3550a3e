/**
 * Number and table formatting for the benchmark reports.
 */

/**
 * A number with thousands separators and a fixed number of decimals ('n/a'
 * when it is not finite).
 * @param {number} value
 * @param {number} digits
 * @returns {string}
 */
export const fmt = (value, digits) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : 'n/a';

/**
 * A ratio such as `0.64x`.
 * @param {number} value
 * @returns {string}
 */
export const fmtRatio = (value) => (Number.isFinite(value) ? `${value.toFixed(2)}x` : 'n/a');

/**
 * A byte count in KiB or MiB.
 * @param {number} bytes
 * @returns {string}
 */
export const fmtBytes = (bytes) =>
  Math.abs(bytes) >= 1024 * 1024 ? `${fmt(bytes / 1024 / 1024, 1)} MiB` : `${fmt(bytes / 1024, 2)} KiB`;

/**
 * Columns padded to their widest cell, two spaces apart.
 * @param {string[][]} rows
 * @param {('l' | 'r')[]} align
 * @returns {string}
 */
export function table(rows, align) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (align[i] === 'l' ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
