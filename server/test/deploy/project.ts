/**
 * The deployment project of docs/deploy.md's Install (its `project.sh`
 * block), made by running the block: `npm install nekoconnect` installs the
 * package as `npm pack -w server` packs it instead of the registry's (the
 * one substitution), then the example plugins echo and todo go into its
 * `plugins/`. npm uses this machine's cache first (`npm_config_prefer_offline`).
 */
import { cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../cli/run-cli.js';
import { run, titledBlock, userEnv } from './guide.js';

/** The environment npm runs in for these tests: a user's, with the cache first. */
export const NPM_ENV = userEnv({ npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' });

/**
 * Runs the guide's `project.sh` in `parent`; resolves with the project's folder (`package.json`,
 * `package-lock.json`, `node_modules/`, `plugins/` with echo and todo).
 */
export async function makeProject(parent: string): Promise<string> {
  const packs = join(parent, 'packs');
  await mkdir(packs);
  const { stdout } = await run(
    'npm',
    ['pack', '--json', '--workspace', 'server', '--pack-destination', packs],
    { cwd: REPO_ROOT, env: NPM_ENV },
  );
  const tarball = join(packs, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename);
  const script = titledBlock('project.sh').body;
  if (!/npm install nekoconnect\b/.test(script)) {
    throw new Error('the project recipe no longer runs `npm install nekoconnect`: update this test');
  }
  const project = /mkdir (\S+)/.exec(script)?.[1];
  if (project === undefined)
    throw new Error('the project recipe no longer makes its folder: update this test');
  await run('/bin/sh', ['-euc', script.replace(/npm install nekoconnect\b/, `npm install ${tarball}`)], {
    cwd: parent,
    env: NPM_ENV,
  });
  const dir = join(parent, project);
  for (const plugin of ['echo', 'todo']) {
    await mkdir(join(dir, 'plugins', plugin), { recursive: true });
    for (const file of ['spec.conf', 'logic.ts']) {
      await cp(join(REPO_ROOT, 'plugins', plugin, file), join(dir, 'plugins', plugin, file));
    }
  }
  return dir;
}
