/**
 * The password of a PostgreSQL storage URL is a secret like the shared one:
 * whether it comes by --storage, NEKOCONNECT_DATABASE_URL or the config
 * file, it appears in no line the CLI prints (pretty or JSON), no --help, no
 * dashboard answer and no error, also when the database is unreachable or
 * the URL malformed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/client.js';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { REPO_ROOT, assertBuilt, runCli, startCli } from '../cli/run-cli.js';
import { runData, tempDir } from '../cli/data-run.js';

const SECRET = 'shared-secret-of-the-db-url-test';
const PLUGINS = path.join(REPO_ROOT, 'plugins');
/** A password no output could hold by chance, for URLs of servers that are not there. */
const CANARY = 'canary-db-9f3e21c7a5-pw';

let postgres: RunningPostgres;

beforeAll(async () => {
  assertBuilt();
  postgres = await startPostgres();
}, 60_000);
afterAll(() => postgres?.stop());

/** Serves with the storage given one way, uses it, reads the dashboard's answers; returns every text shown. */
async function serveAndCollect(how: 'flag' | 'env' | 'config', format: 'pretty' | 'json'): Promise<string[]> {
  const cwd = await tempDir('neko-db-url-');
  const args = ['start', PLUGINS, '--port', '0', '--data-dir', path.join(cwd, 'data')];
  const env: NodeJS.ProcessEnv = { NEKOCONNECT_SECRET: SECRET };
  if (how === 'flag') args.push('--storage', postgres.url);
  if (how === 'env') env.NEKOCONNECT_DATABASE_URL = postgres.url;
  if (how === 'config') {
    const config = path.join(cwd, 'nekoconnect.config.json');
    await writeFile(config, JSON.stringify({ storage: { backend: 'postgres', url: postgres.url } }));
    args.push('--config', config);
  }
  if (format === 'json') args.push('--log-format', 'json');
  const cli = startCli(args, env);
  const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
  const [, dashboard, token] = await cli.waitFor(/(http:\/\/127\.0\.0\.1:\d+\/)\?token=([\w-]+)/);
  const client = await connect({ secret: SECRET, port: Number(port) });
  await client.request('todo', JSON.stringify({ title: `by ${how}` }), { op: 1 });
  await client.close();

  const texts: string[] = [];
  for (const api of [
    'api/overview',
    'api/settings',
    'api/plugins',
    'api/plugins/todo',
    'api/plugins/todo/documents',
    'api/plugins/todo/cells',
    'api/logs',
  ]) {
    const answer = await fetch(`${dashboard}${api}`, { headers: { authorization: `Bearer ${token}` } });
    texts.push(`${api} ${answer.status} ${await answer.text()}`);
  }
  // The todo's data is shown: the answers were about the database.
  expect(texts.join('\n')).toContain(`by ${how}`);
  // The settings name the storage, its password masked.
  expect(texts.join('\n')).toMatch(/"storage":"PostgreSQL at postgres:\/\/[^:"]+:\*\*\*@127\.0\.0\.1:\d+\//);
  cli.child.kill('SIGINT');
  expect((await cli.exited).code).toBe(0);
  texts.push(cli.stdout(), cli.stderr());
  // The storage is named, with the password masked.
  expect(cli.stdout()).toContain(':***@127.0.0.1');
  return texts;
}

