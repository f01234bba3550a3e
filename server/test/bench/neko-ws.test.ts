/**
 * The benchmark's NekoConnect-over-WebSocket target (bench/, see
 * docs/performance.md): its client runs the protocol over a `ws` WebSocket,
 * and `node bench/run.js` measures it by default, with its ratios to ws echo,
 * socket.io and NekoConnect over TCP in the JSON report. Runs the built
 * server/dist, as the benchmark does.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { open } from '../../../bench/clients/neko-ws.js';
import { TARGET_IDS, parseTargets } from '../../../bench/lib/targets.js';
import { start } from '../../../bench/servers/neko-ws.js';
import { startServer } from '../helpers/server.js';

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
const run = promisify(execFile);

function assertBuilt(): void {
  const dist = join(REPO_ROOT, 'server', 'dist', 'index.js');
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`npm run build\` first (npm test does).`);
}

/** What the neko-ws client resolves a round trip with: the server's frame. */
interface Reply {
  greeter: string;
  op: number;
  data: Buffer;
}

describe('bench: NekoConnect over WebSocket (neko-ws)', () => {
  it('is a default target, parsed from --targets by its name and aliases', () => {
    expect(TARGET_IDS).toContain('neko-ws');
    expect(parseTargets('socket.io, nekows ,neko')).toEqual(['neko', 'neko-ws', 'socketio']);
    expect(parseTargets('neko-ws')).toEqual(['neko-ws']);
    expect(() => parseTargets('neko-wss')).toThrow(/unknown target "neko-wss"/);
  });

  it('echoes over the chain, one frame per binary message, with the bench server', async () => {
    assertBuilt();
    const server = await start({});
    onTestFinished(() => server.close());
    const client = await open({ port: server.port, payloadBytes: 5, op: 7 });
    onTestFinished(() => client.close());
    for (const text of ['meow1', 'meow2', 'meow3']) {
      const reply = (await client.roundTrip(Buffer.from(text))) as Reply;
      client.check(reply);
      expect([reply.greeter, reply.op, reply.data.toString()]).toEqual(['echo', 7, text]);
    }
    expect(server.stats()).toMatchObject({ connections: 1, authenticated: 1, joined: 1 });
    // A reply of another size is not the echo expected.
    const short = await client.roundTrip(Buffer.from('mew'));
    expect(() => client.check(short)).toThrow(/unexpected reply: greeter echo, op 7, 3 bytes/);
  });

  it('fails to connect to a server with another secret: the handshake is refused', async () => {
    const { server } = await startServer({ websocket: { port: 0 } });
    const port = server.websocketAddress()!.port;
    await expect(open({ port, payloadBytes: 5, op: 7 })).rejects.toThrow(
      /refused the handshake with status 400/,
    );
  });

  it('runs in npm run bench by default, with its ratios in the JSON report', async () => {
    assertBuilt();
    const dir = await mkdtemp(join(tmpdir(), 'neko-bench-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const out = join(dir, 'report.json');
    const { stdout } = await run(
      process.execPath,
      [
        'bench/run.js',
        ...['--rounds', '1', '--window', '0.2', '--warmup', '0.1', '--connections', '3'],
        ...['--no-codec', '--no-scale', '--out', out],
      ],
      { cwd: REPO_ROOT, timeout: 90_000 },
    );
    const report = JSON.parse(await readFile(out, 'utf8'));
    expect(report.parameters.targets).toEqual(['neko', 'neko-ws', 'bare', 'ws', 'socketio']);
    const round = report.rounds[0];
    expect(round['neko-ws'].roundTrips).toBeGreaterThan(0);
    expect(round['neko-ws'].serverCpuUsPerRoundTrip).toBeGreaterThan(0);
    for (const base of ['ws', 'socketio', 'neko']) {
      const expected = report.medians['neko-ws'].roundTripsPerSec / report.medians[base].roundTripsPerSec;
      expect(report.ratiosWebSocket[base].roundTripsPerSec).toBeCloseTo(expected, 9);
    }
    // NekoConnect over TCP keeps its own baselines: not its WebSocket self.
    expect(Object.keys(report.ratios)).toEqual(['bare', 'ws', 'socketio']);
    expect(stdout).toMatch(
      /^info {2}NekoConnect over WebSocket, round trips\/s: [\d.]+x ws echo, [\d.]+x socket\.io, [\d.]+x NekoConnect$/m,
    );
    expect(stdout).toMatch(/^round 1\/1 NekoConnect WS +[\d,]+ rt\/s/m);
  }, 120_000);
});
