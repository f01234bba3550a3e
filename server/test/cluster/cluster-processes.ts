/**
 * For the tests that run a cluster of real `nekoconnect start` processes on
 * a real Redis and PostgreSQL: a plugins directory with the chat and todo
 * examples and a direct-message probe, processes started by the built CLI
 * (each killed when the test ends), and chat clients that keep what was
 * pushed to them.
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { expect, onTestFinished } from 'vitest';
import { connect, type ClientPacket, type NekoClient } from '../../src/client/client.js';
import { REPO_ROOT, startCli, type RunningCli } from '../cli/run-cli.js';

export const SECRET = 'cluster-processes-secret';

/** The chat example's op codes (plugins/chat/spec.conf). */
export const Chat = { Nick: 1, Say: 2, Who: 3, Joined: 4, Left: 5, Renamed: 6, Error: 9 } as const;

/** The probe's ops: 1 answers the session's id; 2 `<id> <text>` sends text to that session and answers the result. */
const PROBE = `export class Logic {
  async recv(ctx) {
    if (ctx.op === 1) return void ctx.send(ctx.session.id, { op: 1 });
    const text = ctx.text();
    const space = text.indexOf(' ');
    const result = await ctx.sendTo(text.slice(0, space), text.slice(space + 1), { op: 7 });
    ctx.send(result, { op: 2 });
  }
}
`;

/** A plugins directory of its own: copies of the chat and todo examples, and the direct-message probe. */
export async function clusterPlugins(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'neko-cluster-plugins-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  for (const plugin of ['chat', 'todo']) {
    for (const file of ['spec.conf', 'logic.ts']) {
      await cp(path.join(REPO_ROOT, 'plugins', plugin, file), path.join(dir, plugin, file));
    }
  }
  await mkdir(path.join(dir, 'dm'));
  await writeFile(
    path.join(dir, 'dm', 'spec.conf'),
    '$name {"DM"};\n$greet {"dm"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
  );
  await writeFile(path.join(dir, 'dm', 'logic.js'), PROBE);
  return dir;
}

/** A fresh cluster name, so that the tests of a file never see each other's keys. */
export function clusterName(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

/** One server process of the cluster. */
export interface Node {
  cli: RunningCli;
  port: number;
  /** The process id the start-up report printed. */
  processId: string;
  /** `http://127.0.0.1:<port>` of its metrics port. */
  metrics: string;
}

export interface NodeOptions {
  redis: string;
  database: string;
  plugins: string;
  name: string;
  heartbeatTtlMs?: number;
  sendToTimeoutMs?: number;
}

/**
 * Starts `nekoconnect start <plugins> --cluster <redis> --storage <database>`
 * with a config file giving the cluster's name and timings, on free ports,
 * with a metrics port and no dashboard; resolves once it listens.
 */
export async function startNode(options: NodeOptions): Promise<Node> {
  const dir = await mkdtemp(path.join(tmpdir(), 'neko-cluster-node-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'nekoconnect.config.json');
  const cluster = {
    redis: options.redis,
    name: options.name,
    ...(options.heartbeatTtlMs === undefined ? {} : { heartbeatTtlMs: options.heartbeatTtlMs }),
    ...(options.sendToTimeoutMs === undefined ? {} : { sendToTimeoutMs: options.sendToTimeoutMs }),
  };
  await writeFile(config, JSON.stringify({ cluster }));
  const cli = startCli(
    [
      'start',
      options.plugins,
      '--config',
      config,
      '--port',
      '0',
      '--storage',
      options.database,
      '--no-dashboard',
      '--metrics-port',
      '0',
    ],
    { NEKOCONNECT_SECRET: SECRET },
  );
  const [, processId] = await cli.waitFor(/process ([0-9a-f]+) \(/, 30_000);
  const [, metrics] = await cli.waitFor(/metrics (http:\/\/127\.0\.0\.1:\d+)\/metrics/, 30_000);
  const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/, 30_000);
  return { cli, port: Number(port), processId: processId!, metrics: metrics! };
}

/** A client that keeps every push it gets. */
export interface Peer {
  client: NekoClient;
  pushes: ClientPacket[];
  /** Resolves with the first push (seen or to come) of `op` whose JSON fits `fits`, taking it out of `pushes`. */
  push<T = unknown>(op: number, fits?: (value: T) => boolean, timeoutMs?: number): Promise<T>;
}

/** Connects to the process on `port`; closed when the test ends. */
export async function peer(port: number): Promise<Peer> {
  const client = await connect({ secret: SECRET, port });
  onTestFinished(() => client.close());
  const pushes: ClientPacket[] = [];
  client.on('packet', (p: ClientPacket) => pushes.push(p));
  return {
    client,
    pushes,
    async push<T>(op: number, fits: (value: T) => boolean = () => true, timeoutMs = 10_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = pushes.findIndex((p) => p.op === op && fits(p.json<T>()));
        if (index >= 0) return pushes.splice(index, 1)[0]!.json<T>();
        if (Date.now() > deadline) {
          throw new Error(
            `no push of op ${op} within ${timeoutMs} ms; got ${pushes.map((p) => `${p.op} ${p.text()}`).join(' | ')}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}

/** Sets the chat nickname; resolves with the answer (`{ nick }` or `{ error }`). */
export async function nick(p: Peer, name: string): Promise<{ nick?: string; error?: string }> {
  return (await p.client.request('chat', name, { op: Chat.Nick, replyOp: [Chat.Nick, Chat.Error] })).json();
}

/** Says something in the chat; resolves once the server handled it. */
export async function say(p: Peer, text: string): Promise<void> {
  const answer = await p.client.request('chat', text, { op: Chat.Say, replyOp: [Chat.Error] });
  expect(answer.status).toBe(200);
}

/** The chat's `who`, sorted. */
export async function who(p: Peer): Promise<string[]> {
  const answer = await p.client.request('chat', '', { op: Chat.Who, replyOp: Chat.Who });
  return answer.json<{ nicks: string[] }>().nicks.sort();
}
