import type { JSX } from 'preact';

/** One line of a code frame: its gutter (`> 3 |`), the rest, and its class (`>` line, `^` caret). */
export interface FrameLine {
  readonly cls: string;
  readonly head: string;
  readonly rest: string;
}

/** A frame's lines, the `>` line and the `^` caret marked for styling, the text unchanged. */
export function frameLines(frame: string): FrameLine[] {
  return frame
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((line) => {
      const gutter = /^(\s*>?\s*\d*\s*\|)/.exec(line);
      const head = gutter ? gutter[1]! : '';
      const rest = line.slice(head.length);
      let cls = 'frame-line';
      if (/^\s*>/.test(line)) cls += ' frame-marked';
      else if (/^[\s^~]*\^[\s^~]*$/.test(rest) && rest.trim() !== '') cls += ' frame-caret';
      return { cls, head, rest };
    });
}

/** A plain-text code frame: the `>` line and the `^` caret marked for styling, the text unchanged. */
export function CodeFrame({ frame }: { frame: string }): JSX.Element {
  const lines = frameLines(frame);
  const out: (JSX.Element | string)[] = [];
  lines.forEach(({ cls, head, rest }, i) => {
    out.push(
      <span class={cls} key={i}>
        {head ? <span class="frame-gutter">{head}</span> : null}
        <span class="frame-code">{rest}</span>
      </span>,
    );
    if (i < lines.length - 1) out.push('\n');
  });
  return <pre class="code-frame">{out}</pre>;
}
