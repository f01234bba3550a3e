// A connection flood above limits.maxConnections: connections over the limit
// are closed on accept (protocol.md §9, `listener.maxConnections`), the server
// stays up, the sessions already open keep working during and after the
// flood, and once it is over new connections are accepted again.
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect, type NekoClient } from 'nekoconnect/client';
import { EXAMPLE_PLUGINS, startServerProcess, type ServerProcess } from './support/server-process.js';
import {
  FramePeer,
  Prng,
  SocketTracker,
  authParts,
  buildFrame,
  checkAnswer,
  describeFrame,
  sleep,
} from './support/peers.js';

const SECRET = 'flood-secret';
const MAX_CONNECTIONS = 50;
const SESSIONS = 20;
const BURSTS = 10;
const BURST_SIZE = 100;
/** Time for a flood connection to be answered (accepted) or closed (refused). */
const OUTCOME_TIMEOUT_MS = 10_000;

/** Refused: closed by the server right after the TCP handshake (by FIN, or by RST when our auth packet was unread). */
type Outcome = 'accepted' | 'closed-on-accept' | 'refused-at-connect';

interface Attempt {
  outcome: Outcome | 'unexpected';
  detail?: string;
  peer?: FramePeer;
  /** Closed by a reset rather than a FIN. */
  reset?: boolean;
}

describe('connection flood above limits.maxConnections', () => {
  it('closes connections above the limit on accept, keeps every open session working, and accepts again afterwards', async () => {
    const server = await startServerProcess({
      secret: SECRET,
      plugins: path.join(EXAMPLE_PLUGINS, 'echo'),
      limits: { maxConnections: MAX_CONNECTIONS },
    });
    const tracker = new SocketTracker();
    const prng = new Prng(0xf100d);

    // --- the established sessions, each sending echo requests all through the flood ---
    const clients: NekoClient[] = [];
    const sessionProblems: string[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const client = await connect({ secret: SECRET, port: server.port, requestTimeoutMs: 10_000 });
      onTestFinished(() => void client.close());
      client.on('close', (info) => sessionProblems.push(`session ${i} was closed: ${JSON.stringify(info)}`));
      clients.push(client);
    }
    expect(await connectionsSettleTo(server, SESSIONS)).toBe(SESSIONS);

    const requestsPerSession = new Array<number>(SESSIONS).fill(0);
    const echo = async (i: number, tag: string): Promise<void> => {
      const n = requestsPerSession[i]!++;
      const op = (i * 100_000 + n) % 0x1_0000_0000;
      const data = `${tag} session ${i} #${n}`;
      try {
        const reply = await clients[i]!.request('echo', data, { op });
        if (reply.greeter !== 'echo' || reply.op !== op || reply.text() !== data) {
          sessionProblems.push(
            `session ${i} #${n}: wrong reply ${reply.greeter} op ${reply.op} ${reply.text()}`,
          );
        }
      } catch (err) {
        sessionProblems.push(`session ${i} #${n} failed: ${(err as Error).message}`);
      }
    };
    let flooding = true;
    const sessionLoops = clients.map(async (_, i) => {
      while (flooding) {
        await echo(i, 'during');
        await sleep(5 + prng.int(10));
      }
    });

    // --- the flood: bursts of raw connections, each sending a valid auth packet at once ---
    const totals: Record<Outcome | 'unexpected', number> = {
      accepted: 0,
      'closed-on-accept': 0,
      'refused-at-connect': 0,
      unexpected: 0,
    };
    const unexpected: string[] = [];
    let maxSeenConnections = 0;
    let resets = 0;
    const started = Date.now();
    for (let burst = 0; burst < BURSTS; burst++) {
      const attempts = await Promise.all(
        Array.from({ length: BURST_SIZE }, () => attempt(server.port, tracker, prng)),
      );
      // While every accepted flood connection is still open, the server holds at most the limit.
      const { connections } = await server.memory();
      maxSeenConnections = Math.max(maxSeenConnections, connections);
      const counts = { accepted: 0, 'closed-on-accept': 0, 'refused-at-connect': 0, unexpected: 0 };
      for (const a of attempts) {
        counts[a.outcome]++;
        totals[a.outcome]++;
        if (a.outcome === 'unexpected') unexpected.push(`burst ${burst}: ${a.detail}`);
        if (a.reset) resets++;
      }
      console.log(`flood burst ${burst + 1}: ${JSON.stringify(counts)}; server connections ${connections}`);
      expect(connections).toBeLessThanOrEqual(MAX_CONNECTIONS);
      // Only the room left by the open sessions can be taken.
      expect(counts.accepted).toBeLessThanOrEqual(MAX_CONNECTIONS - SESSIONS);
      expect(counts.accepted + counts['closed-on-accept'] + counts['refused-at-connect']).toBe(BURST_SIZE);
      // The accepted ones leave; the next burst starts with the sessions alone.
      for (const a of attempts) a.peer?.destroy();
      expect(await connectionsSettleTo(server, SESSIONS)).toBe(SESSIONS);
    }
    const floodSeconds = (Date.now() - started) / 1000;
    flooding = false;
    await Promise.all(sessionLoops);

    console.log(
      `flood: ${BURSTS * BURST_SIZE} connection attempts in ${BURSTS} bursts of ${BURST_SIZE} in ${floodSeconds.toFixed(1)} s ` +
        `(limit ${MAX_CONNECTIONS}, ${SESSIONS} sessions open): ${JSON.stringify(totals)}; ` +
        `${resets} of the refused were closed by a reset, the others by a FIN; ` +
        `at most ${maxSeenConnections} connections on the server; ` +
        `${requestsPerSession.reduce((a, b) => a + b, 0)} echo requests by the sessions during the flood`,
    );
    expect(unexpected).toEqual([]);
    expect(server.isAlive()).toBe(true);
    // The limit did its work: most attempts were turned away, and some got in.
    expect(totals['closed-on-accept'] + totals['refused-at-connect']).toBeGreaterThanOrEqual(
      BURSTS * (BURST_SIZE - (MAX_CONNECTIONS - SESSIONS)),
    );
    expect(totals.accepted).toBeGreaterThan(0);
    // Every session kept working through the flood, and none was closed.
    expect(sessionProblems).toEqual([]);
    for (const n of requestsPerSession) expect(n).toBeGreaterThanOrEqual(5);

    // --- after the flood ---
    for (let i = 0; i < SESSIONS; i++) await echo(i, 'after');
    expect(sessionProblems).toEqual([]);
    // New connections are accepted again, up to the limit...
    const newcomers: NekoClient[] = [];
    for (let i = 0; i < MAX_CONNECTIONS - SESSIONS; i++) {
      const client = await connect({ secret: SECRET, port: server.port, connectTimeoutMs: 10_000 });
      onTestFinished(() => void client.close());
      newcomers.push(client);
    }
    const replies = await Promise.all(newcomers.map((c, i) => c.request('echo', `newcomer ${i}`, { op: i })));
    expect(replies.map((r) => r.text())).toEqual(newcomers.map((_, i) => `newcomer ${i}`));
    expect(await connectionsSettleTo(server, MAX_CONNECTIONS)).toBe(MAX_CONNECTIONS);
    // ...and not beyond it.
    await expect(
      connect({ secret: SECRET, port: server.port, connectTimeoutMs: 5_000 }),
    ).rejects.toMatchObject({
      code: 'NEKO_ERR_CLIENT_CONNECT',
    });
    // Room again once one leaves.
    await newcomers.pop()!.close();
    expect(await connectionsSettleTo(server, MAX_CONNECTIONS - 1)).toBe(MAX_CONNECTIONS - 1);
    const late = await connect({ secret: SECRET, port: server.port, connectTimeoutMs: 10_000 });
    onTestFinished(() => void late.close());
    expect((await late.request('echo', 'late')).text()).toBe('late');

    for (let i = 0; i < SESSIONS; i++) await echo(i, 'end');
    expect(sessionProblems).toEqual([]);
    expect(clients.every((c) => c.connected)).toBe(true);
    expect(server.isAlive()).toBe(true);
    expect(server.logs.filter((r) => r.level === 'error')).toEqual([]);
  });
});

