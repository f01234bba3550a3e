// A NekoConnect server with its dashboard, in its own process, for the
// reliability suite's fault tests (started by `startDashboardServer` in
// workloads.ts with fork()). Like serve.mjs, options come as one JSON
// argument and log records go to the parent over IPC; in addition:
// - the dashboard listens on 127.0.0.1 and a free port, sent with `listening`,
//   so the parent can read the per-plugin counters (`/api/plugins`);
// - a log record also carries the code of the error behind it (`errorCode`,
//   e.g. NEKO_ERR_CONTEXT_RECV_TIMEOUT under a NEKO_ERR_PLUGIN_HANDLER line);
// - on `close`, the parent is told how long `server.close()` took, and the
//   process exits only once every IPC message is out (serve.mjs may drop the
//   lines logged during the shutdown itself).
import { performance } from 'node:perf_hooks';
import { createDashboard, createServer } from 'nekoconnect';

const options = JSON.parse(process.argv[2] ?? '{}');
const server = createServer({
  secret: options.secret,
  host: '127.0.0.1',
  port: 0,
  limits: options.limits ?? {},
  storage: options.dataDir === undefined ? { inMemory: true } : { dataDir: options.dataDir },
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

const dashboard = createDashboard(server, {
  host: '127.0.0.1',
  port: 0,
  facts: { plugins: options.plugins },
});
await dashboard.listen();
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
      await dashboard.close();
      await allSent();
      process.exit(0);
    });
  }
});

const { port } = await server.listen();
post({ type: 'listening', port, dashboardPort: dashboard.address().port });
