import { describe, expect, it } from 'vitest';
import { connect } from '../../src/client/client.js';
import { Hasher } from '../../src/protocol/hash.js';
import { randomString } from '../../src/protocol/random.js';
import { issueToken, parseTokenId, tokenKey } from '../../src/protocol/token.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { SECRET, startServer } from '../helpers/server.js';
import { WsPeer } from '../helpers/ws-peer.js';

// Per-user tokens (protocol §15), spoken by hand over real TCP and WebSocket.

const WHO = `export class Logic { recv(ctx) { ctx.send(String(ctx.session.user)); } }\n`;

async function whoServer(): Promise<Awaited<ReturnType<typeof startServer>>> {
  const plugins = await makePluginsDir([{ greeter: 'who', logic: WHO }]);
  return startServer({ plugins, websocket: { port: 0 } });
}

/** A first packet with a token: op 210, the id as data, H under the token's key of its own random. */
function tokenAuth(peer: RawPeer | WsPeer, id: string, key: string, random = randomString()): Buffer {
  peer.hasher = new Hasher(key);
  void peer.send({ greeter: 'auth', op: 210, random, data: id, hash: peer.hasher.hex(random) });
  return random;
}

describe('issueToken', () => {
  it('names the user and the expiry, and derives the key from the secret and the id', () => {
    const token = issueToken('neko', 'mimi', { ttlSeconds: 60, now: 1_700_000_000_000 });
    expect(token).toEqual({
      id: 'mimi.1700000060',
      key: new Hasher('neko').hex('nekoconnect-token:mimi.1700000060'),
      user: 'mimi',
      expiresAt: 1_700_000_060,
    });
    expect(token.key).toMatch(/^[0-9a-f]{64}$/);
    expect(parseTokenId(token.id)).toEqual({ user: 'mimi', expiresAt: 1_700_000_060 });
    expect(tokenKey(new Hasher('other'), token.id)).not.toBe(token.key);
  });

  it('refuses a user name outside A-Z a-z 0-9 _ - and a ttl that is not a positive whole number', () => {
    expect(() => issueToken('neko', 'mi mi')).toThrow(TypeError);
    expect(() => issueToken('neko', '')).toThrow(TypeError);
    expect(() => issueToken('neko', 'x'.repeat(65))).toThrow(TypeError);
    expect(() => issueToken('neko', 'mimi', { ttlSeconds: 0 })).toThrow(TypeError);
    expect(() => issueToken('neko', 'mimi', { ttlSeconds: 1.5 })).toThrow(TypeError);
    expect(parseTokenId('mimi')).toBeUndefined();
    expect(parseTokenId('.123')).toBeUndefined();
    expect(parseTokenId('mimi.0123')).toBeUndefined();
    expect(parseTokenId('mi.mi.123')).toBeUndefined();
  });
});

describe.each(['tcp', 'websocket'] as const)('authenticating with a token (%s)', (transport) => {
  async function dial(): Promise<{
    peer: RawPeer | WsPeer;
    logs: Awaited<ReturnType<typeof whoServer>>['logs'];
  }> {
    const started = await whoServer();
    const peer =
      transport === 'tcp'
        ? await RawPeer.connect(started.port)
        : await WsPeer.connect(started.server.websocketAddress()!.port);
    return { peer, logs: started.logs };
  }

  it('opens a session whose chain runs on the token key, and plugins see the user', async () => {
    const { peer } = await dial();
    const token = issueToken(SECRET, 'mimi', { ttlSeconds: 60 });
    const rc0 = tokenAuth(peer, token.id, token.key);
    const ok = await peer.next();
    expect([ok.greeter, ok.op, ok.hash.toString('latin1')]).toEqual([
      'nekoconnect-server',
      200,
      new Hasher(token.key).hex(rc0),
    ]);
    const random = await peer.packet('who', '', { op: 1 });
    const reply = await peer.next();
    expect([reply.data.toString(), reply.hash.toString('latin1')]).toEqual([
      'mimi',
      new Hasher(token.key).hex(random),
    ]);
    // The secret's hash is not the chain's: a packet hashed with it is refused.
    await peer.packet('who', '', { op: 1, hash: new Hasher(SECRET).hex(peer.newestRandom) });
    const refused = await peer.next();
    expect([refused.op, refused.hash.toString('latin1')]).toEqual([400, 'server']);
  });

  it('refuses an expired token, another user\'s id with this key, and a key used as a secret, each with 400 "server"', async () => {
    const expired = issueToken(SECRET, 'mimi', { ttlSeconds: 60, now: Date.now() - 3_600_000 });
    const good = issueToken(SECRET, 'mimi', { ttlSeconds: 60 });
    const cases: [string, (peer: RawPeer | WsPeer) => void, string][] = [
      ['expired', (p) => tokenAuth(p, expired.id, expired.key), 'NEKO_ERR_AUTH_TOKEN_EXPIRED'],
      [
        'other user',
        (p) => tokenAuth(p, good.id.replace('mimi', 'tama'), good.key),
        'NEKO_ERR_AUTH_BAD_HASH',
      ],
      [
        'later expiry',
        (p) => tokenAuth(p, `mimi.${good.expiresAt + 9_999}`, good.key),
        'NEKO_ERR_AUTH_BAD_HASH',
      ],
      ['not an id', (p) => tokenAuth(p, 'mimi', good.key), 'NEKO_ERR_AUTH_TOKEN'],
    ];
    for (const [what, auth, code] of cases) {
      const { peer, logs } = await dial();
      auth(peer);
      const refused = await peer.next();
      expect([what, refused.op, refused.hash.toString('latin1')]).toEqual([what, 400, 'server']);
      await peer.closed();
      expect(logs.some((r) => r.code === code)).toBe(true);
    }
    // The key as the secret of an ordinary auth packet: refused too.
    const { peer } = await dial();
    expect((await peer.handshake(good.key)).op).toBe(400);
  });
});

describe('the client SDK with a token', () => {
  it('connects with { token } instead of the secret, and reconnects with it', async () => {
    const started = await whoServer();
    const token = issueToken(SECRET, 'tama', { ttlSeconds: 60 });
    const client = await connect({ token, port: started.port });
    expect((await client.request('who', '', { op: 1 })).text()).toBe('tama');
    expect(started.server.sessions()[0]).toMatchObject({ user: 'tama' });
    await client.close();
    await expect(connect({ port: started.port })).rejects.toMatchObject({ code: 'NEKO_ERR_CLIENT_AUTH' });
    await expect(connect({ secret: SECRET, token, port: started.port })).rejects.toMatchObject({
      code: 'NEKO_ERR_CLIENT_AUTH',
    });
  });
});
