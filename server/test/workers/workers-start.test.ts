/**
 * `nekoconnect start --workers`, the built CLI with real processes and
 * sockets: two workers on PostgreSQL serve one port (connections land on
 * both), the chat spans them through the primary's IPC bus and presence, a
 * worker killed with SIGKILL is restarted and its sessions leave `who`,
 * SIGTERM shuts every worker down with the 503 notice; no worker has the
 * secret in its environment; nedb refuses more than one worker; with
 * `--cluster` the workers use Redis instead.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import { assertBuilt, runCli, startCli, type RunningCli } from '../cli/run-cli.js';
import {
  Chat,
  SECRET,
  clusterName,
  clusterPlugins,
  nick,
  peer,
  say,
  who,
  type Peer,
} from '../cluster/cluster-processes.js';
import { eventually } from '../cluster/presence-conformance.js';
import { freshDatabase } from '../storage/postgres-processes.js';

/** A probe plugin: op 1 answers the process it runs in, and whether that process's environment holds the secret. */
const PROBE = `export class Logic {
  recv(ctx) {
    const env = JSON.stringify(process.env);
    ctx.send(JSON.stringify({
      pid: process.pid,
      worker: process.env.NEKOCONNECT_WORKER ?? null,
      secretInEnv: env.includes(${JSON.stringify(SECRET)}) || 'NEKOCONNECT_SECRET' in process.env,
    }), { op: 1 });
  }
}
`;

interface Where {
  pid: number;
  worker: string | null;
  secretInEnv: boolean;
}

let postgres: RunningPostgres;

beforeAll(async () => {
  assertBuilt();
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
});

/** The chat and todo examples, and the probe. */
async function plugins(): Promise<string> {
  const dir = await clusterPlugins();
  await mkdir(path.join(dir, 'where'));
  await writeFile(
    path.join(dir, 'where', 'spec.conf'),
    '$name {"Where"};\n$greet {"where"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
  );
  await writeFile(path.join(dir, 'where', 'logic.js'), PROBE);
  return dir;
}

async function where(p: Peer): Promise<Where> {
  return (await p.client.request('where', '', { op: 1, replyOp: 1 })).json<Where>();
}

/** Starts `start --workers <n>` with these extra flags; resolves once every worker listens. */
async function startWorkers(n: number, extra: string[]): Promise<{ cli: RunningCli; port: number }> {
  const cli = startCli(
    ['start', await plugins(), '--workers', String(n), '--port', '0', '--no-dashboard', ...extra],
    { NEKOCONNECT_SECRET: SECRET },
  );
  const [, port] = await cli.waitFor(
    new RegExp(`listening on tcp://127\\.0\\.0\\.1:(\\d+) +\\(${n} workers`),
    40_000,
  );
  return { cli, port: Number(port) };
}

/** Peers connected until they span `count` worker processes (the primary shares connections out in turn). */
async function peersOnWorkers(port: number, count: number): Promise<Map<number, Peer[]>> {
  const byPid = new Map<number, Peer[]>();
  for (let i = 0; i < 12 && byPid.size < count; i++) {
    const p = await peer(port);
    const at = await where(p);
    byPid.set(at.pid, [...(byPid.get(at.pid) ?? []), p]);
  }
  return byPid;
}