describe('the password of a PostgreSQL URL never appears', () => {
  for (const how of ['flag', 'env', 'config'] as const) {
    it(`when given by ${how}: in no line printed (pretty and JSON) and no dashboard answer`, async () => {
      const texts = [...(await serveAndCollect(how, 'pretty')), ...(await serveAndCollect(how, 'json'))];
      for (const text of texts) expect(text).not.toContain(postgres.password);
    });
  }

  it('to plugins or their child processes: NEKOCONNECT_DATABASE_URL leaves the environment, and a reload keeps the storage', async () => {
    const dir = await tempDir('neko-db-url-env-');
    const plugin = path.join(dir, 'plugins', 'probe');
    await mkdir(plugin, { recursive: true });
    await writeFile(
      path.join(plugin, 'spec.conf'),
      '$name {"Probe"};\n$greet {"probe"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
    );
    await writeFile(
      path.join(plugin, 'logic.ts'),
      `import { execFileSync } from 'node:child_process';

export class Logic {
  onLoad(plugin: { log(message: string): void }): void {
    const child = execFileSync(process.execPath, ['-e', 'process.stdout.write(process.env.NEKOCONNECT_DATABASE_URL ?? "absent")'], { encoding: 'utf8' });
    plugin.log(\`probe sees \${process.env.NEKOCONNECT_DATABASE_URL ?? 'absent'}, its child \${child}\`);
  }

  recv(): void {}
}
`,
    );
    const cli = startCli(
      ['start', path.join(dir, 'plugins'), '--port', '0', '--data-dir', path.join(dir, 'data')],
      {
        NEKOCONNECT_SECRET: SECRET,
        NEKOCONNECT_DATABASE_URL: postgres.url,
      },
    );
    await cli.waitFor(/listening on tcp/);
    expect(cli.stdout() + cli.stderr()).toMatch(/probe sees absent, its child absent/);
    cli.child.kill('SIGHUP');
    const [summary] = await cli.waitFor(/reload done: .*/);
    // The URL came back for the reload: the storage is the same, nothing needs a restart.
    expect(summary).toMatch(/needs a restart: nothing/);
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
    expect(cli.stdout() + cli.stderr()).not.toContain(postgres.password);
  });

  it('in any --help, even with the URL on the command line', async () => {
    const url = `postgres://neko:${CANARY}@db.example:5432/neko`;
    for (const command of [['start'], ['dev'], ['data'], ['data', 'export'], ['data', 'import']]) {
      const flag = command.length === 1 && command[0] === 'data' ? [] : ['--storage', url];
      const { code, stdout, stderr } = await runCli([...command, ...flag, '--help'], {
        NEKOCONNECT_DATABASE_URL: url,
      });
      expect(code).toBe(0);
      expect(stdout).toMatch(
        command.length === 1 && command[0] === 'data' ? /--storage/ : /--storage <url\|dir>/,
      );
      expect(stdout + stderr).not.toContain(CANARY);
    }
  });

  it('in the errors of an unreachable database or a malformed URL, by flag, env or config, pretty or JSON', async () => {
    const unreachable = `postgres://neko:${CANARY}@127.0.0.1:1/neko`;
    const malformed = [
      `postgres://neko:${CANARY}@127.0.0.1:99999/neko`,
      `postgres://neko:${CANARY}@127.0.0.1/a/b`,
      `postgres://neko:${CANARY}@127.0.0.1/neko?sslmode=sometimes`,
      `postgres://neko:${CANARY}@/neko`,
    ];
    const cwd = await tempDir('neko-db-url-err-');
    const outputs: string[] = [];
    for (const url of [unreachable, ...malformed]) {
      // JSON output for the unreachable server; the malformed URLs fail before any output format matters.
      for (const format of url === unreachable ? [[], ['--log-format', 'json']] : [[]]) {
        const byFlag = await runCli(['start', PLUGINS, '--port', '0', '--storage', url, ...format], {
          NEKOCONNECT_SECRET: SECRET,
        });
        const byEnv = await runCli(['start', PLUGINS, '--port', '0', ...format], {
          NEKOCONNECT_SECRET: SECRET,
          NEKOCONNECT_DATABASE_URL: url,
        });
        const config = path.join(cwd, 'nekoconnect.config.json');
        await writeFile(
          config,
          `{\n  "storage": {\n    "backend": "postgres",\n    "url": ${JSON.stringify(url)}\n  }\n}\n`,
        );
        const byConfig = await runCli(['start', PLUGINS, '--port', '0', '--config', config, ...format], {
          NEKOCONNECT_SECRET: SECRET,
        });
        for (const result of [byFlag, byEnv, byConfig]) {
          expect(result.code).not.toBe(0);
          outputs.push(result.stdout + result.stderr);
        }
      }
      const data = await runData(['data', 'export', '--all', '--storage', url]);
      expect(data.code).not.toBe(0);
      outputs.push(data.stdout + data.stderr);
    }
    expect(outputs.filter((o) => o.includes('NEKO_ERR_STORAGE_UNREACHABLE'))).toHaveLength(7);
    expect(outputs.filter((o) => o.includes('NEKO_ERR_CONFIG_INVALID'))).toHaveLength(16);
    for (const output of outputs) expect(output).not.toContain(CANARY);
  }, 120_000);

  it('in a config error near the URL: no code frame shows the line', async () => {
    const cwd = await tempDir('neko-db-url-frame-');
    const config = path.join(cwd, 'nekoconnect.config.json');
    await writeFile(
      config,
      `{\n  "port": "oops",\n  "storage": { "backend": "postgres", "url": "postgres://neko:${CANARY}@db/neko" }\n}\n`,
    );
    const result = await runCli(['start', PLUGINS, '--config', config], { NEKOCONNECT_SECRET: SECRET });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/port must be a whole number/);
    expect(result.stdout + result.stderr).not.toContain(CANARY);
  });

  it('in the code frame of a config file that does not parse, next to the URL (JSON and TypeScript)', async () => {
    const cwd = await tempDir('neko-db-url-parse-');
    const url = `postgres://neko:${CANARY}@db/neko`;
    const files = {
      'nekoconnect.config.json': `{\n  "storage": { "backend": "postgres", "url": "${url}" },\n  "port": 40,,\n}\n`,
      'nekoconnect.config.ts': `export default {\n  storage: { backend: 'postgres', url: '${url}' },\n  port: 40 +,\n};\n`,
    };
    for (const [name, text] of Object.entries(files)) {
      const config = path.join(cwd, name);
      await writeFile(config, text);
      const result = await runCli(['start', PLUGINS, '--config', config], { NEKOCONNECT_SECRET: SECRET });
      expect(result.code).toBe(2);
      // The frame is shown, with the URL's password masked.
      expect(result.stderr).toMatch(/NEKO_ERR_CONFIG_LOAD/);
      expect(result.stderr).toContain('postgres://neko:***@db/neko');
      expect(result.stdout + result.stderr).not.toContain(CANARY);
    }
  });
});
