/** The Settings view: what the server runs with, read-only, each with what it means. Never a secret. */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { EmptyState, loadFailed } from '../components/empty-state.js';
import { fmtBytes, fmtDuration, fmtInt } from '../format.js';
import { app, guarded } from '../state.js';
import { useStore } from '../store.js';

const EVERY_MS = 2000;

const GROUPS: readonly (readonly [string, string])[] = [
  ['server', 'Server'],
  ['cluster', 'Cluster'],
  ['limits', 'Limits'],
  ['dashboard', 'Dashboard'],
];

const LABELS: Record<string, string> = {
  host: 'Host',
  port: 'Port',
  tls: 'TLS',
  plugins: 'Plugins folder',
  dataDir: 'Data folder',
  storage: 'Storage',
  processId: 'Process id',
  via: 'Bus',
  redis: 'Redis',
  cacheDir: 'Bundle cache',
  configFile: 'Config file',
  maxPacketBytes: 'Largest packet',
  handshakeTimeoutMs: 'Handshake timeout',
  idleTimeoutMs: 'Idle timeout',
  maxConnections: 'Max connections',
  nonceWindow: 'Nonce window',
  recvTimeoutMs: 'Receive timeout',
  shutdownTimeoutMs: 'Shutdown timeout',
  maxPendingBytes: 'Max queued bytes',
  drainTimeoutMs: 'Drain timeout',
  tokenRequired: 'Token required',
};

const HELP: Record<string, string> = {
  'server.host': 'Address the TCP server listens on',
  'server.port': 'TCP port of the server',
  'server.tls': 'TLS key and certificate, or false for plain TCP',
  'server.plugins': 'The plugins directory, or a single plugin folder',
  'server.dataDir':
    'Where plugins keep their data (one <greeter>.db file per plugin); on PostgreSQL, the cache only',
  'server.storage': 'The storage backend: nedb files, or PostgreSQL (its URL without the password)',
  'server.cacheDir':
    'Where TypeScript plugins are bundled to (--cache-dir; none: a temp folder of its own); plugin folders stay untouched',
  'server.configFile': 'The config file read at start, if any',
  'cluster.name': "The cluster's name (--cluster-name): its Redis keys and channels start with nc:<name>:",
  'cluster.processId':
    "This process's id, random at each start: what the cluster's other processes know it by",
  'cluster.hostname': 'The machine this process runs on',
  'cluster.via': 'What carries the bus: Redis, or IPC through the primary under --workers',
  'cluster.redis': 'The Redis server the processes meet on (its URL without the password)',
  'limits.maxPacketBytes': 'Largest packet accepted; bigger ones get 413 and the connection ends',
  'limits.handshakeTimeoutMs': 'Time a new connection has to authenticate (then 408)',
  'limits.idleTimeoutMs': 'Close a session that sends nothing for this long (408); 0 is off',
  'limits.maxConnections': 'Connections at once',
  'limits.nonceWindow': 'Unused server randoms remembered per session',
  'limits.recvTimeoutMs': 'Default wait of ctx.recv()',
  'limits.shutdownTimeoutMs': 'On shutdown, time running handlers get before connections are cut',
  'limits.maxPendingBytes': 'Bytes queued for one client before it is closed as a slow reader',
  'limits.drainTimeoutMs': 'On a drain (SIGUSR2), time conversations get before the shutdown',
  'dashboard.host': 'Address this dashboard listens on',
  'dashboard.port': 'HTTP port of this dashboard',
  'dashboard.tokenRequired':
    'Whether requests need the access token (always, unless started with --dashboard-open)',
};

const isSecretKey = (key: string): boolean => /secret/i.test(key);

function humanLabel(key: string): string {
  const known = LABELS[key];
  if (known !== undefined) return known;
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (!isSecretKey(k)) out[k] = withoutSecrets(v);
    return out;
  }
  return value;
}

/** The value as the server sent it, and a reading for people (`30 s`, `1 MiB`) where one helps. */
function settingValue(key: string, value: unknown): { raw: string; human: string | null; kind: string } {
  let raw: string;
  let human: string | null = null;
  let kind: string = typeof value;
  if (value === null || value === undefined) {
    raw = 'none';
    kind = 'null';
  } else if (typeof value === 'object') raw = JSON.stringify(withoutSecrets(value));
  else raw = String(value);
  if (typeof value === 'number') {
    if (key === 'idleTimeoutMs' && value === 0) human = 'off';
    else if (/Ms$/.test(key)) human = value === 0 ? 'none' : fmtDuration(value);
    else if (/Bytes$/.test(key)) human = value >= 1024 ? fmtBytes(value) : null;
    else if (Math.abs(value) >= 10000 && !/port$/i.test(key)) human = fmtInt(value);
  }
  return { raw, human, kind };
}

function Settings({ settings }: { settings: Record<string, unknown> }): JSX.Element {
  const groups = [...GROUPS];
  for (const [key, value] of Object.entries(settings)) {
    if (!isSecretKey(key) && !groups.some(([g]) => g === key) && value !== null && typeof value === 'object')
      groups.push([key, humanLabel(key)]);
  }
  const sections = groups.flatMap(([group, title]) => {
    const values = settings[group];
    if (values === null || typeof values !== 'object') return [];
    return [
      <section key={group} class="settings-group card">
        <h3>{title}</h3>
        <dl class="settings-list">
          {Object.entries(values)
            .filter(([key]) => !isSecretKey(key))
            .map(([key, value]) => {
              const { raw, human, kind } = settingValue(key, value);
              return (
                <div key={key} class="setting" title={HELP[`${group}.${key}`]}>
                  <dt>
                    <span class="setting-label">{humanLabel(key)}</span>
                    <code class="setting-key">{key}</code>
                  </dt>
                  <dd>
                    <span class={`setting-value kind-${kind}`} data-setting={`${group}.${key}`}>
                      {raw}
                    </span>
                    {human ? <span class="setting-human">{human}</span> : null}
                  </dd>
                </div>
              );
            })}
        </dl>
      </section>,
    ];
  });
  return <>{sections.length ? sections : <EmptyState text="No setting to show." />}</>;
}

export function SettingsView({ active }: { active: boolean }): JSX.Element {
  const { authFailed } = useStore(app);
  const [settings, setSettings] = useState<Record<string, unknown> | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (!active) return;
    let loaded = false;
    const load = (): void => {
      if (app.value.authFailed || document.visibilityState === 'hidden') return;
      void guarded('GET /api/settings', async () => {
        const answer = await api.settings();
        setSettings(answer);
        loaded = true;
        return true;
      }).then((done) => setFailed(done === undefined));
    };
    load();
    // Read once per showing; again every two seconds only while the first read fails.
    const timer = setInterval(() => {
      if (!loaded) load();
    }, EVERY_MS);
    return () => clearInterval(timer);
  }, [active]);
  return (
    <section
      class="panel panel-scroll"
      id="panel-settings"
      role="tabpanel"
      aria-labelledby="tab-settings"
      hidden={!active}
    >
      <div class="panel-head">
        <h2>Settings</h2>
        <span class="panel-summary">
          In force now, read-only. Change them in the config file or on the command line, then restart.
        </span>
      </div>
      <div class="settings" id="settings">
        {settings !== null ? (
          <Settings settings={settings} />
        ) : failed && !authFailed ? (
          <EmptyState text={loadFailed('the settings')} failed />
        ) : null}
      </div>
    </section>
  );
}