describe('nekoconnect start --workers', () => {
  it('2 workers on PostgreSQL: both serve, the chat spans them, a killed worker is restarted, SIGTERM stops them all', async () => {
    const database = await freshDatabase(postgres, 'workers');
    const { cli, port } = await startWorkers(2, ['--storage', database]);
    expect(cli.stdout()).toContain('workers: 2 (IPC bus through the primary)');
    expect(cli.stdout()).toMatch(/worker 1 │ .*cluster: workers via IPC through the primary/);
    expect(cli.stdout()).toMatch(/worker 2 │ .*cluster: workers via IPC through the primary/);

    // Connections land on both workers, neither of which is the primary, and neither has the secret in its environment.
    const byPid = await peersOnWorkers(port, 2);
    expect(byPid.size).toBe(2);
    expect([...byPid.keys()]).not.toContain(cli.child.pid);
    const [[pidA, onA], [pidB, onB]] = [...byPid] as [[number, Peer[]], [number, Peer[]]];
    for (const p of [...onA, ...onB]) expect((await where(p)).secretInEnv).toBe(false);
    const whereA = await where(onA[0]!);
    const whereB = await where(onB[0]!);
    expect([whereA.worker, whereB.worker].sort()).toEqual(['1', '2']);

    // The chat: a broadcast reaches the other worker's clients, who and nicknames span both.
    const mimi = onA[0]!;
    const tama = onB[0]!;
    expect(await nick(mimi, 'mimi')).toEqual({ nick: 'mimi' });
    expect(await nick(tama, 'tama')).toEqual({ nick: 'tama' });
    await say(mimi, 'hello from a');
    expect(await tama.push(Chat.Say)).toEqual({ nick: 'mimi', text: 'hello from a' });
    await say(tama, 'hello from b');
    expect(await mimi.push(Chat.Say)).toEqual({ nick: 'tama', text: 'hello from b' });
    expect(await who(mimi)).toEqual(['mimi', 'tama']);
    expect(await who(tama)).toEqual(['mimi', 'tama']);
    const kiki = (await peersOnWorkers(port, 2)).get(pidB)![0]!;
    expect(await nick(kiki, 'mimi')).toEqual({ error: 'the nickname mimi is taken' });
    expect(await nick(kiki, 'kiki')).toEqual({ nick: 'kiki' });

    // Worker B killed: the primary says so and starts another; B's sessions leave who.
    process.kill(pidB, 'SIGKILL');
    const [, slot] = await cli.waitForStderr(
      new RegExp(
        `worker (\\d) \\(pid ${pidB}\\) exited with signal SIGKILL after [0-9.]+ m?s; restarting it in 100 ms`,
      ),
      10_000,
    );
    expect(slot).toBe(whereB.worker);
    const [, restartedPid] = await cli.waitFor(
      new RegExp(`worker ${slot} restarted \\(pid (\\d+)\\)`),
      10_000,
    );
    await eventually(async () => expect(await who(mimi)).toEqual(['mimi']), 10_000);
    // The survivor's chat told mimi that tama and kiki left (onSessionGone).
    const left = [await mimi.push<{ nick: string }>(Chat.Left), await mimi.push<{ nick: string }>(Chat.Left)];
    expect(left.map((l) => l.nick).sort()).toEqual(['kiki', 'tama']);
    // The new worker serves (its own listening line: the second of its slot).
    const listening = `worker ${slot} │ listening on tcp://127\\.0\\.0\\.1:${port}`;
    await cli.waitFor(new RegExp(`${listening}[\\s\\S]*${listening}`), 20_000);
    const again = await peersOnWorkers(port, 2);
    expect([...again.keys()].sort()).toEqual([pidA, Number(restartedPid)].sort());
    const fresh = again.get(Number(restartedPid))![0]!;
    expect(await nick(fresh, 'tama')).toEqual({ nick: 'tama' });
    expect(await who(mimi)).toEqual(['mimi', 'tama']);

    // A signal sent to a worker (nekoconnect reload finds a worker's pid in a nedb lock) is the primary's to act on: every worker reloads.
    process.kill(pidA, 'SIGHUP');
    await cli.waitFor(/SIGHUP: every worker reloads its config and plugins/, 10_000);
    await cli.waitFor(/worker 1 │ .*SIGHUP: reloading the config and the plugins/, 10_000);
    await cli.waitFor(/worker 2 │ .*SIGHUP: reloading the config and the plugins/, 10_000);
    expect(await who(mimi)).toEqual(['mimi', 'tama']);

    // SIGTERM to every process at once (as systemd stops a unit's control group): counted once, every worker
    // shuts down, each client gets the 503 notice, the primary exits 0.
    const closes = [mimi, fresh].map(
      (p) => new Promise<{ status?: number }>((resolve) => p.client.once('close', resolve)),
    );
    for (const pid of [cli.child.pid!, pidA, Number(restartedPid)]) process.kill(pid, 'SIGTERM');
    expect((await Promise.all(closes)).map((c) => c.status)).toEqual([503, 503]);
    expect((await cli.exitedWithin()).code).toBe(0);
    expect(cli.stdout()).toMatch(/worker 1 \(pid \d+\) exited with code 0/);
    expect(cli.stdout()).toMatch(/worker 2 \(pid \d+\) exited with code 0/);
    // Every worker is gone with the primary.
    for (const pid of [pidA, Number(restartedPid)]) expect(() => process.kill(pid, 0)).toThrow();
  }, 60_000);

  it('refuses more than one worker on nedb (exit 2, before any port or file), naming the fix', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'neko-workers-nedb-'));
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }));
    const result = await runCli(['start', await plugins(), '--workers', '2', '--data-dir', dataDir], {
      NEKOCONNECT_SECRET: SECRET,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('NEKO_ERR_CONFIG_WORKERS_STORAGE');
    expect(result.stderr).toContain('2 workers cannot share nedb files');
    expect(result.stderr).toContain('--storage postgres://');
    expect(result.stderr).toContain('--workers 1');
    expect(result.stdout).not.toContain('listening');
    expect(await readdir(dataDir)).toEqual([]);
    const bad = await runCli(['start', await plugins(), '--workers', 'many'], { NEKOCONNECT_SECRET: SECRET });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--workers must be a whole number from 1 to 256, or auto');
  });

  it('a SIGTERM while the workers start stops them all', async () => {
    for (const delayMs of [0, 300]) {
      const cli = startCli(['start', await plugins(), '--workers', '1', '--port', '0', '--no-dashboard'], {
        NEKOCONNECT_SECRET: SECRET,
      });
      await cli.waitFor(/workers: 1 \(IPC bus through the primary\)/, 20_000);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      cli.child.kill('SIGTERM');
      expect((await cli.exitedWithin()).code).toBe(0);
    }
  }, 60_000);

  it('a SIGTERM after a worker joined the bus, before it listens, stops it', async () => {
    // A worker's listen asks the primary for the port; a shutdown meanwhile must not leave it waiting forever.
    for (let round = 0; round < 2; round++) {
      const cli = startCli(['start', await plugins(), '--workers', '1', '--port', '0', '--no-dashboard'], {
        NEKOCONNECT_SECRET: SECRET,
      });
      await cli.waitFor(/worker 1 │ .*joined through IPC with the primary/, 20_000);
      cli.child.kill('SIGTERM');
      expect((await cli.exitedWithin()).code).toBe(0);
      expect(cli.stdout() + cli.stderr()).not.toContain('NEKO_ERR_SERVER_CLOSED');
    }
  }, 60_000);

  it('--workers 1 serves on nedb', async () => {
    const { cli, port } = await startWorkers(1, []);
    const p = await peer(port);
    expect((await where(p)).worker).toBe('1');
    cli.child.kill('SIGTERM');
    expect((await cli.exitedWithin()).code).toBe(0);
  }, 60_000);

  it('--help documents --workers on start only', async () => {
    const start = await runCli(['start', '--help']);
    expect(start.stdout).toMatch(/--workers <n\|auto> +serve with n worker processes sharing the port/);
    const dev = await runCli(['dev', '--help']);
    expect(dev.stdout).not.toContain('--workers');
  });
});

