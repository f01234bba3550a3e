/**
 * The Install of docs/deploy.md, run: its `project.sh` makes the deployment
 * project (see `project.ts`), its `install.sh` installs a release of it
 * under `/opt/nekoconnect` (moved to a temp root, `sudo` dropped: the test
 * runs as root or as the owner of the temp root) and points `current` at
 * it; then the guide's unit (see `unit.ts`) serves that release: a real
 * `npm ci` install rather than a link to this repository.
 */
import { lstat, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '../../src/client/index.js';
import { assertBuilt } from '../cli/run-cli.js';
import { run, titledBlock, waitForHttp } from './guide.js';
import { makeProject, NPM_ENV } from './project.js';
import { FOLDERS, install, records, servicePorts, startService, UNIT_SECRET } from './unit.js';

describe('the Install of docs/deploy.md', () => {
  it('makes a release under /opt/nekoconnect, points current at it, and the unit serves it', async () => {
    assertBuilt();
    const tmp = await mkdtemp(join(tmpdir(), 'neko-deploy-install-'));
    onTestFinished(() => rm(tmp, { recursive: true, force: true }));
    const project = await makeProject(tmp);

    const installed = await install({ release: false });
    const { at } = installed;
    let script = titledBlock('install.sh').body;
    for (const folder of FOLDERS) script = script.replaceAll(folder, at(folder));
    script = script.replace(/(^|&&\s*)sudo /gm, '$1');
    expect(script).not.toMatch(/\bsudo\b/);
    await run('/bin/sh', ['-euc', script], { cwd: project, env: NPM_ENV, timeoutMs: 120_000 });

    // current: a link to the release, which holds the installed package and the plugins.
    expect((await lstat(at('/opt/nekoconnect/current'))).isSymbolicLink()).toBe(true);
    const release = await readlink(at('/opt/nekoconnect/current'));
    expect(release.startsWith(at('/opt/nekoconnect/releases/'))).toBe(true);
    const installedPackage = JSON.parse(
      await readFile(join(release, 'node_modules', 'nekoconnect', 'package.json'), 'utf8'),
    ) as { name: string };
    expect(installedPackage.name).toBe('nekoconnect');
    expect((await lstat(join(release, 'node_modules', 'nekoconnect'))).isSymbolicLink()).toBe(false);

    // The unit serves it.
    const ports = await servicePorts();
    const service = await startService(installed, ports);
    await waitForHttp(`http://127.0.0.1:${ports.metricsPort}/readyz`).catch((err: Error) => {
      throw new Error(`${err.message}\nserver output:\n${service.output()}`);
    });
    const loaded = records(service).find((r) => r.message.startsWith('plugins from '));
    expect(loaded?.message).toBe(
      `plugins from ${at('/opt/nekoconnect/current/plugins')}: 2 loaded, 0 failed`,
    );
    const client = await connect({
      host: '127.0.0.1',
      port: ports.port,
      secret: UNIT_SECRET,
      tls: { ca: await readFile(at('/etc/nekoconnect/tls/server.crt')) },
    });
    expect((await client.request('echo', 'from the release', { op: 7 })).text()).toBe('from the release');
    await client.close();
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);
  }, 120_000);
});
