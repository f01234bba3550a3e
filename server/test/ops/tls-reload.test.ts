import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/client.js';
import { makeCertificate } from '../../../scripts/test-support/tls.js';
import { assertBuilt } from '../cli/run-cli.js';
import { SECRET, startServer, tempDir, writeConfig, writePlugin } from './ops.js';

beforeAll(assertBuilt);

const ECHO = `export class Logic { recv(ctx) { ctx.send(ctx.data, { op: ctx.op }); } }\n`;

/** The SHA-256 fingerprint of the certificate a TLS server on `port` presents. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

describe('reload: TLS rotation and the dashboard API', () => {
  it('serves the new certificate to new connections over TCP and WebSocket after SIGHUP; open ones go on', async () => {
    const dir = await tempDir();
    await writePlugin(dir, 'echo', ECHO);
    const first = await makeCertificate();
    const second = await makeCertificate();
    await writeFile(join(dir, 'key.pem'), first.key);
    await writeFile(join(dir, 'cert.pem'), first.cert);
    await writeConfig(dir, { tls: { key: 'key.pem', cert: 'cert.pem' }, websocket: { port: 0 } });
    const { cli, port } = await startServer(dir, ['--no-dashboard']);
    const [, wsPort] = await cli.waitFor(/listening for WebSocket on wss:\/\/127\.0\.0\.1:(\d+)\//);
    expect(await servedFingerprint(port, first.cert)).toBe(new X509Certificate(first.cert).fingerprint256);

    const before = await connect({ secret: SECRET, port, tls: { ca: first.cert, servername: 'localhost' } });
    expect((await before.request('echo', 'one')).text()).toBe('one');

    await writeFile(join(dir, 'key.pem'), second.key);
    await writeFile(join(dir, 'cert.pem'), second.cert);
    cli.child.kill('SIGHUP');
    await cli.waitFor(/reload done: 1 plugin reloaded, 0 failed; applied: tls; needs a restart: nothing/);

    expect(await servedFingerprint(port, second.cert)).toBe(new X509Certificate(second.cert).fingerprint256);
    const after = await connect({ secret: SECRET, port, tls: { ca: second.cert, servername: 'localhost' } });
    expect((await after.request('echo', 'two')).text()).toBe('two');
    const overWss = await connect({
      secret: SECRET,
      url: `wss://localhost:${wsPort}/`,
      tls: { ca: second.cert },
    });
    expect((await overWss.request('echo', 'three')).text()).toBe('three');
    // The old certificate is no longer served to anyone new.
    await expect(
      connect({
        secret: SECRET,
        port,
        tls: { ca: first.cert, servername: 'localhost' },
        connectTimeoutMs: 3000,
      }),
    ).rejects.toMatchObject({ code: 'NEKO_ERR_CLIENT_CONNECT' });
    // The connection made before the rotation goes on.
    expect((await before.request('echo', 'still here')).text()).toBe('still here');

    await Promise.all([before.close(), after.close(), overWss.close()]);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('reloads through POST /api/reload (token required) and answers the summary', async () => {
    const dir = await tempDir();
    await writePlugin(dir, 'echo', ECHO);
    await writeConfig(dir, { limits: { maxConnections: 100 } });
    const { cli, dashboardPort } = await startServer(dir);
    const [, token] = /dashboard http:\/\/[^ ]*\?token=(\S+)/.exec(cli.stdout())!;
    const url = `http://127.0.0.1:${dashboardPort}/api/reload`;

    const refused = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' } });
    expect(refused.status).toBe(401);

    await writeConfig(dir, { limits: { maxConnections: 50 }, port: 1 });
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      ok: true,
      plugins: { reloaded: 1, failed: 0 },
      applied: ['limits.maxConnections'],
      restart: ['port'],
    });
    expect(cli.stdout()).toMatch(/POST \/api\/reload: reloading the config and the plugins/);
    expect(cli.stdout()).toMatch(/reload: limits\.maxConnections 100 → 50/);

    // A config that cannot be read: 422 with the coded error, and nothing changed.
    await writeFile(join(dir, 'nekoconnect.config.json'), '{');
    const bad = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    });
    expect(bad.status).toBe(422);
    const body = (await bad.json()) as { ok: boolean; error: { code: string } };
    expect(body.ok).toBe(false);
    expect(body.error.code).toBe('NEKO_ERR_CONFIG_LOAD');

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});
