import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ClientPacket, NekoClient } from '../../src/client/client.js';
import type * as ClientModule from '../../src/client/index.js';
import { issueToken } from '../../src/protocol/token.js';
import { launchChromium } from '../dashboard/browser.js';
import { LOGIC, makePluginsDir, specConf } from '../helpers/plugins.js';
import { startRelay } from '../helpers/proxy.js';
import { SECRET, connectClient, startServer } from '../helpers/server.js';
import { buildBrowserClient } from './browser-build.js';

// The browser build of the client SDK in a real browser (headless Chromium): a page imports
// it as a module and talks to a server over the browser's own WebSocket.

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>NekoConnect in a browser</title>
<script type="module">
  import * as neko from './client.js';
  globalThis.neko = neko;
  globalThis.nekoReady = true;
</script>
`;

/** What the page holds: the module it imported, and what a test keeps there between calls. */
interface PageGlobals {
  neko: typeof ClientModule;
  nekoReady?: boolean;
  client: NekoClient;
  heard: string[];
  events: string[];
  resumed: Promise<void>;
  pushes: AsyncGenerator<ClientPacket, void, undefined>;
}

/** A server with a chat (with a grace period, for resuming) and an echo plugin, and its WebSocket URL. */
async function chatServer() {
  const plugins = await makePluginsDir([
    { greeter: 'chat', logic: LOGIC.roomProbe, spec: `${specConf('Chat', 'chat')}$grace {"5"};\n` },
    { greeter: 'echo', logic: LOGIC.echo },
  ]);
  const started = await startServer({ plugins, websocket: { port: 0, path: '/neko' } });
  const wsPort = started.server.websocketAddress()!.port;
  return { ...started, wsPort, url: `ws://127.0.0.1:${wsPort}/neko` };
}

/** Serves the page and the browser build (built from the sources now) over HTTP; closed when the test ends. */
async function servePage(): Promise<string> {
  const bundle = await buildBrowserClient();
  const http = createHttpServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    } else if (req.url === '/client.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(bundle);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => http.close(() => resolve())));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
}

/** Opens the page with the client loaded; errors thrown in the page fail the test at its end. */
async function openPage(): Promise<Page> {
  const base = await servePage();
  const browser = await launchChromium();
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  onTestFinished(() => expect(errors).toEqual([]));
  await page.goto(base);
  await page.waitForFunction(() => (globalThis as unknown as PageGlobals).nekoReady === true);
  return page;
}

