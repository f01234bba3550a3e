/**
 * Copy as test: the chosen clients' timelines (all by default) as a vitest
 * test on `@nekoconnect/testing`, written by the server, shown in a
 * read-only code box and copied to the clipboard.
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api.js';
import type { PlaygroundClient } from '../../playground-store.js';

type Outcome = { code: string; note: string; copied: boolean } | { problem: string };

export function CopyTest({ clients }: { clients: readonly PlaygroundClient[] }): JSX.Element {
  const [left, setLeft] = useState<ReadonlySet<string>>(new Set());
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);
  const box = useRef<HTMLTextAreaElement>(null);
  const chosen = clients.filter((c) => !left.has(c.id));

  useEffect(() => {
    // The code box shows the code selected when the clipboard refused it, ready for Ctrl+C.
    if (outcome !== null && 'code' in outcome && !outcome.copied) box.current?.select();
  }, [outcome]);

  const copy = async (): Promise<void> => {
    setBusy(true);
    try {
      const { code } = await api.playgroundTest(chosen.map((c) => c.id));
      let copied = false;
      let note: string;
      try {
        await navigator.clipboard.writeText(code);
        copied = true;
        note = 'Copied to the clipboard: paste it into the plugin’s test file.';
      } catch (err) {
        note = `The clipboard refused it (${err instanceof Error ? err.message : String(err)}): the code is selected below, copy it with Ctrl+C.`;
      }
      setOutcome({ code, note, copied });
    } catch (err) {
      setOutcome({ problem: err instanceof Error ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="pg-copy card" aria-labelledby="pg-copy-title">
      <div class="pg-row">
        <h3 id="pg-copy-title" class="pg-copy-title">
          Copy as test
        </h3>
        <fieldset class="pg-copy-clients">
          <legend class="field-label">Clients</legend>
          {clients.map((c) => (
            <label key={c.id} class="pg-check">
              <input
                type="checkbox"
                checked={!left.has(c.id)}
                onChange={(event) => {
                  const next = new Set(left);
                  if (event.currentTarget.checked) next.delete(c.id);
                  else next.add(c.id);
                  setLeft(next);
                }}
              />
              {c.label}
            </label>
          ))}
        </fieldset>
        <span class="toolbar-spacer"></span>
        <button
          type="button"
          class="button button-primary"
          id="playground-copy"
          disabled={busy || chosen.length === 0}
          onClick={() => void copy()}
        >
          Copy as test
        </button>
      </div>
      {outcome === null ? null : 'problem' in outcome ? (
        <div class="pg-problem" role="alert">
          {outcome.problem}
        </div>
      ) : (
        <>
          <p class={`pg-copy-note${outcome.copied ? '' : ' is-refused'}`} role="status">
            {outcome.note}
          </p>
          <label class="field-label" for="playground-test-code">
            Test code
          </label>
          <textarea
            id="playground-test-code"
            class="pg-code mono"
            readOnly
            spellcheck={false}
            rows={Math.min(24, outcome.code.split('\n').length + 1)}
            value={outcome.code}
            ref={box}
          />
        </>
      )}
    </section>
  );
}
