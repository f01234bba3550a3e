/**
 * The Containerfile of docs/deploy.md, played instruction by instruction in
 * a temp folder that stands for the image's file system (there is no
 * container daemon here):
 *
 * - the build context is the deployment project of the guide's Install, made
 *   by its `project.sh` (see `project.ts`): package.json, package-lock.json
 *   and `plugins/` (echo and todo);
 * - `WORKDIR`, `COPY` and `VOLUME` make and fill folders under the image
 *   folder; `RUN` runs its command with `sh -c`, as root, with the image's
 *   absolute paths moved under the image folder;
 * - `USER`, `HEALTHCHECK`, `STOPSIGNAL` and `CMD` are played at "run time":
 *   the CMD is started as the USER's uid and gid, with the secret that
 *   `podman run --secret …,uid=1000,mode=0400` would mount, and the
 *   HEALTHCHECK command run as that user must fail before the server
 *   listens and pass once it does.
 *
 * Substituted, and only this: `FROM` (this machine's Node.js stands for
 * node:20-bookworm-slim), the exposed ports (free ones, replaced wherever
 * the CMD and the HEALTHCHECK name them), the image's paths (under the
 * image folder), and npm's cache (this machine's, with
 * `npm_config_prefer_offline`, so the install is quick when the packages
 * are cached). An instruction the test does not know fails it.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { chmod, chown, cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '../../src/client/index.js';
import { assertBuilt } from '../cli/run-cli.js';
import { freePort, parseContainerfile, run, shellWords, titledBlock, waitForHttp } from './guide.js';
import { makeProject, NPM_ENV } from './project.js';

/** The folders of the image the recipe names; a path under one of them is moved under the image folder. */
const IMAGE_PATH = /(^|[\s"'=])(\/(?:opt|var|run|root|etc|srv|home|tmp)(?:\/[^\s"',\]]*)?)/g;

/** The files of a folder, with their size and modification time, to show that nothing wrote there. */
async function snapshot(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .map((e) => {
      const file = join(e.parentPath, e.name);
      const info = statSync(file);
      return `${file.slice(dir.length)} ${info.size} ${info.mtimeMs} ${(info.mode & 0o777).toString(8)}`;
    })
    .sort();
}

/** Runs the HEALTHCHECK's command as `user`; resolves with its exit code. */
function healthcheck(argv: readonly string[], user: { uid: number; gid: number }, env: NodeJS.ProcessEnv) {
  return new Promise<number | null>((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { ...user, env, stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
}

describe('the Containerfile of docs/deploy.md', () => {
  it('played in a folder standing for the image: installs, runs as uid 1000, passes its HEALTHCHECK, stops on STOPSIGNAL', async () => {
    assertBuilt();
    if (process.getuid?.() !== 0) {
      throw new Error(
        'this test plays the Containerfile as an image build does: its RUN lines as root (chown to uid 1000) and ' +
          'its CMD as USER 1000:1000, which takes root. Run it as root (CI does).',
      );
    }
    const instructions = parseContainerfile(titledBlock('Containerfile').body);
    const tmp = await mkdtemp(join(tmpdir(), 'neko-deploy-container-'));
    onTestFinished(() => rm(tmp, { recursive: true, force: true }));
    // The image's user must be able to reach the image folder, as in an image.
    await chmod(tmp, 0o755);
    const image = join(tmp, 'image');
    const inImage = (path: string): string => join(image, path);
    const moved = (text: string): string =>
      text.replace(IMAGE_PATH, (_m, before: string, path: string) => before + inImage(path));

    // 1. The build context: the deployment project of the guide's Install.
    const context = await makeProject(tmp);
    const npmEnv = NPM_ENV;

    // 2. The build.
    await mkdir(image, { mode: 0o755 });
    let workdir = '/';
    let user: { uid: number; gid: number } | undefined;
    let stopSignal: NodeJS.Signals = 'SIGTERM';
    let healthcheckArgv: string[] | undefined;
    let cmd: string[] | undefined;
    const exposed: string[] = [];
    const volumes: string[] = [];
    const env: Record<string, string> = {};
    const played: string[] = [];
    for (const { name, args } of instructions) {
      played.push(name);
      switch (name) {
        case 'FROM':
          expect(args).toMatch(/^node:20\b/);
          expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(20);
          break;
        case 'WORKDIR':
          workdir = args.startsWith('/') ? args : join(workdir, args);
          await mkdir(inImage(workdir), { recursive: true });
          break;
        case 'COPY': {
          const words = shellWords(args);
          expect(
            words.filter((w) => w.startsWith('--')),
            'COPY options the test does not play',
          ).toEqual([]);
          const dest = words.at(-1)!;
          const target = inImage(isAbsolute(dest) ? dest : join(workdir, dest));
          for (const source of words.slice(0, -1)) {
            const from = join(context, source);
            const into =
              dest.endsWith('/') && !(await stat(from)).isDirectory() ? join(target, source) : target;
            await mkdir(dirname(into), { recursive: true });
            await cp(from, into, { recursive: true });
          }
          break;
        }
        case 'RUN':
          await run('/bin/sh', ['-c', moved(args)], { cwd: inImage(workdir), env: { ...npmEnv, ...env } });
          break;
        case 'ENV': {
          for (const word of shellWords(args)) {
            const [key, value] = word.split(/=(.*)/s) as [string, string];
            env[key] = moved(value);
          }
          break;
        }
        case 'VOLUME':
          for (const v of args.startsWith('[') ? (JSON.parse(args) as string[]) : shellWords(args)) {
            volumes.push(v);
            await mkdir(inImage(v), { recursive: true });
          }
          break;
        case 'USER': {
          const [uid, gid] = args.split(':').map(Number) as [number, number | undefined];
          expect(Number.isInteger(uid) && uid !== 0, 'USER: a numeric, non-root uid').toBe(true);
          user = { uid, gid: gid ?? uid };
          break;
        }
        case 'EXPOSE':
          exposed.push(...shellWords(args));
          break;
        case 'STOPSIGNAL':
          stopSignal = args as NodeJS.Signals;
          break;
        case 'HEALTHCHECK': {
          const json = /\bCMD\s+(\[.*\])$/.exec(args)?.[1];
          if (json === undefined) throw new Error(`HEALTHCHECK without an exec-form CMD: ${args}`);
          healthcheckArgv = JSON.parse(json) as string[];
          break;
        }
        case 'CMD':
          if (!args.startsWith('['))
            throw new Error('CMD in shell form: use the exec form, so the server gets the signals');
          cmd = JSON.parse(args) as string[];
          break;
        default:
          throw new Error(`the Containerfile has ${name}, which this test does not play yet`);
      }
    }
    expect(played).toEqual(
      expect.arrayContaining(['WORKDIR', 'COPY', 'RUN', 'USER', 'HEALTHCHECK', 'CMD', 'VOLUME']),
    );
    expect(stopSignal).toBe('SIGTERM');
    expect(user).toBeDefined();
    expect(volumes).toEqual(['/var/lib/nekoconnect']);
    const dataDir = inImage(volumes[0]!);

    // What the build left: root-owned code, a data directory for the USER, 0700.
    const plugins = inImage('/opt/nekoconnect/plugins');
    expect((await stat(join(plugins, 'todo', 'logic.ts'))).uid).toBe(0);
    expect(existsSync(inImage('/opt/nekoconnect/node_modules/nekoconnect/bin/nekoconnect.js'))).toBe(true);
    const data = await stat(dataDir);
    expect([data.uid, data.gid, data.mode & 0o777]).toEqual([user!.uid, user!.gid, 0o700]);

    // 3. Run time: the exposed ports mapped to free ones, the secret mounted as the guide's podman run does.
    const ports = new Map<string, string>();
    for (const p of exposed) ports.set(p, String(await freePort()));
    const mapped = (word: string): string =>
      [...ports].reduce(
        (w, [from, to]) => w.replace(new RegExp(`(?<![0-9])${from}(?![0-9])`, 'g'), to),
        moved(word),
      );
    const argv = cmd!.map(mapped);
    const health = healthcheckArgv!.map(mapped);
    const secretFile = argv[argv.indexOf('--secret-file') + 1]!;
    await mkdir(dirname(secretFile), { recursive: true });
    await writeFile(secretFile, 'deploy-container-secret-0123456789\n', { mode: 0o400 });
    await chown(secretFile, user!.uid, user!.gid);
    const home = inImage('/home/node');
    await mkdir(home, { recursive: true });
    await chown(home, user!.uid, user!.gid);
    const runEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env };
    const before = await snapshot(plugins);

    // The HEALTHCHECK fails while nothing listens.
    expect(await healthcheck(health, user!, runEnv)).not.toBe(0);

    const child = spawn(argv[0]!, argv.slice(1), {
      ...user,
      cwd: inImage(workdir),
      env: runEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    // The HEALTHCHECK passes within its start period, as the USER.
    const startPeriodMs =
      1000 * Number(/--start-period=(\d+)s/.exec(titledBlock('Containerfile').body)?.[1] ?? 0);
    const deadline = Date.now() + startPeriodMs;
    while ((await healthcheck(health, user!, runEnv)) !== 0) {
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(`the HEALTHCHECK did not pass within its start period; server output:\n${out}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const metricsPort = argv[argv.indexOf('--metrics-port') + 1];
    expect([...ports.values()]).toContain(metricsPort);
    await waitForHttp(`http://127.0.0.1:${metricsPort}/readyz`);

    // It runs as the USER, listens on every interface, and serves: a todo written lands on the volume.
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe(String(user!.uid));
    expect(out).toMatch(/listening on tcp:\/\/0\.0\.0\.0:/);
    const port = Number(argv[argv.indexOf('--port') + 1]);
    const client = await connect({ host: '127.0.0.1', port, secret: 'deploy-container-secret-0123456789' });
    onTestFinished(() => client.close());
    const added = await client.request('todo', JSON.stringify({ title: 'from the container' }), { op: 1 });
    expect(JSON.parse(added.text())).toMatchObject({ title: 'from the container' });
    expect((await readFile(join(dataDir, 'todo.db'), 'utf8')).includes('from the container')).toBe(true);
    expect((await stat(join(dataDir, 'todo.db'))).uid).toBe(user!.uid);
    await client.close();

    // Nothing was written in the read-only layer: the bundles went to the data directory's cache.
    expect(await snapshot(plugins)).toEqual(before);
    expect((await readdir(join(dataDir, 'cache'))).length).toBeGreaterThan(0);

    // STOPSIGNAL: a clean exit, within the runtime's default 10 s, and the lock removed.
    child.kill(stopSignal);
    const code = await Promise.race([
      exited,
      new Promise((resolve) => setTimeout(() => resolve('timeout'), 10_000)),
    ]);
    expect(code, out).toBe(0);
    expect(existsSync(join(dataDir, 'nekoconnect.lock'))).toBe(false);
  }, 120_000);
});
