import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '../../src/client/client.js';
import { formatLogRecord } from '../../src/cli/terminal.js';
import { formatError } from '../../src/format.js';
import { loadConfig } from '../../src/config/load-config.js';
import { resolveStartOptions } from '../../src/config/start-options.js';
import { isNekoError } from '../../src/errors.js';
import type { LogRecord } from '../../src/logging/logger.js';
import { REPO_ROOT, assertBuilt, startCli } from '../cli/run-cli.js';
import { readEvents, startDashboardServer } from '../dashboard/harness.js';
import { rawFrame } from '../helpers/frames.js';
import { RawPeer } from '../helpers/raw-peer.js';

/** A secret no test text could contain by chance. */
const SECRET = 'canary-7e1f0b9d4c2a-s3cr3t';

beforeAll(assertBuilt);

/** Everything a record could show a person: its terminal line, the error's message, stack and cause. */
function recordText(record: LogRecord): string {
  const parts = [formatLogRecord(record), JSON.stringify({ ...record, error: undefined })];
  let error: unknown = record.error;
  while (error instanceof Error) {
    parts.push(String(error), error.stack ?? '');
    if (isNekoError(error)) parts.push(formatError(error));
    error = error.cause;
  }
  return parts.join('\n');
}

/** An error as a person sees it: message, stack, hint and cause chain. */
function errorText(err: unknown): string {
  const parts: string[] = [];
  while (err instanceof Error) {
    parts.push(String(err), err.stack ?? '');
    if (isNekoError(err)) parts.push(formatError(err), err.hint ?? '');
    err = err.cause;
  }
  return parts.join('\n');
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

describe('the secret never appears', () => {
  it('in log lines, dashboard answers, event streams or client errors, through every failure path', async () => {
    const setup = await startDashboardServer({}, SECRET);
    const { server, port, dashboardPort, logs, request, auth } = setup;
    const clientErrors: unknown[] = [];

    // A good session: traffic, a throwing handler, a session closed by the server.
    const good = await connect({ secret: SECRET, port });
    await good.request('echo', 'hello');
    await good.request('notes', '2');
    clientErrors.push(await rejection(good.request('boom', 'throw')));
    // Clients with a wrong secret, one a prefix and one an extension of the real one.
    for (const wrong of [SECRET.slice(0, -1), `${SECRET}x`, 'other']) {
      clientErrors.push(await rejection(connect({ secret: wrong, port, connectTimeoutMs: 2_000 })));
    }
    // Raw peers: a bad auth hash, a malformed frame, an oversized frame, a packet before auth.
    const frames = [
      rawFrame({ greeter: 'auth', op: '200', random: 'r1', data: '200', hash: 'f'.repeat(64) }),
      rawFrame({ greeter: 'auth', op: 'x', random: 'r2', data: '200', hash: 'h' }),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]),
      rawFrame({ greeter: 'echo', op: '1', random: 'r3', data: 'x', hash: 'h' }),
    ];
    for (const frame of frames) {
      const peer = await RawPeer.connect(port);
      await peer.write(frame);
      await peer.closed();
    }
    // A session closed from the dashboard.
    const victim = await connect({ secret: SECRET, port });
    const id = server.sessions().at(-1)!.id;
    const closed = await request(`/api/sessions/${id}/close`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(closed.status).toBe(200);
    clientErrors.push(await rejection(victim.request('echo', 'after close')));
    await good.close();

    const texts: string[] = logs.map(recordText);
    expect(logs.some((r) => r.level === 'warn' && r.code === 'NEKO_ERR_AUTH_BAD_HASH')).toBe(true);
    expect(logs.some((r) => r.code === 'NEKO_ERR_PLUGIN_HANDLER')).toBe(true);
    texts.push(...clientErrors.map(errorText));
    expect(clientErrors.filter((e) => e instanceof Error)).toHaveLength(clientErrors.length);
    for (const apiPath of [
      '/',
      '/app.js',
      '/api/overview',
      '/api/plugins',
      '/api/sessions',
      '/api/settings',
      '/api/logs',
      '/api/plugins/notes/documents',
      '/api/nothing',
    ]) {
      const answer = await request(apiPath);
      // Answered, not refused: a 401 would carry nothing to check.
      expect([apiPath, answer.status]).toEqual([apiPath, apiPath === '/api/nothing' ? 404 : 200]);
      texts.push(answer.body);
    }
    const events = await readEvents(
      `http://127.0.0.1:${dashboardPort}/api/events?after=0`,
      (e) => e.filter((x) => x.event === 'log').length >= logs.length,
      auth,
    );
    texts.push(...events.map((e) => e.data));
    expect(texts.length).toBeGreaterThan(30);
    for (const text of texts) expect(text).not.toContain(SECRET);
  });

  it('in configuration errors, even when the secret is written into the config file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'neko-secret-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await writeFile(
      path.join(dir, 'nekoconnect.config.json'),
      `{\n  "port": 4000,\n  "secret": "${SECRET}"\n}\n`,
    );
    const err = await rejection(loadConfig(dir));
    expect(isNekoError(err, 'NEKO_ERR_CONFIG_INVALID')).toBe(true);
    expect(errorText(err)).toContain('"secret" is not allowed in a config file');
    expect(errorText(err)).not.toContain(SECRET);
    // An unreadable secret file is named, its would-be content is not read back.
    const missing = await rejection(
      resolveStartOptions(dir, { noConfig: true, secretFile: path.join(dir, SECRET) }, {}),
    );
    expect(errorText(missing)).toContain('cannot read the secret file');
  });

  it('in what nekoconnect start prints, from start to shutdown', async () => {
    const cli = startCli(['start', path.join(REPO_ROOT, 'plugins'), '--port', '0'], {
      NEKOCONNECT_SECRET: SECRET,
    });
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    const client = await connect({ secret: SECRET, port: Number(port) });
    await client.request('echo', 'x');
    await client.close();
    await rejection(connect({ secret: `${SECRET}!`, port: Number(port), connectTimeoutMs: 2_000 }));
    await cli.waitForStderr(/NEKO_ERR_AUTH_BAD_HASH/);
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
    expect(cli.stdout()).toContain('stopped');
    expect(cli.stdout() + cli.stderr()).not.toContain(SECRET);
  });
});
