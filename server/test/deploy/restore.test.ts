/**
 * The restore of docs/deploy.md (its `restore.sh` block), after a backup
 * taken with its `backup.sh`, on the guide's unit (see `unit.ts`): the
 * server has todos written before and after the backup; the restore's lines
 * run with `sh`, and the server started again serves exactly the backup's
 * todos, the data directory as it was is kept aside, and the restored
 * files are `0600` in a `0700` directory.
 *
 * Substituted besides the unit's folders: `sudo` is dropped; `systemctl
 * stop` and `systemctl start` are the unit's `KillSignal` to its
 * `ExecStart` and a new `ExecStart` (played by the test, as in the
 * systemd test); the `nekoconnect` user of `install -o/-g` is the test's
 * own user (the test does not create users).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/client/index.js';
import { assertBuilt } from '../cli/run-cli.js';
import { joinContinuations, run, titledBlock, waitForHttp } from './guide.js';
import { FOLDERS, install, servicePorts, startService, UNIT_SECRET, type Installed } from './unit.js';

/** The unit's folders moved under the test's root, `sudo` dropped, the service's user made the test's. */
function localScript(installed: Installed, title: string): string {
  let script = titledBlock(title).body;
  for (const folder of FOLDERS) script = script.replaceAll(folder, installed.at(folder));
  script = script.replaceAll('/var/backups/nekoconnect', installed.at('/var/backups/nekoconnect'));
  const me = `${process.getuid!()}`;
  const group = `${process.getgid!()}`;
  return script
    .replace(/(^|&&\s*)sudo /gm, '$1')
    .replaceAll('-o nekoconnect', `-o ${me}`)
    .replaceAll('-g nekoconnect', `-g ${group}`);
}

describe('the restore of docs/deploy.md', () => {
  it('puts a backup back: the server started again serves the backup, the data as it was is kept aside', async () => {
    assertBuilt();
    const installed = await install();
    const { at, service } = installed;
    const ports = await servicePorts();
    const ca = await readFile(at('/etc/nekoconnect/tls/server.crt'));
    const titles = async (): Promise<string[]> => {
      const client = await connect({ host: '127.0.0.1', port: ports.port, secret: UNIT_SECRET, tls: { ca } });
      try {
        return (JSON.parse((await client.request('todo', '', { op: 2 })).text()) as Array<{ title: string }>)
          .map((t) => t.title)
          .sort();
      } finally {
        await client.close();
      }
    };
    const add = async (title: string): Promise<void> => {
      const client = await connect({ host: '127.0.0.1', port: ports.port, secret: UNIT_SECRET, tls: { ca } });
      await client.request('todo', JSON.stringify({ title }), { op: 1 });
      await client.close();
    };

    let server = await startService(installed, ports);
    await waitForHttp(`http://127.0.0.1:${ports.metricsPort}/readyz`);
    await add('before the backup');
    const { stdout: backup } = await run('/bin/sh', [
      '-euc',
      `${localScript(installed, 'backup.sh')}\nprintf '%s' "$backup"`,
    ]);
    await add('after the backup');
    expect(await titles()).toEqual(['after the backup', 'before the backup']);

    // The restore, line by line; systemctl's lines are the unit's stop and start.
    const lines = joinContinuations(localScript(installed, 'restore.sh')).filter((l) => l.trim() !== '');
    expect(lines[0]).toBe('systemctl stop nekoconnect');
    expect(lines.at(-1)).toBe('systemctl start nekoconnect');
    server.child.kill(service('KillSignal') as NodeJS.Signals);
    expect(await server.exited).toBe(0);
    await run('/bin/sh', ['-euc', lines.slice(1, -1).join('\n')], { env: { ...process.env, backup } });
    server = await startService(installed, ports);
    await waitForHttp(`http://127.0.0.1:${ports.metricsPort}/readyz`);

    expect(await titles()).toEqual(['before the backup']);
    const dataDir = at('/var/lib/nekoconnect');
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dataDir, 'todo.db'))).mode & 0o777).toBe(0o600);
    const aside = await readFile(join(`${dataDir}.before-restore`, 'todo.db'), 'utf8');
    expect(aside).toContain('after the backup');
    server.child.kill(service('KillSignal') as NodeJS.Signals);
    expect(await server.exited).toBe(0);
  }, 60_000);
});
