// The web chat's backend: what a real site's server does for NekoConnect.
// It holds the shared secret (NEKOCONNECT_SECRET) and never sends it: it
// serves the page and the browser client, and gives each visitor a short-lived
// per-user token (protocol §15) for the name they chose. A real site would
// issue tokens to its signed-in users only.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { issueToken } from 'nekoconnect';

const here = import.meta.dirname;
const require = createRequire(import.meta.url);
/** The browser build of nekoconnect/client. */
const CLIENT = path.join(
  path.dirname(require.resolve('nekoconnect/package.json')),
  'dist',
  'browser',
  'client.js',
);
const FILES = {
  '/': [path.join(here, 'index.html'), 'text/html; charset=utf-8'],
  '/app.js': [path.join(here, 'app.js'), 'text/javascript; charset=utf-8'],
  '/client.js': [CLIENT, 'text/javascript; charset=utf-8'],
};
const NAME = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Starts the backend. `wsUrl` is where browsers reach the NekoConnect
 * server's WebSocket listener. Resolves with the HTTP server, listening.
 */
export async function startWebChat({ secret, wsUrl, port = 10393, host = '127.0.0.1', ttlSeconds = 900 }) {
  if (!secret) throw new Error('the web chat backend needs the shared secret (NEKOCONNECT_SECRET)');
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (url.pathname === '/token') {
        const name = url.searchParams.get('name') ?? '';
        if (!NAME.test(name)) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'a name is 1 to 32 of A-Z a-z 0-9 _ -' }));
          return;
        }
        const token = issueToken(secret, name, { ttlSeconds });
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ url: wsUrl, token: { id: token.id, key: token.key } }));
        return;
      }
      const file = FILES[url.pathname];
      if (!file) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
        return;
      }
      res.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store' });
      res.end(await readFile(file[0]));
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${err.message}\n`);
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}

// Run alone: node examples/web-chat/backend.mjs, next to `npm start -- --ws-port 10392`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const wsUrl = process.env.NEKOCONNECT_WS_URL ?? 'ws://127.0.0.1:10392/';
  const server = await startWebChat({ secret: process.env.NEKOCONNECT_SECRET, wsUrl });
  const { port } = server.address();
  console.log(`web chat on http://127.0.0.1:${port}/ (tokens for ${wsUrl})`);
}
