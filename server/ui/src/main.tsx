/**
 * The dashboard's page: Preact components over the same-origin API of
 * docs/dashboard.md, bundled by scripts/build-ui.js into ui/build/app.js. No
 * external resource; every piece of data reaches the DOM as text, never as HTML.
 */
import { render } from 'preact';
import { App } from './app.js';
import { startLive } from './live.js';
import { app, reportError, TABS, type Tab } from './state.js';
import { fetchPlugins, syncOverview } from './sync.js';
import { initToken } from './token.js';

const OVERVIEW_EVERY_MS = 5000;

function main(): void {
  document.getElementById('boot-note')?.remove();
  const initial = location.hash.replace(/^#/, '');
  app.update({
    token: initToken(),
    tab: (TABS as readonly string[]).includes(initial) ? (initial as Tab) : 'logs',
  });
  render(<App />, document.getElementById('app')!);
  window.addEventListener('unhandledrejection', (event) => {
    event.preventDefault();
    reportError('unexpected', event.reason);
  });
  void fetchPlugins(); // for the plugin filter's options; the logs wait for nothing else
  startLive().catch((err: unknown) => reportError('startup', err));
  const visible = (): boolean => document.visibilityState !== 'hidden';
  setInterval(() => {
    if (!app.value.authFailed && visible()) void syncOverview();
  }, OVERVIEW_EVERY_MS);
  document.addEventListener('visibilitychange', () => {
    if (visible() && !app.value.authFailed) void syncOverview();
  });
}

main();
