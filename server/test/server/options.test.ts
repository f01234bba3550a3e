import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { NekoError, type NekoErrorCode } from '../../src/errors.js';
import { checkConfig } from '../../src/config/schema.js';
import { LIMIT_RANGES, type Limits } from '../../src/server/limits.js';
import { DEFAULT_LIMITS, resolveServerOptions, type ServerOptions } from '../../src/server/options.js';
import { createServer } from '../../src/server/server.js';
import { startServer } from '../helpers/server.js';

function refusal(options: ServerOptions, code: NekoErrorCode): NekoError {
  let error: unknown;
  try {
    resolveServerOptions(options);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(NekoError);
  expect((error as NekoError).code).toBe(code);
  return error as NekoError;
}

describe('resolveServerOptions', () => {
  it('fills in the defaults of protocol §6', () => {
    expect(resolveServerOptions({ secret: 's' })).toEqual({
      secret: 's',
      plugins: undefined,
      port: 10390,
      host: '127.0.0.1',
      tls: undefined,
      websocket: undefined,
      // The nedb backend's default data directory holds the bundles' cache.
      cacheDir: path.resolve('.nekoconnect', 'data', 'cache'),
      limits: {
        maxPacketBytes: 1024 * 1024,
        handshakeTimeoutMs: 10_000,
        idleTimeoutMs: 0,
        maxConnections: 10_000,
        nonceWindow: 64,
        recvTimeoutMs: 30_000,
        shutdownTimeoutMs: 10_000,
        maxPendingBytes: 4 * 1024 * 1024,
        drainTimeoutMs: 30_000,
      },
    });
    expect(Object.isFrozen(DEFAULT_LIMITS)).toBe(true);
  });

  it('treats a limit given as undefined like an absent one', () => {
    const { limits } = resolveServerOptions({
      secret: 's',
      limits: { recvTimeoutMs: undefined, nonceWindow: 8 },
    });
    expect(limits.recvTimeoutMs).toBe(30_000);
    expect(limits.nonceWindow).toBe(8);
  });

  it('keeps given values and merges partial limits over the defaults', () => {
    const tls = { key: 'k', cert: 'c' };
    const resolved = resolveServerOptions({
      secret: 's',
      plugins: './plugins',
      port: 0,
      host: '0.0.0.0',
      tls,
      limits: { nonceWindow: 2, idleTimeoutMs: 500 },
    });
    expect(resolved).toMatchObject({ plugins: './plugins', port: 0, host: '0.0.0.0', tls });
    expect(resolved.limits).toEqual({ ...DEFAULT_LIMITS, nonceWindow: 2, idleTimeoutMs: 500 });
  });

  it('refuses a missing or empty secret with NEKO_ERR_CONFIG_NO_SECRET and a hint', () => {
    expect(refusal({ secret: '' }, 'NEKO_ERR_CONFIG_NO_SECRET').hint).toEqual(expect.any(String));
    refusal({} as ServerOptions, 'NEKO_ERR_CONFIG_NO_SECRET');
    refusal({ secret: 42 } as unknown as ServerOptions, 'NEKO_ERR_CONFIG_NO_SECRET');
  });

  it('refuses limits that are not whole numbers ≥ 0 with NEKO_ERR_CONFIG_INVALID, naming the limit', () => {
    for (const key of Object.keys(DEFAULT_LIMITS)) {
      for (const value of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '10', null]) {
        const err = refusal({ secret: 's', limits: { [key]: value } as never }, 'NEKO_ERR_CONFIG_INVALID');
        expect(err.message).toContain(`limits.${key}`);
      }
    }
  });

  it('refuses maxPacketBytes below the smallest frame (16) or above 4294967295', () => {
    expect(
      refusal({ secret: 's', limits: { maxPacketBytes: 15 } }, 'NEKO_ERR_CONFIG_INVALID').message,
    ).toContain('maxPacketBytes');
    refusal({ secret: 's', limits: { maxPacketBytes: 2 ** 32 } }, 'NEKO_ERR_CONFIG_INVALID');
    expect(resolveServerOptions({ secret: 's', limits: { maxPacketBytes: 16 } }).limits.maxPacketBytes).toBe(
      16,
    );
    expect(
      resolveServerOptions({ secret: 's', limits: { maxPacketBytes: 2 ** 32 - 1 } }).limits.maxPacketBytes,
    ).toBe(2 ** 32 - 1);
  });

  it('refuses 0 for limits that must be at least 1, and allows 0 for the idle timeout', () => {
    for (const key of ['handshakeTimeoutMs', 'nonceWindow', 'recvTimeoutMs', 'maxConnections'] as const) {
      expect(refusal({ secret: 's', limits: { [key]: 0 } }, 'NEKO_ERR_CONFIG_INVALID').message).toContain(
        key,
      );
    }
    expect(resolveServerOptions({ secret: 's', limits: { idleTimeoutMs: 0 } }).limits.idleTimeoutMs).toBe(0);
  });

  it('refuses every limit outside the range the config file allows, naming the limit and the range', () => {
    for (const [key, { min, max }] of Object.entries(LIMIT_RANGES)) {
      for (const value of [min - 1, max + 1]) {
        if (value < 0) continue;
        const err = refusal({ secret: 's', limits: { [key]: value } }, 'NEKO_ERR_CONFIG_INVALID');
        expect(err.message).toContain(`limits.${key} must be a whole number from ${min} to ${max}`);
        expect(checkConfig({ limits: { [key]: value } })).toHaveLength(1);
      }
      expect(resolveServerOptions({ secret: 's', limits: { [key]: min } }).limits[key as keyof Limits]).toBe(
        min,
      );
      expect(resolveServerOptions({ secret: 's', limits: { [key]: max } }).limits[key as keyof Limits]).toBe(
        max,
      );
      expect(checkConfig({ limits: { [key]: min } })).toEqual([]);
      expect(checkConfig({ limits: { [key]: max } })).toEqual([]);
    }
    // Accepted by createServer before the two checks were one.
    refusal({ secret: 's', limits: { handshakeTimeoutMs: 86_400_001 } }, 'NEKO_ERR_CONFIG_INVALID');
    refusal({ secret: 's', limits: { maxConnections: 1_000_001 } }, 'NEKO_ERR_CONFIG_INVALID');
    refusal({ secret: 's', limits: { maxPendingBytes: 1023 } }, 'NEKO_ERR_CONFIG_INVALID');
    expect(() => createServer({ secret: 's', limits: { idleTimeoutMs: 86_400_001 } })).toThrow(
      expect.objectContaining({ code: 'NEKO_ERR_CONFIG_INVALID' }),
    );
  });

  it('refuses a port outside 0-65535 or not whole with NEKO_ERR_CONFIG_INVALID', () => {
    for (const port of [-1, 65536, 1.5, Number.NaN]) {
      expect(refusal({ secret: 's', port }, 'NEKO_ERR_CONFIG_INVALID').message).toContain('port');
    }
    expect(resolveServerOptions({ secret: 's', port: 65535 }).port).toBe(65535);
  });

  it('makes createServer throw the same refusals', () => {
    expect(() => createServer({ secret: '' })).toThrow(
      expect.objectContaining({ code: 'NEKO_ERR_CONFIG_NO_SECRET' }),
    );
    expect(() => createServer({ secret: 's', port: 70000 })).toThrow(
      expect.objectContaining({ code: 'NEKO_ERR_CONFIG_INVALID' }),
    );
  });
});

