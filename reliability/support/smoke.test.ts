import { describe, expect, it } from 'vitest';
import { connect } from 'nekoconnect/client';
import { EXAMPLE_PLUGINS, startServerProcess } from './server-process.js';

describe('the reliability suite support', () => {
  it('runs a server in its own process, reports its logs and memory, and shuts it down', async () => {
    const server = await startServerProcess({ secret: 'support-secret', plugins: EXAMPLE_PLUGINS });
    const client = await connect({ secret: 'support-secret', port: server.port });
    expect((await client.request('echo', 'hi')).text()).toBe('hi');
    const { usage, connections } = await server.memory();
    expect(connections).toBe(1);
    expect(usage.heapUsed).toBeGreaterThan(0);
    expect(server.logs.map((r) => r.message)).toContain('loaded Echo v1.0.0 (greeter "echo")');
    await client.close();
    await server.close();
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });
});
