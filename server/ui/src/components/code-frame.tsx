import type { JSX } from 'preact';

/** A plain-text code frame: the `>` line and the `^` caret marked for styling, the text unchanged. */
export function CodeFrame({ frame }: { frame: string }): JSX.Element {
  const lines = frame.replace(/\r\n/g, '\n').split('\n');
  const out: (JSX.Element | string)[] = [];
  lines.forEach((line, i) => {
    const gutter = /^(\s*>?\s*\d*\s*\|)/.exec(line);
    const head = gutter ? gutter[1]! : '';
    const rest = line.slice(head.length);
    let cls = 'frame-line';
    if (/^\s*>/.test(line)) cls += ' frame-marked';
    else if (/^[\s^~]*\^[\s^~]*$/.test(rest) && rest.trim() !== '') cls += ' frame-caret';
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
