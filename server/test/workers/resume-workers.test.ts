/**
 * A resume across the workers of `nekoconnect start --workers 2` (the built
 * CLI, the IPC bus through the primary, PostgreSQL): an SDK client with
 * `reconnect` whose connection drops comes back through the primary, which
 * may hand the new connection to the other worker; the session moves there
 * with its state and the packets kept during the gap.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../../scripts/test-support/postgres.js';
import { connect, type ClientPacket } from '../../src/client/client.js';
import { assertBuilt, startCli } from '../cli/run-cli.js';
import { SECRET } from '../cluster/cluster-processes.js';
import { gamePlugins } from '../cluster/handover-support.js';
import { startRelay } from '../helpers/proxy.js';
import { freshDatabase } from '../storage/postgres-processes.js';

let postgres: RunningPostgres;

beforeAll(async () => {
  assertBuilt();
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
});

describe('nekoconnect start --workers 2', () => {
  it('a session resumed on the other worker moves there: same id and state, the gap’s packets first', async () => {
    const cli = startCli(
      [
        'start',
        (await gamePlugins()).plugins,
        '--workers',
        '2',
        '--port',
        '0',
        '--no-dashboard',
        '--storage',
        await freshDatabase(postgres, 'resume_workers'),
      ],
      { NEKOCONNECT_SECRET: SECRET },
    );
    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+) +\(2 workers/, 40_000);
    const relay = await startRelay(Number(port));
    const client = await connect({
      secret: SECRET,
      port: relay.port,
      reconnect: { backoff: { initialMs: 50, maxMs: 100 } },
    });
    onTestFinished(() => client.close());
    const said: string[] = [];
    client.on('reconnected', ({ resumed }) => said.push(`resumed=${resumed}`));
    const pushes: string[] = [];
    client.on('packet', (p: ClientPacket) => pushes.push(`${p.op} ${p.text()}`));
    const ask = async (text: string): Promise<string> =>
      (await client.request('game', text, { op: 1, replyOp: 1 })).text();

    const id = await ask('me');
    expect(await ask('set cat')).toBe('ok');
    const pids = [await ask('pid')];
    // The primary hands connections to the workers in turn: within a few drops, one lands on the other worker.
    for (let drop = 1; drop <= 6 && new Set(pids).size === 1; drop++) {
      pushes.length = 0;
      relay.cut();
      await expect.poll(() => said.length, { timeout: 10_000 }).toBe(drop);
      expect(said[drop - 1]).toBe('resumed=true');
      expect(JSON.parse(await ask('get'))).toMatchObject({ id, v: 'cat' });
      expect(pushes).toEqual(['6 while away', '7 welcome back']);
      pids.push(await ask('pid'));
    }
    expect(new Set(pids).size).toBe(2);
    await cli.waitFor(new RegExp(`session ${id} resumed from .*moved from process`), 5_000);
  });
});
