// `npm start`: serves the example plugins with a development secret, so a
// newcomer gets a working server with no setup. The secret is made once,
// kept in .nekoconnect/dev-secret (git-ignored), and printed. The server then
// prints the dashboard's URL with its access token (new at each start), the URL
// to open. Extra arguments go to `nekoconnect start` (e.g. `npm start -- --port 0`).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const secretFile = join(root, '.nekoconnect', 'dev-secret');

function developmentSecret() {
  if (process.env.NEKOCONNECT_SECRET) return process.env.NEKOCONNECT_SECRET;
  if (existsSync(secretFile)) return readFileSync(secretFile, 'utf8').trim();
  const secret = `dev-${randomBytes(16).toString('hex')}`;
  mkdirSync(join(root, '.nekoconnect'), { recursive: true });
  writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
  return secret;
}

const secret = developmentSecret();
console.log(`Development secret: ${secret}`);
console.log(`  (kept in .nekoconnect/dev-secret; clients connect with NEKOCONNECT_SECRET=${secret})`);
console.log('  Never use a development secret in production.\n');

const cli = join(root, 'server', 'dist', 'cli', 'main.js');
const args = process.argv.slice(2);
const child = spawn(process.execPath, [cli, 'start', join(root, 'plugins'), ...args], {
  stdio: 'inherit',
  env: { ...process.env, NEKOCONNECT_SECRET: secret },
});
// With a WebSocket port, the web chat example (examples/web-chat) is served too: its
// backend hands browsers per-user tokens for the chat plugin, never the secret.
const wsAt = args.findIndex((a) => a === '--ws-port' || a.startsWith('--ws-port='));
const wsPort =
  wsAt < 0 ? undefined : Number(args[wsAt].includes('=') ? args[wsAt].split('=')[1] : args[wsAt + 1]);
if (wsPort !== undefined && wsPort > 0) {
  const { startWebChat } = await import('../examples/web-chat/backend.mjs');
  const webChat = await startWebChat({ secret, wsUrl: `ws://127.0.0.1:${wsPort}/`, port: 10393 }).catch(
    (err) => {
      console.error(`web chat example not served: ${err.message}`);
    },
  );
  if (webChat) {
    console.log(
      'Web chat example: http://127.0.0.1:10393/  (examples/web-chat, over WebSocket with per-user tokens)\n',
    );
    child.on('exit', () => webChat.close());
  }
}

// Ctrl+C reaches the whole process group, the server included: just wait for it.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});
