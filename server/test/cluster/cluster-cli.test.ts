/**
 * `nekoconnect start` in a cluster, as a user runs it (the built CLI, a real
 * redis-server): the start-up report names the cluster and this process;
 * the Redis URL's password, given by --cluster, NEKOCONNECT_REDIS_URL or the
 * config file, appears in no line printed (pretty or JSON), no dashboard
 * answer, no --help and no error of an unreachable Redis; nedb files in a
 * cluster are warned about; a start without a cluster never loads ioredis.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/client.js';
import { startRedis, type RunningRedis } from '../../../scripts/test-support/redis.js';
import { REPO_ROOT, assertBuilt, runCli, startCli } from '../cli/run-cli.js';
import { tempDir } from '../cli/data-run.js';
import { clusterName } from './cluster-processes.js';

const SECRET = 'shared-secret-of-the-cluster-cli-test';
const PLUGINS = path.join(REPO_ROOT, 'plugins');
/** A password no output could hold by chance, for URLs of Redis servers that are not there. */
const CANARY = 'canary-redis-5d1e08b3c7-pw';
const PROBE = pathToFileURL(path.join(import.meta.dirname, 'fixtures', 'ioredis-probe', 'probe.mjs')).href;

let redis: RunningRedis;

beforeAll(async () => {
  assertBuilt();
  redis = await startRedis();
}, 30_000);
afterAll(() => redis?.stop());

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Serves in a cluster given one way, uses it, reads the dashboard's answers; returns every text shown. */
async function serveAndCollect(how: 'flag' | 'env' | 'config', format: 'pretty' | 'json'): Promise<string[]> {
  const cwd = await tempDir('neko-cluster-cli-');
  const name = clusterName();
  const args = [
    'start',
    PLUGINS,
    '--port',
    '0',
    '--data-dir',
    path.join(cwd, 'data'),
    '--cluster-name',
    name,
  ];
  const env: NodeJS.ProcessEnv = { NEKOCONNECT_SECRET: SECRET };
  if (how === 'flag') args.push('--cluster', redis.url);
  if (how === 'env') env.NEKOCONNECT_REDIS_URL = redis.url;
  if (how === 'config') {
    const config = path.join(cwd, 'nekoconnect.config.json');
    await writeFile(config, JSON.stringify({ cluster: { redis: redis.url } }));
    args.push('--config', config);
  }
  if (format === 'json') args.push('--log-format', 'json');
  const cli = startCli(args, env);
  const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
  const [, dashboard, token] = await cli.waitFor(/(http:\/\/127\.0\.0\.1:\d+\/)\?token=([\w-]+)/);
  // The report names the cluster, the Redis server without its password, this process and its host.
  const [line, processId] = await cli.waitFor(
    new RegExp(
      `cluster: ${name} via redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port}/?, process ([0-9a-f]{16}) \\(([^)]+)\\)`,
    ),
  );
  expect(line).toBeDefined();
  // nedb files in a cluster: warned about, coded.
  expect(cli.stderr()).toContain('NEKO_ERR_CLUSTER_LOCAL_DATA');

  const client = await connect({ secret: SECRET, port: Number(port) });
  expect((await client.request('echo', `by-${how}`)).text()).toBe(`by-${how}`);
  await client.close();
  const texts: string[] = [];
  for (const api of ['api/overview', 'api/settings', 'api/plugins', 'api/plugins/echo', 'api/logs']) {
    const answer = await fetch(`${dashboard}${api}`, { headers: { authorization: `Bearer ${token}` } });
    texts.push(`${api} ${answer.status} ${await answer.text()}`);
  }
  const all = texts.join('\n');
  expect(all).toContain(`"processId":"${processId}"`);
  expect(all).toMatch(new RegExp(`"cluster":\\{"name":"${name}","processId":"${processId}"`));
  expect(all).toMatch(/"redis":"redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/?"/);
  cli.child.kill('SIGINT');
  expect((await cli.exited).code).toBe(0);
  texts.push(cli.stdout(), cli.stderr());
  return texts;
}

