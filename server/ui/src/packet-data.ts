/**
 * What the Playground's composer checks before sending, by the rules the
 * server decodes with (playground/data.ts): JSON that parses, hex as pairs of
 * hex digits (spaces, `:`, `,` and `0x` allowed between bytes).
 */
import type { PlaygroundData, PlaygroundDataKind } from '../../src/playground/wire.js';

/** Why the typed data cannot be sent as `kind`, or null when it can. */
export function dataProblem(kind: PlaygroundDataKind, value: string): string | null {
  if (kind === 'text') return null;
  if (kind === 'json') {
    if (value.trim() === '') return null; // an empty packet
    try {
      JSON.parse(value);
      return null;
    } catch (err) {
      return `Not JSON: ${err instanceof Error ? err.message : String(err)}. Write a JSON value, e.g. {"text": "hi"}, or send it as text.`;
    }
  }
  const digits = value.replace(/0x/gi, '').replace(/[\s:,]/g, '');
  const bad = /[^0-9a-f]/i.exec(digits);
  if (bad !== null)
    return `Not hex: "${bad[0]}" at character ${bad.index + 1} of the digits. Write bytes as pairs of hex digits, e.g. 68 69 or 0x6869.`;
  if (digits.length % 2 !== 0)
    return `Not hex: ${digits.length} digits, an odd number (each byte is two). Write 0a rather than a.`;
  return null;
}

/** A packet's data in one line of text: its JSON, else its text, else its hex; `(empty)` for no bytes. */
export function dataSummary(data: PlaygroundData): { shown: string; as: 'json' | 'text' | 'hex' | 'empty' } {
  if (data.bytes === 0) return { shown: '(empty)', as: 'empty' };
  if (data.json !== undefined) return { shown: JSON.stringify(data.json), as: 'json' };
  if (data.text !== undefined) return { shown: data.text, as: 'text' };
  return { shown: (data.hex.match(/../g) ?? []).join(' '), as: 'hex' };
}
