// A NekoConnect server in its own process, for the reliability suite.
// Started by server-process.ts with fork(): options come as one JSON argument,
// and everything goes to the parent over IPC:
// - `listening` with the server's port (and the dashboard's port and access
//   token, with `options.dashboard`: it listens on 127.0.0.1 and a free port, so
//   a test can read the per-plugin counters of `/api/plugins`);
// - every log record, with the code of the error behind it (`errorCode`, e.g.
//   NEKO_ERR_CONTEXT_RECV_TIMEOUT under a NEKO_ERR_PLUGIN_HANDLER line);
// - memory figures on request, after a full GC (the process runs with --expose-gc);
// - on `close`, how long `server.close()` took; the process exits only once
//   every message is out, so the lines logged during shutdown arrive too.
import { performance } from 'node:perf_hooks';
import { createDashboard, createServer } from 'nekoconnect';

const options = JSON.parse(process.argv[2] ?? '{}');
const server = createServer({
  secret: options.secret,
  host: '127.0.0.1',
  port: 0,
  limits: options.limits ?? {},
  tls: options.tls,
  storage: options.dataDir === undefined ? { backend: 'memory' } : { backend: 'nedb', dir: options.dataDir },
});

let pending = 0;
let drained = () => {};
function post(message) {
  pending++;
  process.send?.(message, () => {
    pending--;
    if (pending === 0) drained();
  });
}
function allSent() {
  return pending === 0 ? Promise.resolve() : new Promise((resolve) => (drained = resolve));
}

server.logger.subscribe((record) => {
  const error = record.error;
  post({
    type: 'log',
    record: {
      time: record.time,
      level: record.level,
      message: record.message,
      plugin: record.plugin,
      session: record.session,
      code: record.code,
      errorCode: error && typeof error === 'object' && 'code' in error ? String(error.code) : undefined,
    },
  });
});

// The dashboard comes first, so that it sees the plugins' load lines.
const dashboard = options.dashboard
  ? createDashboard(server, { host: '127.0.0.1', port: 0, facts: { plugins: options.plugins } })
  : undefined;
await dashboard?.listen();
await server.loadPlugins(options.plugins);

process.on('message', (message) => {
  if (message?.type === 'memory') {
    for (let i = 0; i < 3; i++) globalThis.gc?.();
    post({
      type: 'memory',
      id: message.id,
      usage: process.memoryUsage(),
      connections: server.connectionCount,
    });
  } else if (message?.type === 'close') {
    const started = performance.now();
    void server.close().then(async () => {
      post({ type: 'closed', ms: performance.now() - started });
      await dashboard?.close();
      await allSent();
      process.exit(0);
    });
  }
});

const { port } = await server.listen();
post({
  type: 'listening',
  port,
  dashboardPort: dashboard?.address()?.port,
  dashboardToken: dashboard?.token,
});
