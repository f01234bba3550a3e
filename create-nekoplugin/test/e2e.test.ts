/**
 * The proof, as a user would do it: pack the workspace packages, run
 * create-nekoplugin from its tarball the way `npm create` does (npm exec),
 * install the generated project against the packed packages, and run the
 * project's own `npm test` and `npm run validate`, and the commands of its
 * GitHub Actions workflow (parsed from its ci.yml, here on this machine's
 * Node only: the Node 22 leg of the matrix cannot run here); then add an op
 * with the project's generator and run both again.
 *
 * Only the npm registry is reached (vitest, typescript, plop and the
 * packages' own dependencies). Slow: packing and two installs.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { assertBuilt, listTree, REPO_ROOT, tempDir } from './helpers/cli.js';

// Packing, two installs, two test runs, a package served and a dev server: about 4 minutes on a busy machine.
const TIMEOUT = 600_000;
const WORKSPACES = ['nekoconnect', '@nekoconnect/testing', '@nekoconnect/templates', 'create-nekoplugin'];

interface Run {
  code: number | null;
  stdout: string;
  /** stdout and stderr, interleaved. */
  output: string;
}

/** The environment of a user's shell: none of the npm_* variables of the `npm test` running this file. */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== 'INIT_CWD'),
  );
  return { ...env, NO_COLOR: '1', CI: '1', ...extra };
}

function run(command: string, args: readonly string[], cwd: string, env = userEnv()): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, output }));
  });
}

/** Runs and expects exit code 0, showing the output otherwise; resolves with stdout. */
async function ok(
  command: string,
  args: readonly string[],
  cwd: string,
  env?: NodeJS.ProcessEnv,
): Promise<string> {
  const result = await run(command, args, cwd, env);
  expect(result.code, `${command} ${args.join(' ')} in ${cwd}:\n${result.output}`).toBe(0);
  return result.stdout;
}

beforeAll(assertBuilt);

