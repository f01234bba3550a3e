import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect } from 'nekoconnect/client';
import { SECRET, client, serve, tempDir } from '../test-support/serve.js';
import { Op } from './logic.js';

interface Item {
  _id: string;
  title: string;
}

/** Starts the todo plugin in a server process of its own; resolves with it and its port. */
async function serverProcess(dataDir: string) {
  const child = spawn(
    process.execPath,
    [
      join(import.meta.dirname, '..', 'test-support', 'crash-server.mjs'),
      import.meta.dirname,
      dataDir,
      SECRET,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) =>
      reject(new Error(`server process exited (${code}) before listening: ${out}`)),
    );
  });
  return { child, port };
}

describe('todo plugin durability', () => {
  it('keeps every acknowledged item when the server process is killed with SIGKILL mid-stream', async () => {
    const dataDir = await tempDir();
    const { child, port } = await serverProcess(dataDir);
    const c = await connect({ secret: SECRET, port });
    const exited = new Promise((resolve) => child.once('exit', resolve));

    // Stream adds; each acknowledgement is a reply sent after the write resolved.
    const acknowledged: string[] = [];
    let sent = 0;
    const streaming = (async () => {
      for (;;) {
        const title = `item-${sent++}`;
        const reply = await c.request('todo', JSON.stringify({ title }), { op: Op.Add });
        acknowledged.push(reply.json<Item>()._id);
        if (acknowledged.length === 150) child.kill('SIGKILL');
      }
    })();
    const ended = streaming.then(
      () => undefined,
      (err: unknown) => err,
    );
    await exited;
    expect(await ended).toMatchObject({ code: 'NEKO_ERR_CLIENT_CLOSED' });
    expect(acknowledged.length).toBeGreaterThanOrEqual(150);

    // Restart on the same data directory: every acknowledged item is there.
    const { port: again } = await serve('todo', { backend: 'nedb', dir: dataDir });
    const items = (await (await client(again)).request('todo', '', { op: Op.List })).json<Item[]>();
    const stored = new Set(items.map((i) => i._id));
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    expect(items.length).toBeLessThanOrEqual(sent);
  });
});
