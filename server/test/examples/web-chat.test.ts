import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ClientPacket } from '../../src/client/client.js';
import { launchChromium } from '../dashboard/browser.js';
import { SECRET, connectClient, startServer } from '../helpers/server.js';

// examples/web-chat in a real browser: its backend issues a token, the page
// joins the chat plugin of plugins/ over WebSocket, and talks with a TCP client.

const REPO = path.join(import.meta.dirname, '..', '..', '..');

interface WebChat {
  startWebChat(options: { secret: string; wsUrl: string; port: number }): Promise<Server>;
}

async function setup(backendSecret = SECRET) {
  const { port, server } = await startServer({
    plugins: path.join(REPO, 'plugins', 'chat'),
    websocket: { port: 0 },
  });
  const wsUrl = `ws://127.0.0.1:${server.websocketAddress()!.port}/`;
  const { startWebChat } = (await import(path.join(REPO, 'examples', 'web-chat', 'backend.mjs'))) as WebChat;
  const backend = await startWebChat({ secret: backendSecret, wsUrl, port: 0 });
  onTestFinished(() => new Promise<void>((resolve) => backend.close(() => resolve())));
  const page = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/`;
  const browser = await launchChromium();
  onTestFinished(() => browser.close());
  const tab = await browser.newPage();
  await tab.goto(page);
  return { port, tab, page };
}

describe('examples/web-chat', () => {
  it('joins with a token from its backend, and chats with a TCP client in the same room', async () => {
    const { port, tab } = await setup();
    const tcp = await connectClient(port);
    const heard: ClientPacket[] = [];
    tcp.on('packet', (p) => heard.push(p));
    await tcp.request('chat', 'tama', { op: 1, replyOp: 1 });

    await tab.fill('#name', 'mimi');
    await tab.click('#join button');
    await tab.waitForSelector('#say:not([hidden])');
    expect(await tab.textContent('#log')).toContain('you are mimi');
    await expect.poll(() => heard.map((p) => p.op)).toContain(6); // guest-n is now mimi

    await tab.fill('#text', 'hello from the browser');
    await tab.click('#say button');
    await expect
      .poll(() => heard.filter((p) => p.op === 2).map((p) => p.json()))
      .toEqual([{ nick: 'mimi', text: 'hello from the browser' }]);

    await tcp.send('chat', 'hi mimi', { op: 2 });
    await tab.waitForFunction("document.getElementById('log').textContent.includes('tama: hi mimi')");
  });

  it('is refused when its backend signs tokens with another secret', async () => {
    const { tab } = await setup('not-the-server-secret');
    await tab.fill('#name', 'mimi');
    await tab.click('#join button');
    await tab.waitForFunction("document.getElementById('status').textContent.includes('could not join')");
    expect(await tab.textContent('#status')).toContain('NEKO_ERR_CLIENT_AUTH');
  });
});
