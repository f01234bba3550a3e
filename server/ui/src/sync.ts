/** The requests more than one view needs: the overview (top bar, counters, badges) and the plugin list. */
import { api, type PluginView } from './api.js';
import { app, counters, guarded } from './state.js';

export function syncOverview(): Promise<unknown> {
  return guarded('GET /api/overview', async () => {
    const overview = await api.overview();
    const counted = overview.counters;
    counters.set({ warn: Number(counted?.warn) || 0, error: Number(counted?.error) || 0 });
    app.update({ overview, overviewAt: Date.now() });
    return overview;
  });
}

/** The plugins, into the shared state (the log filter and the Data view offer them too). */
export function fetchPlugins(): Promise<readonly PluginView[] | undefined> {
  return guarded('GET /api/plugins', async () => {
    const answer = await api.plugins();
    const list = Array.isArray(answer.plugins) ? answer.plugins : [];
    app.update({ plugins: list });
    return list;
  });
}