describe('the client SDK in a browser', () => {
  it('connects with a per-user token over the browser’s WebSocket and gets its replies', async () => {
    const { url } = await chatServer();
    const page = await openPage();
    const token = issueToken(SECRET, 'mimi', { ttlSeconds: 60 });
    const result = await page.evaluate(
      async ({ url, token }) => {
        const { connect } = (globalThis as unknown as PageGlobals).neko;
        const client = await connect({ url, token: { id: token.id, key: token.key } });
        const who = (await client.request('chat', '', { op: 1, replyOp: 1 })).text();
        const bytes = await client.request('echo', new Uint8Array([0, 1, 127, 128, 255]), { op: 7 });
        const text = (await client.request('echo', 'miaou 猫 🐱', { op: 8, replyOp: 8 })).text();
        const json = (await client.request('echo', { cat: 'mimi', lives: 9 }, { op: 9 })).json();
        const connected = client.connected;
        await client.close();
        return {
          who,
          op: bytes.op,
          bytes: [...bytes.data],
          isBytes: bytes.data instanceof Uint8Array,
          text,
          json,
          connected,
          state: client.state,
        };
      },
      { url, token },
    );
    expect(result).toEqual({
      who: 'ws mimi',
      op: 7,
      bytes: [0, 1, 127, 128, 255],
      isBytes: true,
      text: 'miaou 猫 🐱',
      json: { cat: 'mimi', lives: 9 },
      connected: true,
      state: 'closed',
    });
  });

  it('is refused with a wrong token, and says why it cannot connect', async () => {
    const { url, wsPort } = await chatServer();
    const page = await openPage();
    // A token signed with another secret: the server cannot derive its key.
    const forged = issueToken('not-the-secret', 'mimi', { ttlSeconds: 60 });
    const expired = issueToken(SECRET, 'mimi', { ttlSeconds: 60, now: Date.now() - 3_600_000 });
    const outcomes = await page.evaluate(
      async ({ url, tokens, wsPort }) => {
        const { connect } = (globalThis as unknown as PageGlobals).neko;
        const attempt = (options: object) =>
          connect(options).then(
            () => ({ code: 'connected', message: '' }),
            (err: { code: string; message: string }) => ({ code: err.code, message: err.message }),
          );
        return {
          forged: await attempt({ url, token: tokens[0] }),
          expired: await attempt({ url, token: tokens[1] }),
          tcp: await attempt({ port: 10390, token: tokens[0] }),
          path: await attempt({ url: `ws://127.0.0.1:${wsPort}/other`, token: tokens[0] }),
        };
      },
      {
        url,
        wsPort,
        tokens: [forged, expired].map((t) => ({ id: t.id, key: t.key })),
      },
    );
    expect(outcomes.forged).toEqual({
      code: 'NEKO_ERR_CLIENT_AUTH',
      message: expect.stringContaining('400'),
    });
    expect(outcomes.expired.code).toBe('NEKO_ERR_CLIENT_AUTH');
    expect(outcomes.tcp).toEqual({
      code: 'NEKO_ERR_CLIENT_CONNECT',
      message: expect.stringContaining('a browser cannot open TCP connections'),
    });
    expect(outcomes.path).toEqual({
      code: 'NEKO_ERR_CLIENT_CONNECT',
      message: expect.stringContaining(`ws://127.0.0.1:${wsPort}/other`),
    });
  });

  it('shares a chat room with a TCP client of the Node SDK', async () => {
    const { url, port } = await chatServer();
    const page = await openPage();
    const tcp = await connectClient(port);
    const heard: ClientPacket[] = [];
    tcp.on('packet', (p) => heard.push(p));
    const token = issueToken(SECRET, 'mimi', { ttlSeconds: 60 });
    await page.evaluate(
      async ({ url, token }) => {
        const g = globalThis as unknown as PageGlobals;
        g.client = await g.neko.connect({ url, token });
        g.heard = [];
        g.client.on('packet', (p: { op: number; text(): string }) => g.heard.push(`${p.op} ${p.text()}`));
        // The room: both must have spoken once to be in it (the chat plugin broadcasts to its sessions).
        await g.client.request('chat', '', { op: 1, replyOp: 1 });
      },
      { url, token: { id: token.id, key: token.key } },
    );
    await tcp.request('chat', '', { op: 1, replyOp: 1 });
    await tcp.request('chat', 'hello from tcp', { op: 0, replyOp: 1 });
    await expect
      .poll(() => page.evaluate(() => (globalThis as unknown as PageGlobals).heard as string[]))
      .toEqual(['2 hello from tcp']);
    const answer = await page.evaluate(async () =>
      (
        await (globalThis as unknown as PageGlobals).client.request('chat', 'hello from the browser', {
          replyOp: 1,
        })
      ).text(),
    );
    expect(answer).toBe('sent');
    await expect.poll(() => heard.map((p) => `${p.op} ${p.text()}`)).toEqual(['2 hello from the browser']);
    // send() and packets(): the page writes without waiting, and reads pushes as an async iterator.
    await page.evaluate(async () => {
      const g = globalThis as unknown as PageGlobals;
      g.pushes = g.client.packets();
      await g.client.send('chat', 'sent without waiting');
    });
    await expect
      .poll(() => heard.map((p) => `${p.op} ${p.text()}`))
      .toEqual(['2 hello from the browser', '2 sent without waiting']);
    await tcp.request('chat', 'second from tcp', { op: 0, replyOp: 1 });
    const pushed = await page.evaluate(async () => {
      const g = globalThis as unknown as PageGlobals;
      const texts: string[] = [];
      // The answer to send() ('sent', op 1) answers no request: it is a push too, first in line.
      for await (const packet of g.pushes) {
        texts.push(`${packet.op} ${packet.text()}`);
        if (texts.length === 2) break;
      }
      await g.client.close();
      return texts;
    });
    expect(pushed).toEqual(['1 sent', '2 second from tcp']);
  });

  it('reconnects after a drop and resumes its session', async () => {
    const { wsPort } = await chatServer();
    const relay = await startRelay(wsPort);
    const page = await openPage();
    const token = issueToken(SECRET, 'mimi', { ttlSeconds: 60 });
    const before = await page.evaluate(
      async ({ url, token }) => {
        const g = globalThis as unknown as PageGlobals;
        g.client = await g.neko.connect({ url, token, reconnect: { backoff: { initialMs: 20, maxMs: 40 } } });
        g.events = [];
        g.client.on('reconnecting', () => g.events.push('reconnecting'));
        g.client.on('resumed', () => g.events.push('resumed'));
        g.client.on('reconnected', (info) => g.events.push(`reconnected resumed=${info.resumed}`));
        g.resumed = new Promise<void>((resolve) => g.client.once('resumed', resolve));
        await g.client.request('chat', 'cat', { op: 3, replyOp: 3 });
        return (await g.client.request('chat', '', { op: 4, replyOp: 4 })).text();
      },
      { url: `ws://127.0.0.1:${relay.port}/neko`, token: { id: token.id, key: token.key } },
    );
    expect(before).toMatch(/ cat$/);
    relay.cut();
    const after = await page.evaluate(async () => {
      const g = globalThis as unknown as PageGlobals;
      await g.resumed;
      const text = (await g.client.request('chat', '', { op: 4, replyOp: 4 })).text();
      await g.client.close();
      return { text, events: g.events as string[] };
    });
    expect(after.text).toBe(before);
    expect(after.events).toEqual(['reconnecting', 'resumed', 'reconnected resumed=true']);
  });
});
