/**
 * For the bus tests: servers of one cluster in this test process (each
 * with its own bus, on a real Redis), a plugin that exposes broadcast,
 * sendTo and groups as text commands, and clients that keep their pushes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { onTestFinished } from 'vitest';
import type { ClientPacket, NekoClient } from '../../src/client/client.js';
import type { ClusterOptions } from '../../src/server/options.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { connectClient, SECRET, startServer, type StartedServer } from '../helpers/server.js';

/**
 * The `room` plugin. Commands (text, `cmd arg rest`):
 * `me` answers the session id; `all <text>` broadcasts to everyone else
 * (op 8); `allx <id> <text>` broadcasts leaving out `<id>` and the sender;
 * `bin` broadcasts bytes 0..255 to everyone else (op 6); `dm <id> <text>`
 * sends to one session (op 9) and answers the result; `join [id]`,
 * `part [id]`, `who` change and list the group `lobby`; `say <text>`
 * broadcasts to the lobby minus the sender (op 7); `storm <n> <tag>`
 * broadcasts `<tag>:<i>` to the lobby n times in a row (op 5);
 * `gone` answers what `onSessionGone` was told (with the presence key
 * `nick:<id>` as the hook read it), as JSON; that hook also broadcasts
 * `gone <id>` to the lobby (op 4). `own <nick>` sets the presence key
 * `nick:<id>` owned by the session; `peek <id>` reads it.
 */
export const ROOM = `const gone = [];
export class Logic {
  async onSessionGone(plugin, info) {
    // Read before the session's owned presence entries are removed.
    const nick = await plugin.presence.get('nick:' + info.sessionId);
    gone.push({ greeter: plugin.greeter, ...info, nick });
    plugin.group('lobby').broadcast('gone ' + info.sessionId, { op: 4 });
  }
  async recv(ctx) {
    const text = ctx.text();
    const [cmd, arg = '', ...more] = text.split(' ');
    const rest = more.join(' ');
    const lobby = ctx.group('lobby');
    const me = ctx.session.id;
    switch (cmd) {
      case 'me': return void ctx.send(me);
      case 'all': return void ctx.send('sent ' + ctx.broadcast(arg, { op: 8, except: me }));
      case 'allx': return void ctx.send('sent ' + ctx.broadcast(rest, { op: 8, except: [arg, me] }));
      case 'bin': return void ctx.send('sent ' + ctx.broadcast(Uint8Array.from({ length: 256 }, (_, i) => i), { op: 6, except: me }));
      case 'dm': return void ctx.send(await ctx.sendTo(arg, rest, { op: 9 }));
      case 'join': return void ctx.send(String(await lobby.add(arg || me)));
      case 'part': return void ctx.send(String(await lobby.remove(arg || me)));
      case 'who': return void ctx.send(JSON.stringify(await lobby.members()));
      case 'say': return void ctx.send('sent ' + lobby.broadcast(arg, { op: 7, except: me }));
      case 'storm': {
        for (let i = 0; i < Number(arg); i++) lobby.broadcast(rest + ':' + i, { op: 5 });
        return void ctx.send('stormed');
      }
      case 'gone': return void ctx.send(JSON.stringify(gone));
      case 'own': return void ctx.send(String(await ctx.presence.set('nick:' + me, arg, { owner: 'session' })));
      case 'peek': return void ctx.send(JSON.stringify((await ctx.presence.get('nick:' + arg)) ?? null));
      default: return void ctx.send('hi');
    }
  }
}
`;

/** A fresh cluster name, so that tests never see each other's keys. */
export function freshCluster(): string {
  return `b${randomBytes(4).toString('hex')}`;
}

/** The plugins directory with the `room` plugin. */
export function roomPlugins(): Promise<string> {
  return makePluginsDir([{ greeter: 'room', logic: ROOM }]);
}

/** A server of the cluster, in this process, closed when the test ends. */
export function clusterServer(plugins: string, cluster: ClusterOptions): Promise<StartedServer> {
  return startServer({ plugins, cluster });
}

/** A client of the room plugin that keeps every push it gets. */
export interface RoomClient {
  client: NekoClient;
  id: string;
  pushes: ClientPacket[];
  /** Sends a command, resolves with the answer's text. */
  say(text: string): Promise<string>;
  /** The texts of the pushes of op `op`. */
  texts(op: number): string[];
}

export async function roomClient(port: number): Promise<RoomClient> {
  const client = await connectClient(port);
  const pushes: ClientPacket[] = [];
  client.on('packet', (packet: ClientPacket) => pushes.push(packet));
  const say = async (text: string): Promise<string> => (await client.request('room', text)).text();
  const id = await say('me');
  onTestFinished(() => client.close());
  return {
    client,
    id,
    pushes,
    say,
    texts: (op) => pushes.filter((p) => p.op === op).map((p) => p.text()),
  };
}

/**
 * Starts the fixture server `fixtures/bus-process.ts` (bundled with
 * `bundleFixtures(['bus-process'])` of ipc-support.ts) in a process of its
 * own; it is killed when the test ends.
 */
export async function startBusProcess(
  bundle: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; port: number; processId: string }> {
  const child = spawn(process.execPath, [bundle], {
    env: { ...process.env, NEKO_TEST_SECRET: SECRET, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) =>
      reject(new Error(`the server process exited (${String(code)}) before listening`)),
    );
  });
  lines.close();
  const { port, processId } = JSON.parse(first) as { port: number; processId: string };
  return { child, port, processId };
}
