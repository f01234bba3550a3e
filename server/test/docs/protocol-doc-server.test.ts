/**
 * The worked examples of docs/protocol.md §13–14, played against a real
 * server session: the client frames of the doc go in, and with the
 * server's randoms (and resume tokens) pinned to the doc's values, the
 * server's frames come out byte for byte as the doc shows them.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { randomString } from '../../src/protocol/random.js';
import { createServer } from '../../src/server/server.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { LOGIC, makePluginsDir, specConf } from '../helpers/plugins.js';

vi.mock('../../src/protocol/random.js', () => ({ RANDOM_LENGTH: 22, randomString: vi.fn() }));

const DOC_PATH = fileURLToPath(new URL('../../../docs/protocol.md', import.meta.url));

/** The `hex frame` blocks of the doc, in order, as bytes. */
function docFrames(): Buffer[] {
  const markdown = readFileSync(DOC_PATH, 'utf8');
  const blocks = [...markdown.matchAll(/^ {0,3}```hex frame\s*\n([\s\S]*?)^ {0,3}```/gm)];
  return blocks.map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'hex'));
}

describe('docs/protocol.md, played against a server session', () => {
  it('produces every server frame of examples A–F and of the extensions (H–M, N–O), byte for byte', async () => {
    const [A, B, C, D, E, F, , H, I, J, K, L, M, N, O] = docFrames();
    // In the order the server draws them: randoms of its packets, and the tokens it issues.
    const drawn = [
      'purr-0001',
      'purr-0002',
      'purr-0003',
      'tok3n-P4wPrint-0001-AB',
      'purr-0004',
      'purr-0101',
      'tok3n-P4wPrint-0002-CD',
      'purr-0102',
      'purr-0201',
    ];
    const random = vi.mocked(randomString);
    random.mockReset();
    for (const value of drawn) random.mockReturnValueOnce(Buffer.from(value, 'latin1'));

    const server = createServer({ secret: 'neko', port: 0, storage: { backend: 'memory' } });
    // The echo of the examples keeps a dropped session 30 s, so the connection of A–I can be resumed.
    const plugins = await makePluginsDir([
      { greeter: 'echo', logic: LOGIC.echo, spec: `${specConf('Echo', 'echo')}$grace {"30"};\n` },
    ]);
    expect((await server.loadPlugins(plugins)).failed).toEqual([]);

    const first = new FakeTransport();
    const one = server.accept(first);
    one.receive(A!);
    one.receive(C!);
    await vi.waitFor(() => expect(first.writes).toHaveLength(2));
    one.receive(E!);
    one.receive(H!);
    expect(first.writes).toEqual([B, D, F, I]);

    one.transportClosed();
    const second = new FakeTransport();
    const three = server.accept(second);
    three.receive(J!);
    three.receive(L!);
    expect(second.writes).toEqual([K, M]);
    expect(three.id).toBe(one.id);

    // §15: a client with a per-user token, on another connection.
    const fourth = new FakeTransport();
    const four = server.accept(fourth);
    four.receive(N!);
    expect(fourth.writes).toEqual([O]);
    expect(server.sessions().find((s) => s.id === four.id)).toMatchObject({ user: 'mimi' });
    expect(random).toHaveBeenCalledTimes(drawn.length);
    // The shutdown notices (a 503 to each open session) draw randoms of their own.
    random.mockReturnValue(Buffer.from('purr-0999', 'latin1'));
    await server.close();
    expect(second.writes).toHaveLength(3);
    // Greeter and op of the last frame: the status 503.
    expect(second.writes[2]!.subarray(12, 33).toString('latin1')).toBe('nekoconnect-server503');
  });
});
