/**
 * A simulated client's timeline: what it sent, the replies (with their
 * latency), what was pushed to it, statuses, the plugin's `recv()` waits,
 * errors and its close, each with its time; newest at the bottom, followed
 * while scrolled to the bottom.
 */
import type { JSX } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import type { PlaygroundData } from '../../../../src/playground/wire.js';
import { fmtClock, fmtDateTime, fmtLatency } from '../../format.js';
import { dataSummary } from '../../packet-data.js';
import type { PlaygroundClient, PlaygroundEvent, PlaygroundPlugin } from '../../playground-store.js';

/** `op 1 (Echo)` when the plugin names it. */
function opLabel(plugins: readonly PlaygroundPlugin[], greeter: string, op: number): string {
  const name = plugins.find((p) => p.greeter === greeter)?.ops.find((o) => o.op === op)?.name;
  return name === undefined ? `op ${op}` : `op ${op} (${name})`;
}

function Data({ data }: { data: PlaygroundData }): JSX.Element {
  const { shown, as } = dataSummary(data);
  return (
    <div class="pg-data" data-as={as} title={`${data.bytes} bytes · hex ${data.hex || '(none)'}`}>
      <span class="pg-data-as">{as === 'empty' ? '' : as}</span>
      <code class="pg-data-value">{shown}</code>
    </div>
  );
}

/** What one event says, in words: its headline, and the packet's data when it carries one. */
function describe(
  event: PlaygroundEvent,
  plugins: readonly PlaygroundPlugin[],
): { arrow: string; title: string; detail?: string; data?: PlaygroundData; bad?: boolean } {
  switch (event.kind) {
    case 'open':
      return { arrow: '•', title: 'opened' };
    case 'sent':
      return {
        arrow: '→',
        title: `${event.mode} ${event.greeter} ${opLabel(plugins, event.greeter, event.op)}`,
        data: event.data,
      };
    case 'reply':
      return {
        arrow: '←',
        title: `reply ${event.greeter} ${opLabel(plugins, event.greeter, event.op)}`,
        detail: `${fmtLatency(event.latencyMs)} · to #${event.answers}`,
        data: event.data,
      };
    case 'push':
      return {
        arrow: '←',
        title: `push ${event.greeter} ${opLabel(plugins, event.greeter, event.op)}`,
        data: event.data,
      };
    case 'status':
      return {
        arrow: '←',
        title: `status ${event.status} ${event.text}`,
        detail: [
          event.greeter,
          event.latencyMs === undefined ? null : fmtLatency(event.latencyMs),
          event.answers === undefined ? null : `to #${event.answers}`,
        ]
          .filter(Boolean)
          .join(' · '),
        bad: event.status >= 400,
      };
    case 'wait':
      return {
        arrow: '⋯',
        title: event.phase === 'waiting' ? `${event.greeter} recv() waiting` : `${event.greeter} recv() done`,
      };
    case 'error':
      return {
        arrow: '!',
        title: `error ${event.code}`,
        detail: `${event.message}${event.answers === undefined ? '' : ` · to #${event.answers}`}`,
        bad: true,
      };
    case 'close':
      return {
        arrow: '×',
        title: `closed by the ${event.by}`,
        ...(event.status === undefined ? {} : { detail: `status ${event.status}` }),
      };
  }
}

export function Timeline({
  client,
  plugins,
}: {
  client: PlaygroundClient;
  plugins: readonly PlaygroundPlugin[];
}): JSX.Element {
  const list = useRef<HTMLOListElement>(null);
  const follow = useRef(true);
  useLayoutEffect(() => {
    const node = list.current;
    if (node !== null && follow.current) node.scrollTop = node.scrollHeight;
  }, [client.events.length]);
  return (
    <ol
      class="pg-timeline"
      ref={list}
      aria-label={`Timeline of ${client.label}`}
      tabIndex={0}
      onScroll={() => {
        const node = list.current;
        if (node !== null && node.clientHeight > 0)
          follow.current = node.scrollHeight - node.scrollTop - node.clientHeight < 24;
      }}
    >
      {client.events.map((event) => {
        const { arrow, title, detail, data, bad } = describe(event, plugins);
        return (
          <li
            key={event.seq}
            class={`pg-event pg-event-${event.kind}${bad ? ' is-bad' : ''}`}
            data-kind={event.kind}
            data-seq={event.seq}
            {...(event.kind === 'status' ? { 'data-status': String(event.status) } : {})}
            {...('op' in event ? { 'data-op': String(event.op) } : {})}
          >
            <time class="pg-time" title={fmtDateTime(event.at)}>
              {fmtClock(event.at)}
            </time>
            <span class="pg-seq">#{event.seq}</span>
            <span class="pg-arrow" aria-hidden="true">
              {arrow}
            </span>
            <div class="pg-event-body">
              <span class="pg-event-title">{title}</span>
              {detail ? <span class="pg-event-detail">{detail}</span> : null}
              {data ? <Data data={data} /> : null}
            </div>
          </li>
        );
      })}
    </ol>
  );
}
