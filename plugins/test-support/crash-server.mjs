// A NekoConnect server in its own process, for tests that kill it with SIGKILL.
// Usage: node crash-server.mjs <plugin folder or plugins directory> <data dir> <secret>
import { createServer } from 'nekoconnect';

const [plugins, dataDir, secret] = process.argv.slice(2);
const server = createServer({ secret, plugins, port: 0, storage: { backend: 'nedb', dir: dataDir } });
const { port } = await server.listen();
console.log(`PORT ${port}`);