describe('nekoconnect start --cluster', () => {
  for (const how of ['flag', 'env', 'config'] as const) {
    it(`by ${how}: names the cluster and this process; the password is in no line printed (pretty and JSON) and no dashboard answer`, async () => {
      const texts = [...(await serveAndCollect(how, 'pretty')), ...(await serveAndCollect(how, 'json'))];
      for (const text of texts) expect(text).not.toContain(redis.password);
    }, 60_000);
  }

  it('NEKOCONNECT_REDIS_URL leaves the environment: plugins and their child processes do not see it; a reload keeps the cluster', async () => {
    const dir = await tempDir('neko-cluster-env-');
    const plugin = path.join(dir, 'plugins', 'probe');
    await mkdir(plugin, { recursive: true });
    await writeFile(
      path.join(plugin, 'spec.conf'),
      '$name {"Probe"};\n$greet {"probe"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
    );
    await writeFile(
      path.join(plugin, 'logic.js'),
      `import { execFileSync } from 'node:child_process';
export class Logic {
  onLoad(plugin) {
    const child = execFileSync(process.execPath, ['-e', 'process.stdout.write(process.env.NEKOCONNECT_REDIS_URL ?? "absent")'], { encoding: 'utf8' });
    plugin.log(\`probe sees \${process.env.NEKOCONNECT_REDIS_URL ?? 'absent'}, its child \${child}\`);
  }
  recv() {}
}
`,
    );
    const cli = startCli(
      [
        'start',
        path.join(dir, 'plugins'),
        '--port',
        '0',
        '--data-dir',
        path.join(dir, 'data'),
        '--cluster-name',
        clusterName(),
      ],
      { NEKOCONNECT_SECRET: SECRET, NEKOCONNECT_REDIS_URL: redis.url },
    );
    await cli.waitFor(/listening on tcp/);
    expect(cli.stdout() + cli.stderr()).toMatch(/probe sees absent, its child absent/);
    cli.child.kill('SIGHUP');
    const [summary] = await cli.waitFor(/reload done: .*/);
    expect(summary).toMatch(/needs a restart: nothing/);
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
    expect(cli.stdout() + cli.stderr()).not.toContain(redis.password);
  }, 30_000);

  it('in any --help, even with the URL on the command line and in the environment', async () => {
    const url = `redis://:${CANARY}@redis.example:6379`;
    for (const command of ['start', 'dev']) {
      const { code, stdout, stderr } = await runCli([command, '--cluster', url, '--help'], {
        NEKOCONNECT_REDIS_URL: url,
      });
      expect(code).toBe(0);
      expect(stdout).toMatch(/--cluster <redis-url>/);
      expect(stdout).toMatch(/--cluster-name <name>/);
      expect(stdout).toContain('NEKOCONNECT_REDIS_URL');
      expect(stdout + stderr).not.toContain(CANARY);
    }
  });

  it('an unreachable Redis stops the start (exit 1) with NEKO_ERR_CLUSTER_UNREACHABLE naming host:port, by flag, env or config, pretty or JSON', async () => {
    const port = await closedPort();
    const url = `redis://:${CANARY}@127.0.0.1:${port}`;
    const cwd = await tempDir('neko-cluster-unreachable-');
    const config = path.join(cwd, 'nekoconnect.config.json');
    await writeFile(config, `{\n  "cluster": {\n    "redis": ${JSON.stringify(url)}\n  }\n}\n`);
    const outputs: string[] = [];
    for (const format of [[], ['--log-format', 'json']]) {
      const base = ['start', PLUGINS, '--port', '0', '--no-dashboard', ...format];
      const runs = [
        await runCli([...base, '--cluster', url], { NEKOCONNECT_SECRET: SECRET }),
        await runCli(base, { NEKOCONNECT_SECRET: SECRET, NEKOCONNECT_REDIS_URL: url }),
        await runCli([...base, '--config', config], { NEKOCONNECT_SECRET: SECRET }),
      ];
      for (const result of runs) {
        expect(result.code).toBe(1);
        expect(result.stderr).toContain('NEKO_ERR_CLUSTER_UNREACHABLE');
        expect(result.stderr).toContain(`127.0.0.1:${port}`);
        // It never listened.
        expect(result.stdout).not.toMatch(/listening on/);
        outputs.push(result.stdout + result.stderr);
      }
    }
    for (const output of outputs) expect(output).not.toContain(CANARY);
  }, 60_000);

  it('a malformed Redis URL or cluster config is a configuration error (exit 2), its password masked, also in a code frame', async () => {
    const cwd = await tempDir('neko-cluster-malformed-');
    const flag = await runCli(['start', PLUGINS, '--cluster', `http://:${CANARY}@host:6379`], {
      NEKOCONNECT_SECRET: SECRET,
    });
    expect([flag.code, flag.stderr]).toEqual([2, expect.stringContaining('NEKO_ERR_CONFIG_INVALID')]);
    expect(flag.stderr).toContain('http://:***@host:6379');
    const config = path.join(cwd, 'nekoconnect.config.json');
    await writeFile(
      config,
      `{\n  "port": "oops",\n  "cluster": { "redis": "redis://:${CANARY}@db:6379" }\n}\n`,
    );
    const frame = await runCli(['start', PLUGINS, '--config', config], { NEKOCONNECT_SECRET: SECRET });
    expect(frame.code).toBe(2);
    expect(frame.stderr).toMatch(/port must be a whole number/);
    const parse = path.join(cwd, 'broken.json');
    await writeFile(parse, `{\n  "cluster": { "redis": "redis://:${CANARY}@db:6379" },\n  "port": 40,,\n}\n`);
    const broken = await runCli(['start', PLUGINS, '--config', parse], { NEKOCONNECT_SECRET: SECRET });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('redis://:***@db:6379');
    for (const result of [flag, frame, broken]) expect(result.stdout + result.stderr).not.toContain(CANARY);
  }, 30_000);
});

describe('a start without a cluster', () => {
  it('never loads ioredis (the probe sees it load for a cluster)', async () => {
    const loadedBy = async (extra: string[]): Promise<string[]> => {
      const file = path.join(await tempDir('neko-redis-probe-'), 'loaded.json');
      const cli = startCli(['start', PLUGINS, '--port', '0', '--no-dashboard', ...extra], {
        NODE_OPTIONS: `--import ${PROBE}`,
        NEKO_REDIS_PROBE_FILE: file,
        NEKOCONNECT_SECRET: SECRET,
        NEKOCONNECT_REDIS_URL: '',
      });
      await cli.waitFor(/listening on/);
      cli.child.kill('SIGINT');
      await cli.exited;
      return JSON.parse(await readFile(file, 'utf8')) as string[];
    };
    expect(await loadedBy([])).toEqual([]);
    const clustered = await loadedBy(['--cluster', redis.url, '--cluster-name', clusterName()]);
    expect(clustered).toContainEqual(
      expect.stringMatching(/node_modules[\\/]ioredis[\\/]built[\\/]index\.js$/),
    );
  }, 30_000);
});
