/**
 * The Playground view: simulated clients (real sessions on the server,
 * authenticated there) side by side, each with its timeline and composer,
 * and Copy as test. Off (under `start` without `--playground`), it says why.
 */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { EmptyState } from '../components/empty-state.js';
import {
  connectPlayground,
  disconnectPlayground,
  dropClient,
  loadPlayground,
  playground,
  putClient,
  type PlaygroundClient,
  type PlaygroundPlugin,
} from '../playground-store.js';
import { app } from '../state.js';
import { useStore } from '../store.js';
import { Composer } from './playground/composer.js';
import { CopyTest } from './playground/copy-test.js';
import { Timeline } from './playground/timeline.js';

function ClientColumn({
  client,
  plugins,
}: {
  client: PlaygroundClient;
  plugins: readonly PlaygroundPlugin[];
}): JSX.Element {
  const [problem, setProblem] = useState('');
  const act = async (what: () => Promise<unknown>): Promise<void> => {
    try {
      setProblem('');
      await what();
    } catch (err) {
      setProblem(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <section
      class={`pg-client card${client.open ? '' : ' is-closed'}`}
      data-client={client.id}
      aria-label={client.label}
    >
      <header class="pg-client-head">
        <h3 class="pg-client-label">{client.label}</h3>
        <span class="chip mono" title="Its session on the server (as the Sessions view shows it)">
          {client.sessionId}
        </span>
        <span class={`badge ${client.open ? 'status-loaded' : 'status-failed'}`}>
          {client.open ? 'open' : 'closed'}
        </span>
        <span class="toolbar-spacer"></span>
        {client.open ? (
          <button
            type="button"
            class="button button-quiet button-small"
            onClick={() => void act(async () => putClient(await api.closeClient(client.id)))}
          >
            Close client
          </button>
        ) : (
          <button
            type="button"
            class="button button-quiet button-small"
            title="Forget this client and its timeline"
            onClick={() =>
              void act(async () => {
                await api.removeClient(client.id);
                dropClient(client.id);
              })
            }
          >
            Remove
          </button>
        )}
      </header>
      {problem ? (
        <div class="pg-problem" role="alert">
          {problem}
        </div>
      ) : null}
      <Timeline client={client} plugins={plugins} />
      <Composer client={client} plugins={plugins} />
    </section>
  );
}

export function PlaygroundView({ active }: { active: boolean }): JSX.Element {
  const state = useStore(playground);
  const { authFailed } = useStore(app);
  const [problem, setProblem] = useState('');
  const [opening, setOpening] = useState(false);
  const [label, setLabel] = useState('');

  // Shown: read the Playground, then follow its events while it is on.
  useEffect(() => {
    if (!active) return;
    let gone = false;
    const read = (): void => {
      void loadPlayground().then((info) => {
        if (!gone && info?.enabled) connectPlayground();
      });
    };
    read();
    // Back to the page: the plugins may have reloaded meanwhile.
    const onVisible = (): void => {
      if (document.visibilityState === 'visible') read();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      gone = true;
      document.removeEventListener('visibilitychange', onVisible);
      disconnectPlayground();
    };
  }, [active]);

  const open = async (): Promise<void> => {
    setOpening(true);
    try {
      setProblem('');
      putClient(await api.openClient(label.trim() === '' ? undefined : label.trim()));
      setLabel('');
    } catch (err) {
      setProblem(err instanceof Error ? err.message : String(err));
    } finally {
      setOpening(false);
    }
  };

  const { info, plugins, clients } = state;
  let body: JSX.Element;
  if (info === null) body = authFailed ? <></> : <EmptyState text="Reading the Playground…" />;
  else if (!info.enabled)
    body = (
      <div class="empty-state pg-off" role="status">
        The Playground is off: {info.reason}
      </div>
    );
  else
    body = (
      <>
        <form
          class="toolbar pg-toolbar"
          onSubmit={(event) => {
            event.preventDefault();
            void open();
          }}
        >
          <label class="field">
            <span class="field-label">Name</span>
            <input
              type="text"
              id="playground-label"
              placeholder="optional"
              maxLength={64}
              autocomplete="off"
              spellcheck={false}
              value={label}
              onInput={(event) => setLabel(event.currentTarget.value)}
            />
          </label>
          <button type="submit" class="button button-primary" id="playground-open" disabled={opening}>
            Open client
          </button>
          <span class="muted">
            {plugins.length === 0
              ? 'No plugin is loaded.'
              : `Plugins: ${plugins.map((p) => p.greeter).join(', ')}`}
          </span>
          <span class="toolbar-spacer"></span>
          <button
            type="button"
            class="button button-quiet button-small"
            title="Read the loaded plugins and their ops again (after a reload)"
            onClick={() => void loadPlayground()}
          >
            Refresh plugins
          </button>
          <span class="field-label" title="The stream of the clients' timeline events">
            {state.live ? 'timelines live' : 'timelines connecting…'}
          </span>
        </form>
        {problem ? (
          <div class="pg-problem" role="alert">
            {problem}
          </div>
        ) : null}
        {clients.length === 0 ? (
          <EmptyState text="No client yet: open one, then send packets from it to a plugin." />
        ) : (
          <div class="pg-clients">
            {clients.map((c) => (
              <ClientColumn key={c.id} client={c} plugins={plugins} />
            ))}
          </div>
        )}
        {clients.length > 0 ? <CopyTest clients={clients} /> : null}
      </>
    );

  return (
    <section
      class="panel panel-scroll panel-playground"
      id="panel-playground"
      role="tabpanel"
      aria-labelledby="tab-playground"
      hidden={!active}
    >
      <div class="panel-head">
        <h2>Playground</h2>
        <span class="panel-summary">
          Simulated clients: real sessions on this server, authenticated by it. Try a plugin’s ops, then copy
          what happened as a test.
        </span>
      </div>
      {body}
    </section>
  );
}
