import type { JSX } from 'preact';

const TOKEN = /("(?:[^"\\]|\\.)*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;

/** Pretty JSON with light colouring; its text is exactly `JSON.stringify(value, null, 2)`. */
export function JsonBlock({ value }: { value: unknown }): JSX.Element {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, null, 2);
  } catch {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  const out: (JSX.Element | string)[] = [];
  let last = 0;
  TOKEN.lastIndex = 0;
  let match: RegExpExecArray | null;
  while ((match = TOKEN.exec(text)) !== null) {
    if (match.index > last) out.push(text.slice(last, match.index));
    const at = match.index;
    if (match[1] !== undefined) {
      out.push(
        <span class={match[2] ? 'j-key' : 'j-str'} key={at}>
          {match[1]}
        </span>,
      );
      if (match[2]) out.push(match[2]);
    } else if (match[3] !== undefined) {
      out.push(
        <span class="j-lit" key={at}>
          {match[3]}
        </span>,
      );
    } else {
      out.push(
        <span class="j-num" key={at}>
          {match[4]}
        </span>,
      );
    }
    last = TOKEN.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return <pre class="json">{out}</pre>;
}
