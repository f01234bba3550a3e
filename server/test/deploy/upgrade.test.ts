/**
 * The upgrade of docs/deploy.md (its `upgrade.sh` block): a server run by
 * the guide's unit (see `unit.ts`) on release `a`, a client connected with
 * the SDK's `reconnect`, release `b` installed next to it; the recipe's lines
 * run with `sh` (switch `current`, then `nekoconnect drain`). The old server
 * drains and exits 0, the unit's `Restart=always` starts it again after
 * `RestartSec` (played here by the test, as systemd would), on release `b`;
 * the client comes back by itself and is served by `b`, with the data
 * written before the upgrade.
 *
 * Substituted besides the unit's folders: `sudo` is dropped (the test runs
 * as the server's user), and the `journalctl -f` line is not run (there is
 * no journal here; the test reads the server's output instead).
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/client/index.js';
import { assertBuilt } from '../cli/run-cli.js';
import { joinContinuations, run, titledBlock, waitForHttp } from './guide.js';
import {
  addRelease,
  examplePlugins,
  FOLDERS,
  install,
  records,
  servicePorts,
  startService,
  UNIT_SECRET,
  type ReleasePlugin,
  type ServiceRun,
} from './unit.js';

/** A plugin that says which release serves it. */
function releasePlugin(name: string): ReleasePlugin {
  return {
    name: 'release',
    files: {
      'spec.conf': '$name {"Release"}; $greet {"release"}; $logic {"logic"}; $version {"1.0.0"};\n',
      'logic.js': `export class Logic { recv(ctx) { ctx.send(${JSON.stringify(name)}, { op: ctx.op }); } }\n`,
    },
  };
}

describe('the upgrade of docs/deploy.md', () => {
  it('switches current and drains: the unit restarts on the new release, and a reconnecting client is served by it', async () => {
    assertBuilt();
    const examples = await examplePlugins();
    const installed = await install({ plugins: [...examples, releasePlugin('a')] });
    const { at, service } = installed;
    const releaseB = await addRelease(at, 'b', [...examples, releasePlugin('b')]);
    const ports = await servicePorts();

    // systemd's part: start the unit, and start it again when it exits by itself (Restart=always), after
    // RestartSec, unless with a RestartPreventExitStatus code.
    expect(service('Restart')).toBe('always');
    const runs: ServiceRun[] = [await startService(installed, ports)];
    const exits: Array<number | null> = [];
    const restarted = runs[0]!.exited.then(async (code) => {
      exits.push(code);
      if (String(code) === service('RestartPreventExitStatus')) return;
      await new Promise((resolve) => setTimeout(resolve, Number(service('RestartSec')) * 1000));
      runs.push(await startService(installed, ports));
    });
    await waitForHttp(`http://127.0.0.1:${ports.metricsPort}/readyz`);

    const client = await connect({
      host: '127.0.0.1',
      port: ports.port,
      secret: UNIT_SECRET,
      tls: { ca: await readFile(at('/etc/nekoconnect/tls/server.crt')) },
      reconnect: { retries: 30, backoff: { initialMs: 100, maxMs: 500 } },
    });
    const reconnected = new Promise<{ resumed: boolean }>((resolve) => client.once('reconnected', resolve));
    expect((await client.request('release', '', { op: 1 })).text()).toBe('a');
    const added = await client.request('todo', JSON.stringify({ title: 'before the upgrade' }), { op: 1 });
    expect(added.op).toBe(1);

    // The recipe, as written but for the folders, sudo and the journal.
    let script = titledBlock('upgrade.sh').body;
    for (const folder of FOLDERS) script = script.replaceAll(folder, at(folder));
    const lines = joinContinuations(script)
      .filter((line) => line.trim() !== '' && !line.startsWith('journalctl '))
      .map((line) => line.replace(/(^|&&\s*)sudo /g, '$1'));
    expect(lines.length).toBe(2);
    expect(lines[1]).toMatch(/nekoconnect drain --data-dir /);
    await run('/bin/sh', ['-euc', lines.join('\n')], { env: { ...process.env, release: releaseB } });

    // The old server drains and exits 0; the new one starts on release b; the client comes back.
    await restarted;
    expect(exits).toEqual([0]);
    expect(records(runs[0]!).some((r) => r.message.startsWith('drained'))).toBe(true);
    expect(runs).toHaveLength(2);
    expect(await reconnected).toEqual({ resumed: false });
    // The new server listens before its plugins are loaded (they answer 503 until then); /readyz says when.
    await waitForHttp(`http://127.0.0.1:${ports.metricsPort}/readyz`);
    expect((await client.request('release', '', { op: 1 })).text()).toBe('b');
    const list = JSON.parse((await client.request('todo', '', { op: 2 })).text()) as Array<{ title: string }>;
    expect(list.map((t) => t.title)).toContain('before the upgrade');
    await client.close();

    runs[1]!.child.kill(service('KillSignal') as NodeJS.Signals);
    expect(await runs[1]!.exited).toBe(0);
  }, 60_000);
});