/**
 * One flood connection: it sends a valid auth packet as soon as it is
 * connected, then waits. Accepted: the server answers 200 (it is kept open
 * until the burst is over). Refused: closed with no byte from the server.
 */
async function attempt(port: number, tracker: SocketTracker, prng: Prng): Promise<Attempt> {
  let peer: FramePeer;
  try {
    peer = await FramePeer.connect(port, tracker);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ECONNREFUSED'
      ? { outcome: 'refused-at-connect' }
      : { outcome: 'unexpected', detail: `connect failed: ${code ?? (err as Error).message}` };
  }
  const random = prng.printable(22);
  peer.write(buildFrame(authParts(SECRET, random)));
  await peer.until(() => peer.frames.length > 0 || peer.closed, OUTCOME_TIMEOUT_MS);
  if (peer.frames.length > 0) {
    const problem = checkAnswer(SECRET, peer.frames[0]!, { kind: 'auth-ok', clientRandom: random });
    if (problem || peer.frames.length > 1) {
      return {
        outcome: 'unexpected',
        detail: `${problem ?? 'extra frames'}: ${peer.frames.map(describeFrame).join(', ')}`,
      };
    }
    return { outcome: 'accepted', peer };
  }
  if (peer.closed) {
    if (peer.bytesReceived > 0)
      return { outcome: 'unexpected', detail: `closed after ${peer.bytesReceived} stray bytes` };
    return { outcome: 'closed-on-accept', reset: !peer.ended };
  }
  peer.destroy();
  return { outcome: 'unexpected', detail: `neither answered nor closed within ${OUTCOME_TIMEOUT_MS} ms` };
}

/** Polls the server's connection count until it is `n` (at most 10 s); returns the last count. */
async function connectionsSettleTo(server: ServerProcess, n: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  let connections = (await server.memory()).connections;
  while (connections !== n && Date.now() < deadline) {
    await sleep(100);
    connections = (await server.memory()).connections;
  }
  return connections;
}