describe('nekoconnect start --workers --cluster', () => {
  let redis: RunningRedis;
  beforeAll(async () => {
    redis = await startRedis();
  }, 30_000);
  afterAll(async () => {
    await redis?.stop();
  });

  it('uses Redis for the bus and presence instead of the primary', async () => {
    const database = await freshDatabase(postgres, 'workers_redis');
    const { cli, port } = await startWorkers(2, [
      '--storage',
      database,
      '--cluster',
      redis.url,
      '--cluster-name',
      clusterName(),
    ]);
    expect(cli.stdout()).toContain(`workers: 2 (Redis at 127.0.0.1:${redis.port})`);
    expect(cli.stdout()).toMatch(/worker 1 │ .*cluster: t[0-9a-f]+ via redis:\/\/:\*\*\*@127\.0\.0\.1/);
    expect(cli.stdout() + cli.stderr()).not.toContain(redis.password);
    const byPid = await peersOnWorkers(port, 2);
    expect(byPid.size).toBe(2);
    const [a, b] = [...byPid.values()].map((peers) => peers[0]!) as [Peer, Peer];
    expect(await nick(a, 'mimi')).toEqual({ nick: 'mimi' });
    expect(await nick(b, 'mimi')).toEqual({ error: 'the nickname mimi is taken' });
    await say(a, 'over redis');
    expect(await b.push(Chat.Say)).toEqual({ nick: 'mimi', text: 'over redis' });

    // A worker that keeps failing waits longer each time: 100 ms, then 200 ms.
    const [pid] = [...byPid.keys()];
    process.kill(pid!, 'SIGKILL');
    const [, slot] = await cli.waitForStderr(
      new RegExp(
        `worker (\\d) \\(pid ${pid}\\) exited with signal SIGKILL after .*; restarting it in 100 ms`,
      ),
      10_000,
    );
    const [, again] = await cli.waitFor(new RegExp(`worker ${slot} restarted \\(pid (\\d+)\\)`), 10_000);
    process.kill(Number(again), 'SIGKILL');
    await cli.waitForStderr(
      new RegExp(
        `worker ${slot} \\(pid ${again}\\) exited with signal SIGKILL after .*; restarting it in 200 ms`,
      ),
      10_000,
    );
    await cli.waitFor(new RegExp(`worker ${slot} restarted \\(pid (?!${again}\\))\\d+\\)`), 10_000);
    cli.child.kill('SIGTERM');
    expect((await cli.exitedWithin()).code).toBe(0);
  }, 60_000);
});
