/**
 * A simulated client's composer: the greeter (the loaded ones offered, any
 * other may be typed), the op (from the plugin's `Op` table with its doc
 * comment, or a free number), the data as text, JSON or hex (checked here
 * before it goes), and Send / Request.
 */
import type { JSX } from 'preact';
import { useId, useState } from 'preact/hooks';
import type { PlaygroundDataKind } from '../../../../src/playground/wire.js';
import { api } from '../../api.js';
import { dataProblem } from '../../packet-data.js';
import { receiveEvents, type PlaygroundClient, type PlaygroundPlugin } from '../../playground-store.js';

const MAX_OP = 4294967295;

const PLACEHOLDERS: Record<PlaygroundDataKind, string> = {
  text: 'hello',
  json: '{"text": "hi"}',
  hex: '68 69',
};

export function Composer({
  client,
  plugins,
}: {
  client: PlaygroundClient;
  plugins: readonly PlaygroundPlugin[];
}): JSX.Element {
  const id = useId();
  const [greeter, setGreeter] = useState(plugins[0]?.greeter ?? '');
  const plugin = plugins.find((p) => p.greeter === greeter.trim());
  const ops = plugin?.ops ?? [];
  const [chosenOp, setChosenOp] = useState<string>('');
  const [freeOp, setFreeOp] = useState('0');
  const [kind, setKind] = useState<PlaygroundDataKind>('text');
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);

  // The op: one of the plugin's (the first unless another was picked), or the free number.
  const picked = ops.find((o) => String(o.op) === chosenOp) ?? ops[0];
  const opText = ops.length > 0 ? String(picked!.op) : freeOp.trim();
  const dataError = dataProblem(kind, value);

  const go = async (mode: 'send' | 'request'): Promise<void> => {
    const target = greeter.trim();
    if (target === '') {
      setProblem('Type a greeter (a plugin’s, as its spec.conf names it).');
      return;
    }
    const op = Number(opText);
    if (!/^\d+$/.test(opText) || !Number.isSafeInteger(op) || op > MAX_OP) {
      setProblem(`The op must be a whole number from 0 to ${MAX_OP}.`);
      return;
    }
    if (dataError !== null) {
      setProblem(dataError);
      return;
    }
    setProblem('');
    // A request holds the composer until it is answered; a send does not (its answer, if any, comes by the stream too).
    if (mode === 'request') setBusy(true);
    try {
      const answer = await api.send(client.id, { greeter: target, op, data: { kind, value }, mode });
      receiveEvents(answer.events);
    } catch (err) {
      setProblem(err instanceof Error ? err.message : String(err));
    } finally {
      if (mode === 'request') setBusy(false);
    }
  };

  const shownProblem = problem || (value !== '' ? (dataError ?? '') : '');
  return (
    <form
      class="pg-composer"
      aria-label={`Send from ${client.label}`}
      onSubmit={(event) => {
        event.preventDefault();
        void go('request');
      }}
    >
      <div class="pg-row">
        <label class="field pg-greeter" for={`${id}-greeter`}>
          <span class="field-label">Greeter</span>
        </label>
        <input
          id={`${id}-greeter`}
          type="text"
          class="mono"
          list={`${id}-greeters`}
          autocomplete="off"
          spellcheck={false}
          value={greeter}
          onInput={(event) => {
            setGreeter(event.currentTarget.value);
            setChosenOp('');
            setProblem('');
          }}
        />
        <datalist id={`${id}-greeters`}>
          {plugins.map((p) => (
            <option key={p.greeter} value={p.greeter}>
              {p.name}
            </option>
          ))}
        </datalist>
        <label class="field-label" for={`${id}-op`}>
          Op
        </label>
        {ops.length > 0 ? (
          <select
            id={`${id}-op`}
            class="mono"
            value={String(picked!.op)}
            aria-describedby={`${id}-op-doc`}
            onChange={(event) => setChosenOp(event.currentTarget.value)}
          >
            {ops.map((o) => (
              <option key={o.op} value={String(o.op)}>
                {`${o.op} · ${o.name}`}
              </option>
            ))}
          </select>
        ) : (
          <input
            id={`${id}-op`}
            class="mono pg-free-op"
            type="number"
            min={0}
            max={MAX_OP}
            step={1}
            value={freeOp}
            aria-describedby={`${id}-op-doc`}
            onInput={(event) => setFreeOp(event.currentTarget.value)}
          />
        )}
      </div>
      <p class="pg-op-doc" id={`${id}-op-doc`}>
        {ops.length > 0
          ? (picked!.doc ?? `${picked!.name}: no doc comment.`)
          : plugin !== undefined
            ? `Any op number: ${plugin.opsReason ?? 'the plugin declares no Op table'}.`
            : greeter.trim() === ''
              ? ''
              : `“${greeter.trim()}” is not a loaded plugin’s greeter: the server will answer that it does not know it.`}
      </p>
      <div class="pg-row">
        <label class="field-label" for={`${id}-kind`}>
          Data as
        </label>
        <select
          id={`${id}-kind`}
          value={kind}
          onChange={(event) => setKind(event.currentTarget.value as PlaygroundDataKind)}
        >
          <option value="text">text</option>
          <option value="json">JSON</option>
          <option value="hex">hex</option>
        </select>
      </div>
      <label class="field-label" for={`${id}-data`}>
        Data
      </label>
      <textarea
        id={`${id}-data`}
        class={`mono pg-data-input${shownProblem && dataError ? ' is-invalid' : ''}`}
        rows={3}
        spellcheck={false}
        placeholder={PLACEHOLDERS[kind]}
        value={value}
        aria-invalid={dataError !== null ? 'true' : 'false'}
        aria-describedby={`${id}-problem`}
        onInput={(event) => {
          setValue(event.currentTarget.value);
          setProblem('');
        }}
        onKeyDown={(event) => {
          // Ctrl+Enter (⌘+Enter) asks, as the Request button does.
          if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
            event.preventDefault();
            void go('request');
          }
        }}
      />
      <div class="pg-problem" id={`${id}-problem`} role="alert" hidden={shownProblem === ''}>
        {shownProblem}
      </div>
      <div class="pg-row pg-actions">
        <button
          type="button"
          class="button"
          disabled={busy || !client.open}
          title="Send the packet, without waiting for an answer"
          onClick={() => void go('send')}
        >
          Send
        </button>
        <button
          type="submit"
          class="button button-primary"
          disabled={busy || !client.open}
          title="Send the packet and wait for its answer (Ctrl+Enter)"
        >
          Request
        </button>
      </div>
    </form>
  );
}