describe('NekoServer.listen()', () => {
  it('resolves with the bound address on port 0', async () => {
    const { server, port } = await startServer();
    expect(port).toBeGreaterThan(0);
    expect(server.address()).toMatchObject({ address: '127.0.0.1', port });
  });

  it('refuses a port in use with NEKO_ERR_SERVER_LISTEN, naming EADDRINUSE', async () => {
    const { port } = await startServer();
    const second = createServer({ secret: 's', port, storage: { backend: 'memory' } });
    let error: unknown;
    try {
      await second.listen();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(NekoError);
    expect((error as NekoError).code).toBe('NEKO_ERR_SERVER_LISTEN');
    expect((error as NekoError).message).toContain('EADDRINUSE');
    expect((error as NekoError).hint).toEqual(expect.any(String));
    expect(second.address()).toBeUndefined();
    await second.close();
  });

  it('refuses to listen twice with NEKO_ERR_SERVER_LISTEN', async () => {
    const { server } = await startServer();
    await expect(server.listen()).rejects.toMatchObject({ code: 'NEKO_ERR_SERVER_LISTEN' });
  });

  it('refuses a plugins directory that does not exist with NEKO_ERR_PLUGINS_DIR', async () => {
    const server = createServer({
      secret: 's',
      port: 0,
      plugins: '/nonexistent/neko-plugins',
      storage: { backend: 'memory' },
    });
    await expect(server.listen()).rejects.toMatchObject({ code: 'NEKO_ERR_PLUGINS_DIR' });
    await server.close();
  });
});
