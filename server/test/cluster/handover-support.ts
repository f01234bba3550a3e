/**
 * For the tests of a resume landing on another process of the cluster than
 * the one holding the session: a plugin with a grace period whose hooks
 * write to an event log of the server it runs on, raw peers that speak the
 * resume extension (protocol §14) by hand. (The TCP relay whose target a
 * test switches from one process to another, as a load balancer does after
 * a reconnect, is `startRelay` of ../helpers/proxy.ts.)
 */
import type { Frame } from '../../src/protocol/frame.js';
import { eventLog, makePluginsDir, specConf } from '../helpers/plugins.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { SECRET } from '../helpers/server.js';

/**
 * The `game` plugin. Hooks log `disconnect <id> <sent>`, `reconnect <id> <v>`
 * and `leave <id>`; onDisconnect sends `while away` (op 6), onReconnect
 * `welcome back` (op 7). Commands (text): `me` answers the session id;
 * `set <v>` keeps v in ctx.state with a Map holding a Date and a
 * Uint8Array beside it; `get` answers them as JSON; `player` keeps an
 * instance of a class with a private field in ctx.state, `fn` a function;
 * `pid` answers the id of the process it runs in; `dm <id> <text>` sends to a session (op 9) and answers the result;
 * `join` puts the session in the group `room`, `who` lists it, `room <text>`
 * broadcasts to it (op 8) except the sender and answers the local count;
 * `own <nick>` sets the presence key `nick:<id>` owned by the session,
 * `peek <id>` reads it (JSON).
 */
export function gameLogic(key: string): string {
  return `const log = globalThis.${key} ?? [];
class Player { #hp = 3; get hp() { return this.#hp; } }
export class Logic {
  onDisconnect(ctx) { log.push('disconnect ' + ctx.session.id + ' ' + ctx.send('while away', { op: 6 })); }
  onReconnect(ctx) { log.push('reconnect ' + ctx.session.id + ' ' + (ctx.state.v ?? '-')); ctx.send('welcome back', { op: 7 }); }
  onLeave(ctx) { log.push('leave ' + ctx.session.id); }
  async recv(ctx) {
    const [cmd, arg = '', ...more] = ctx.text().split(' ');
    const rest = more.join(' ');
    const me = ctx.session.id;
    const room = ctx.group('room');
    switch (cmd) {
      case 'me': return void ctx.send(me);
      case 'pid': return void ctx.send(String(process.pid));
      case 'set':
        ctx.state.v = arg;
        ctx.state.seen = new Map([['at', new Date(86400000)]]);
        ctx.state.bytes = new Uint8Array([1, 2, 3]);
        return void ctx.send('ok');
      case 'get': {
        const seen = ctx.state.seen instanceof Map ? ctx.state.seen.get('at').toISOString() : null;
        const bytes = ctx.state.bytes instanceof Uint8Array ? [...ctx.state.bytes] : null;
        return void ctx.send(JSON.stringify({ id: me, v: ctx.state.v ?? null, seen, bytes }));
      }
      case 'player': ctx.state.player = new Player(); return void ctx.send('ok');
      case 'fn': ctx.state.later = () => 1; return void ctx.send('ok');
      case 'dm': return void ctx.send(await ctx.sendTo(arg, rest, { op: 9 }));
      case 'join': return void ctx.send(String(await room.add(me)));
      case 'who': return void ctx.send(JSON.stringify(await room.members()));
      case 'room': return void ctx.send(String(room.broadcast(arg, { op: 8, except: me })));
      case 'own': await ctx.presence.set('nick:' + me, arg, { owner: 'session' }); return void ctx.send('ok');
      case 'peek': return void ctx.send(JSON.stringify((await ctx.presence.get('nick:' + arg)) ?? null));
      default: return void ctx.send('hi');
    }
  }
}
`;
}

/** A plugins directory with the game plugin (grace `graceS` seconds) logging to a list of its own. */
export async function gamePlugins(graceS = 5): Promise<{ plugins: string; events: string[] }> {
  const { key, events } = eventLog();
  const plugins = await makePluginsDir([
    { greeter: 'game', logic: gameLogic(key), spec: `${specConf('Game', 'game')}$grace {"${graceS}"};\n` },
  ]);
  return { plugins, events };
}

export const text = (frame: Frame): string => frame.data.toString('utf8');
export const shape = (frame: Frame): [string, number, string] => [frame.greeter, frame.op, text(frame)];

/** Sends a packet in the chain and returns the next frame. */
export async function ask(peer: RawPeer, greeter: string, data: string, op = 1): Promise<Frame> {
  await peer.packet(greeter, data, { op });
  return peer.next();
}

/** Connects, authenticates and asks for a resume token. */
export async function resumablePeer(port: number): Promise<{ peer: RawPeer; token: string }> {
  const peer = await RawPeer.connect(port);
  await peer.handshake(SECRET);
  const answer = await ask(peer, 'auth', '', 201);
  return { peer, token: text(answer) };
}

/** Connects, authenticates and presents a token; returns the peer and the answer. */
export async function resume(port: number, token: string): Promise<{ peer: RawPeer; answer: Frame }> {
  const peer = await RawPeer.connect(port);
  await peer.handshake(SECRET);
  const answer = await ask(peer, 'auth', token, 202);
  return { peer, answer };
}
