// A NekoConnect server in its own process, for the reliability suite.
// Started by server-process.ts with fork(): options come as one JSON argument,
// log records go to the parent over IPC, and the parent can ask for memory
// figures (after a full GC: the process runs with --expose-gc).
import { createServer } from 'nekoconnect';

const options = JSON.parse(process.argv[2] ?? '{}');
const server = createServer({
  secret: options.secret,
  plugins: options.plugins,
  host: '127.0.0.1',
  port: 0,
  limits: options.limits ?? {},
  storage: options.dataDir === undefined ? { inMemory: true } : { dataDir: options.dataDir },
});
server.logger.subscribe((record) => {
  process.send?.({
    type: 'log',
    record: {
      time: record.time,
      level: record.level,
      message: record.message,
      plugin: record.plugin,
      session: record.session,
      code: record.code,
    },
  });
});
process.on('message', (message) => {
  if (message?.type === 'memory') {
    for (let i = 0; i < 3; i++) globalThis.gc?.();
    const usage = process.memoryUsage();
    process.send?.({ type: 'memory', id: message.id, usage, connections: server.connectionCount });
  } else if (message?.type === 'close') {
    void server.close().then(() => process.exit(0));
  }
});
const { port } = await server.listen();
process.send?.({ type: 'listening', port });
