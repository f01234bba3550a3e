import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { fmtClock } from '../format.js';
import { app, errors } from '../state.js';
import { useStore } from '../store.js';

/** The bottom line: the newest failed request (cleared when it succeeds again), and the last update. */
export function StatusBar(): JSX.Element {
  const list = useStore(errors);
  const { lastSync } = useStore(app);
  // Re-rendered each second while an error shows (its time stays current with the list).
  const [, tick] = useState(0);
  useEffect(() => {
    if (list.size === 0) return;
    const timer = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, [list.size]);
  let newest: [string, { message: string; at: number }] | null = null;
  for (const entry of list) if (newest === null || entry[1].at >= newest[1].at) newest = entry;
  const more = list.size > 1 ? ` (+${list.size - 1} more)` : '';
  return (
    <footer class="statusbar">
      <span
        class="error-line"
        id="error-line"
        role="status"
        aria-live="polite"
        hidden={newest === null}
        title={[...list].map(([key, value]) => `${key}: ${value.message}`).join('\n')}
      >
        {newest === null ? '' : `⚠ ${newest[0]}: ${newest[1].message}${more} · ${fmtClock(newest[1].at)}`}
      </span>
      <span class="toolbar-spacer"></span>
      <span class="last-sync" id="last-sync">
        {lastSync === null ? '' : `updated ${fmtClock(lastSync).slice(0, 8)}`}
      </span>
    </footer>
  );
}
