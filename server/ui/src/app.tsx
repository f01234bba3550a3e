/** The whole page: the top bar, the open view (or the token box), the status line. */
import type { JSX } from 'preact';
import { useEffect } from 'preact/hooks';
import { AuthBox } from './components/auth-box.js';
import { StatusBar } from './components/status-bar.js';
import { TopBar } from './components/topbar.js';
import { app, TABS, type Tab } from './state.js';
import { useStore } from './store.js';
import { DataView } from './views/data.js';
import { LogsView } from './views/logs.js';
import { PluginsView } from './views/plugins.js';
import { SessionsView } from './views/sessions.js';
import { PlaygroundView } from './views/playground.js';
import { SettingsView } from './views/settings.js';

export function App(): JSX.Element {
  const { tab, authFailed, token } = useStore(app);

  // The open tab is in the address (#plugins…), so a reload keeps it.
  useEffect(() => {
    try {
      const hash = tab === 'logs' ? '' : `#${tab}`;
      if (location.hash !== hash)
        history.replaceState(history.state, '', `${location.pathname}${location.search}${hash}`);
    } catch {
      // not important
    }
  }, [tab]);
  useEffect(() => {
    document.body.classList.toggle('auth-blocked', authFailed);
  }, [authFailed]);

  // Once the token is refused, the views stop (they would only ask again).
  const on = (name: Tab): boolean => !authFailed && tab === name;
  return (
    <>
      <TopBar tabs={TABS} />
      {authFailed ? <AuthBox hadToken={token !== null} /> : null}
      <main class="main" id="main" hidden={authFailed}>
        <LogsView active={on('logs')} />
        <PluginsView active={on('plugins')} />
        <SessionsView active={on('sessions')} />
        <DataView active={on('data')} />
        <SettingsView active={on('settings')} />
        <PlaygroundView active={on('playground')} />
      </main>
      <StatusBar />
    </>
  );
}