describe('npm create nekoplugin, end to end', () => {
  it(
    'scaffolds from the packed tarballs a project whose own npm test and npm run validate pass',
    async () => {
      const tmp = await tempDir('nekoplugin-e2e-');
      const packs = join(tmp, 'packs');
      await mkdir(packs);

      // 1. Pack the four workspace packages, as they would be published.
      const packed = JSON.parse(
        await ok(
          'npm',
          ['pack', '--json', '--pack-destination', packs, ...WORKSPACES.flatMap((w) => ['--workspace', w])],
          REPO_ROOT,
        ),
      ) as Array<{ name: string; filename: string; files: Array<{ path: string }> }>;
      const tarball = (name: string): string => join(packs, packed.find((p) => p.name === name)!.filename);
      expect(packed.map((p) => p.name).sort()).toEqual([...WORKSPACES].sort());
      for (const pack of packed) {
        expect(
          pack.files.map((f) => f.path),
          pack.name,
        ).toEqual(expect.arrayContaining(['README.md', 'LICENSE']));
      }
      const templateFiles = packed.find((p) => p.name === '@nekoconnect/templates')!.files.map((f) => f.path);
      expect(templateFiles).toContain('templates/plugin/_gitignore.tmpl');

      // 2. `npm create nekoplugin neko-e2e -- --yes --no-install --no-git` is
      //    `npm exec create-nekoplugin`: here from the tarball (and its unpublished dependency's),
      //    with a cache of its own so that nothing stays in the user's.
      const work = join(tmp, 'work');
      await mkdir(work);
      const execEnv = userEnv({ npm_config_cache: join(tmp, 'npm-cache') });
      const created = await ok(
        'npm',
        [
          'exec',
          '--yes',
          `--package=${tarball('create-nekoplugin')}`,
          `--package=${tarball('@nekoconnect/templates')}`,
          '--',
          'create-nekoplugin',
          'neko-e2e',
          '--yes',
          '--no-install',
          '--no-git',
        ],
        work,
        execEnv,
      );
      expect(created).toContain('Creating Neko E2e (greeter neko-e2e) in ./neko-e2e');
      const project = join(work, 'neko-e2e');
      expect(await listTree(project)).toEqual([
        '.github/',
        '.github/workflows/',
        '.github/workflows/ci.yml',
        '.gitignore',
        'README.md',
        'logic.test.ts',
        'logic.ts',
        'package.json',
        'plopfile.js',
        'spec.conf',
        'tsconfig.json',
      ]);
      const pkg = JSON.parse(await readFile(join(project, 'package.json'), 'utf8')) as Record<
        string,
        Record<string, string>
      >;
      expect(pkg.dependencies).toEqual({ nekoconnect: '^0.1.0' });
      expect(pkg.scripts).toMatchObject({
        dev: 'nekoconnect dev',
        test: 'nekoconnect validate && vitest run',
        validate: 'nekoconnect validate',
      });

      // How long scaffolding takes without the install: the installed bin, run directly.
      const npx = join(tmp, 'npm-cache', '_npx');
      const [hash] = await readdir(npx);
      const bin = join(npx, hash!, 'node_modules', 'create-nekoplugin', 'dist', 'index.js');
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        await ok(process.execPath, [bin, `timed-${i}`, '--yes', '--no-install', '--no-git'], work);
        times.push(performance.now() - started);
      }
      console.log(
        `scaffolding without install, packed bin: ${times.map((t) => `${Math.round(t)} ms`).join(', ')}`,
      );

      // 3. Install the project against the packed packages; the rest comes from the registry.
      //    (The product writes ^x.y.z; installing the tarballs rewrites them to file: paths here only.)
      await ok(
        'npm',
        [
          'install',
          '--no-audit',
          '--no-fund',
          tarball('nekoconnect'),
          tarball('@nekoconnect/testing'),
          tarball('@nekoconnect/templates'),
        ],
        project,
      );

      // The README's links to the guides resolve in the installed nekoconnect package.
      const readme = await readFile(join(project, 'README.md'), 'utf8');
      const guides = [...readme.matchAll(/\]\((node_modules\/nekoconnect\/docs\/[^)#]+)\)/g)].map(
        (m) => m[1]!,
      );
      expect(guides).toContain('node_modules/nekoconnect/docs/plugins.md');
      for (const guide of guides) expect(existsSync(join(project, guide)), guide).toBe(true);

      // 3b. The CI workflow: it parses, it has the expected job and steps, and the commands it
      //     lists pass here, as GitHub's runner would run them (bash, GITHUB_ACTIONS=true).
      const workflow = parse(await readFile(join(project, '.github', 'workflows', 'ci.yml'), 'utf8')) as {
        on: Record<string, unknown>;
        jobs: Record<
          string,
          { strategy: { matrix: { node: number[] } }; steps: Array<{ uses?: string; run?: string }> }
        >;
      };
      expect(Object.keys(workflow.on)).toEqual(['push', 'pull_request']);
      expect(Object.keys(workflow.jobs)).toEqual(['test']);
      const job = workflow.jobs.test!;
      expect(job.strategy.matrix.node).toEqual([20, 22]);
      expect(job.steps.map((step) => step.uses ?? step.run)).toEqual([
        'actions/checkout@v4',
        'actions/setup-node@v4',
        // Scaffolded with --no-install: no lockfile then.
        'npm install',
        'npm run validate -- --reporter github',
        'npm test -- --reporter=default --reporter=github-actions',
      ]);
      const ciEnv = userEnv({ GITHUB_ACTIONS: 'true', CI: 'true' });
      const commands = job.steps.flatMap((step) => (step.run === undefined ? [] : [step.run]));
      const outputs: string[] = [];
      for (const command of commands) outputs.push(await ok('bash', ['-c', command], project, ciEnv));
      expect(outputs[1]).toMatch(/^nekoconnect validate: 1 plugin valid, 0 warnings$/m);
      expect(outputs[2]).toMatch(/Tests\s+3 passed \(3\)/);
      // With the lockfile the install just wrote, the other form of the step (npm ci) passes too.
      await ok('bash', ['-c', 'npm ci --no-audit --no-fund'], project, ciEnv);
      // A broken test shows as a GitHub annotation from vitest's reporter.
      const testFile = join(project, 'logic.test.ts');
      const tests = await readFile(testFile, 'utf8');
      await writeFile(testFile, `${tests}\nit('fails on purpose', () => {\n  expect(1).toBe(2);\n});\n`);
      const broken = await run('bash', ['-c', commands[2]!], project, ciEnv);
      expect(broken.code, broken.output).not.toBe(0);
      expect(broken.output).toMatch(/^::error file=.*logic\.test\.ts,.*fails on purpose/m);
      await writeFile(testFile, tests);

      // 4. The project's own scripts. npm test checks the plugin against the Context contract, then runs the tests.
      const started = performance.now();
      const tested = await ok('npm', ['test'], project);
      console.log(`npm test of the generated project: ${Math.round(performance.now() - started)} ms`);
      expect(tested).toMatch(/1 plugin valid/);
      expect(tested).toMatch(/Tests\s+3 passed \(3\)/);

      // A recv whose parameter is not a Context fails npm test at its line, though the tests alone pass.
      const logicFile = join(project, 'logic.ts');
      const logic = await readFile(logicFile, 'utf8');
      const signature = '  recv(ctx: Context<State>): void {';
      expect(logic).toContain(signature);
      await writeFile(logicFile, logic.replace(signature, '  recv(ctx: string): void {'));
      const line = logic.split('\n').indexOf(signature) + 1;
      expect(await ok('npx', ['vitest', 'run'], project)).toMatch(/Tests\s+3 passed \(3\)/);
      const failed = await run('npm', ['test'], project);
      expect(failed.code, failed.output).not.toBe(0);
      expect(failed.output).toContain(`logic.ts:${line}:13 error NEKO_ERR_VALIDATE_RECV_PARAM`);
      expect(failed.output).toContain('recv(ctx: string) cannot take the Context the server passes');
      expect(failed.output).not.toMatch(/Test Files/);
      // The workflow's validate step annotates the same line for GitHub.
      const annotated = await run('bash', ['-c', commands[1]!], project, ciEnv);
      expect(annotated.code, annotated.output).toBe(1);
      expect(annotated.stdout).toMatch(
        new RegExp(
          `^::error file=logic\\.ts,line=${line},col=13,.*title=NEKO_ERR_VALIDATE_RECV_PARAM::`,
          'm',
        ),
      );
      await writeFile(logicFile, logic);

      const validated = await ok('npm', ['run', 'validate'], project);
      expect(validated).toMatch(/1 plugin valid/);

      // 5. Its generator adds an op (plop, arguments as answers), and both still pass.
      const added = await ok('npm', ['run', 'add-op', '--', 'Roll', '3', '.'], project);
      expect(added).toContain('op Roll = 3: logic.ts, logic.test.ts, README.md');
      const retested = await ok('npm', ['test'], project);
      expect(retested).toMatch(/1 plugin valid/);
      expect(retested).toMatch(/Tests\s+4 passed \(4\)/);
      expect(await ok('npm', ['run', 'validate'], project)).toMatch(/1 plugin valid/);

      // 6. npm run pack: the plugin as one .ncp file, served by the packed `nekoconnect start` from a
      //    plugins directory holding only it; a client of the packed SDK gets the plugin's answer over TCP.
      expect(await ok('npm', ['run', 'pack'], project)).toMatch(
        /packed Neko E2e v0\.1\.0 \(greeter "neko-e2e"\)/,
      );
      const served = join(tmp, 'served');
      await mkdir(served);
      await rename(join(project, 'neko-e2e-0.1.0.ncp'), join(served, 'neko-e2e-0.1.0.ncp'));
      const server = spawn(
        join(project, 'node_modules', '.bin', 'nekoconnect'),
        ['start', served, '--port', '0', '--no-dashboard', '--data-dir', join(tmp, 'served-data')],
        { cwd: tmp, env: userEnv({ NEKOCONNECT_SECRET: 'e2e-secret' }), stdio: ['ignore', 'pipe', 'pipe'] },
      );
      try {
        let startLog = '';
        const port = await new Promise<number>((resolve, reject) => {
          server.stdout.on('data', (chunk: Buffer) => {
            startLog += chunk.toString();
            const listening = /listening on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(startLog);
            if (listening) resolve(Number(listening[1]));
          });
          server.stderr.on('data', (chunk: Buffer) => (startLog += chunk.toString()));
          server.on('close', (code) => reject(new Error(`nekoconnect start exited (${code}):\n${startLog}`)));
        });
        expect(startLog).toMatch(/1 loaded, 0 failed/);
        expect(startLog).toMatch(/✓ neko-e2e {2}Neko E2e v0\.1\.0 {2}from .*neko-e2e-0\.1\.0\.ncp/);
        const sdk = join(project, 'node_modules', 'nekoconnect', 'dist', 'client', 'index.js');
        const { connect } = (await import(pathToFileURL(sdk).href)) as {
          connect(options: { port: number; secret: string }): Promise<{
            request(greeter: string, data: string, options: { op: number }): Promise<{ text(): string }>;
            close(): Promise<void>;
          }>;
        };
        const client = await connect({ port, secret: 'e2e-secret' });
        expect((await client.request('neko-e2e', 'packed neko', { op: 1 })).text()).toBe(
          'hello, packed neko!',
        );
        await client.close();
      } finally {
        server.kill('SIGINT');
      }

      // 7. The Playground of `nekoconnect dev`: try the ops through its API, copy the timelines as a
      //    test, and the project's own npm test passes with it (and fails once an expectation changes).
      await playgroundCopyAsTest(project);
    },
    TIMEOUT,
  );
});

/**
 * Step 7 of the scaffold test: `nekoconnect dev` in the project, two
 * simulated clients driven through `/api/playground/` (hello, count, an
 * unknown op, an unknown greeter, a close), the timelines copied as a test
 * into `playground.test.ts`; the project's typecheck and npm test pass with
 * it, and a changed expectation fails.
 */
async function playgroundCopyAsTest(project: string): Promise<void> {
  const dev = spawn(
    join(project, 'node_modules', '.bin', 'nekoconnect'),
    ['dev', '.', '--port', '0', '--dashboard-port', '0'],
    {
      cwd: project,
      env: userEnv({ NEKOCONNECT_SECRET: 'playground-e2e' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let printed = '';
  dev.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  dev.stderr.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  const exited = new Promise<void>((resolve) => dev.on('close', () => resolve()));
  try {
    const deadline = Date.now() + 60_000;
    while (!/watching .* for changes/.test(printed)) {
      if (Date.now() > deadline || dev.exitCode !== null) throw new Error(`nekoconnect dev:\n${printed}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [, base, token] = /dashboard (http:\/\/127\.0\.0\.1:\d+\/)\?token=([\w-]+)/.exec(printed)!;
    const api = async (path: string, body?: unknown): Promise<Record<string, unknown>> => {
      const res = await fetch(`${base}api/playground${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const answer = (await res.json()) as Record<string, unknown>;
      expect(res.status, JSON.stringify(answer)).toBe(200);
      return answer;
    };
    // The ops of the Op table, with the one the generator added.
    const { plugins } = (await api('')) as { plugins: { greeter: string; ops: { name: string }[] }[] };
    expect(plugins.map((p) => [p.greeter, p.ops.map((o) => o.name)])).toEqual([
      ['neko-e2e', ['Hello', 'Count', 'Roll', 'Error']],
    ]);
    const ask = (client: string, greeter: string, op: number, value: string) =>
      api(`/clients/${client}/send`, { greeter, op, mode: 'request', data: { kind: 'text', value } });
    await api('/clients', { label: 'mimi' });
    await api('/clients', { label: 'tama' });
    expect(JSON.stringify(await ask('c1', 'neko-e2e', 1, 'Mimi'))).toContain('hello, Mimi!');
    await ask('c1', 'neko-e2e', 2, '');
    await ask('c2', 'neko-e2e', 2, '');
    await ask('c1', 'neko-e2e', 42, 'x');
    expect(JSON.stringify(await ask('c2', 'nobody', 1, ''))).toContain('"status":404');
    await api('/clients/c2/close', {});
    const { code } = (await api('/test?clients=c1,c2')) as { code: string };
    expect(code).toContain("import { Op } from './logic.js';");
    expect(code).toContain("await mimi.request('neko-e2e', 'Mimi', { op: Op.Hello });");

    const testFile = join(project, 'playground.test.ts');
    await writeFile(testFile, code);
    await ok('npm', ['run', 'typecheck'], project);
    expect(await ok('npm', ['test'], project)).toMatch(/Tests\s+5 passed \(5\)/);
    console.log(`Copy as test: ${code.split('\n').length} lines, passing in the project's npm test`);
    expect(code).toContain("'hello, Mimi!'");
    await writeFile(testFile, code.replace("'hello, Mimi!'", "'hello, Tama!'"));
    const broken = await run('npx', ['vitest', 'run', 'playground.test.ts'], project);
    expect(broken.code, broken.output).not.toBe(0);
    expect(broken.output).toContain('hello, Tama!');
    await rm(testFile);
  } finally {
    dev.kill('SIGINT');
    await exited;
  }
}
