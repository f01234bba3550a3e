import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, checkConfig, describeValue, didYouMean } from '../../src/config/schema.js';
import { editDistance } from '../../src/edit-distance.js';
import { defineConfig } from '../../src/config/define-config.js';
import { DEFAULT_LIMITS, LIMIT_RANGES } from '../../src/server/limits.js';

function messages(value: unknown): string[] {
  return checkConfig(value).map((i) => i.message);
}

describe('checkConfig', () => {
  it('accepts every key with a good value, and an empty config', () => {
    const config = defineConfig({
      port: 4000,
      host: '0.0.0.0',
      plugins: 'plugins',
      dataDir: 'data',
      limits: { ...DEFAULT_LIMITS },
      tls: { key: 'key.pem', cert: 'cert.pem' },
      dashboard: { port: 4001, host: '127.0.0.1', open: true },
      websocket: { port: 4002, host: '0.0.0.0', path: '/neko', origins: ['https://game.example'] },
    });
    expect(checkConfig(config)).toEqual([]);
    expect(checkConfig({ dashboard: false })).toEqual([]);
    expect(checkConfig({})).toEqual([]);
    expect(checkConfig(Object.create(null))).toEqual([]);
  });

  it("takes workers as a whole number from 1 to 256, or 'auto'", () => {
    for (const workers of [1, 256, 'auto'] as const) expect(checkConfig({ workers })).toEqual([]);
    for (const workers of [0, 257, 1.5, '2', 'all']) {
      expect(messages({ workers })).toEqual([
        `workers must be a whole number from 1 to 256, or 'auto' (one per core), got ${typeof workers === 'string' ? `"${workers}"` : workers}`,
      ]);
    }
  });

  it('treats a key set to undefined as absent', () => {
    expect(checkConfig({ port: undefined, tls: undefined, limits: { idleTimeoutMs: undefined } })).toEqual(
      [],
    );
  });

  it('accepts the ends of every range, and refuses one past them', () => {
    for (const [key, { min, max }] of Object.entries(LIMIT_RANGES)) {
      expect(checkConfig({ limits: { [key]: min } }), `${key} = ${min}`).toEqual([]);
      expect(checkConfig({ limits: { [key]: max } }), `${key} = ${max}`).toEqual([]);
      expect(messages({ limits: { [key]: min - 1 } })).toEqual([
        `limits.${key} must be a whole number from ${min} to ${max}, got ${min - 1}`,
      ]);
      expect(messages({ limits: { [key]: max + 1 } })).toHaveLength(1);
    }
    expect(checkConfig({ port: 0 })).toEqual([]);
    expect(checkConfig({ port: 65535 })).toEqual([]);
  });

  it('has a range for every limit, holding its default', () => {
    expect(Object.keys(LIMIT_RANGES).sort()).toEqual(Object.keys(DEFAULT_LIMITS).sort());
    for (const [key, value] of Object.entries(DEFAULT_LIMITS)) {
      const range = LIMIT_RANGES[key as keyof typeof DEFAULT_LIMITS];
      expect(value).toBeGreaterThanOrEqual(range.min);
      expect(value).toBeLessThanOrEqual(range.max);
    }
  });

  it('names the key path, the allowed values and what it got', () => {
    expect(messages({ port: 70000 })).toEqual(['port must be a whole number from 0 to 65535, got 70000']);
    expect(messages({ port: '4000' })).toEqual(['port must be a whole number from 0 to 65535, got "4000"']);
    expect(messages({ limits: { maxPacketBytes: 1.5 } })).toEqual([
      'limits.maxPacketBytes must be a whole number from 16 to 4294967295, got 1.5',
    ]);
    expect(messages({ host: '' })).toEqual([
      'host must be a non-empty string (an interface such as "127.0.0.1" or "0.0.0.0"), got ""',
    ]);
    expect(messages({ plugins: 3 })).toEqual([
      "plugins must be a non-empty string (a path, relative to the config file's folder), got 3",
    ]);
    expect(messages({ dataDir: null })).toEqual([
      "dataDir must be a non-empty string (a path, relative to the config file's folder), got null",
    ]);
    expect(messages({ limits: [1] })).toEqual([
      'limits must be an object such as { maxPacketBytes: 65536 }, got an array',
    ]);
    expect(messages({ tls: 'cert.pem' })).toEqual([
      'tls must be an object { key, cert } of PEM file paths, got "cert.pem"',
    ]);
    expect(messages({ tls: { key: 'k.pem' } })).toEqual([
      'tls.cert is missing: tls needs both key and cert (PEM file paths)',
    ]);
    expect(messages({ tls: { key: 'k.pem', cert: true } })).toEqual([
      "tls.cert must be a non-empty string (a PEM file path, relative to the config file's folder), got true",
    ]);
  });

  it('reports every problem at once, with its path and whether the key or the value is wrong', () => {
    expect(checkConfig({ prot: 1, port: -1, limits: { maxPacketBytes: 3, recvTimeoutMs: 0 } })).toEqual([
      expect.objectContaining({ path: ['prot'], at: 'key' }),
      expect.objectContaining({ path: ['port'], at: 'value' }),
      expect.objectContaining({ path: ['limits', 'maxPacketBytes'], at: 'value' }),
      expect.objectContaining({ path: ['limits', 'recvTimeoutMs'], at: 'value' }),
    ]);
  });

  it('refuses a config that is not an object', () => {
    for (const [value, got] of [
      [[], 'an array'],
      [null, 'null'],
      ['x', '"x"'],
      [new Date(0), 'a Date'],
      [Promise.resolve({}), 'a Promise'],
    ] as const) {
      expect(checkConfig(value)).toEqual([
        {
          path: [],
          at: 'value',
          message: `the config must be an object such as { port: 10390 }, got ${got}`,
        },
      ]);
    }
  });
});

describe('unknown keys', () => {
  it('are errors that list the keys, with a suggestion for a near miss', () => {
    expect(messages({ prot: 1 })).toEqual([
      'unknown key "prot" (did you mean "port"?); the keys are port, host, plugins, dataDir, storage, cacheDir, limits, tls, dashboard, websocket, requirePlugins, log, metrics, cluster and workers',
    ]);
    expect(messages({ Host: 'x' })[0]).toContain('(did you mean "host"?)');
    expect(messages({ datadir: 'x' })[0]).toContain('(did you mean "dataDir"?)');
    expect(messages({ plugin: 'x' })[0]).toContain('(did you mean "plugins"?)');
    expect(messages({ whatever: 1 })).toEqual([
      'unknown key "whatever"; the keys are port, host, plugins, dataDir, storage, cacheDir, limits, tls, dashboard, websocket, requirePlugins, log, metrics, cluster and workers',
    ]);
  });

  it('point a limit or a TLS file written at the top level to its place', () => {
    expect(messages({ maxPacketBytes: 1 })[0]).toContain('(did you mean "limits.maxPacketBytes"?)');
    expect(messages({ 'max-packet-bytes': 1 })[0]).toContain('(did you mean "limits.maxPacketBytes"?)');
    expect(messages({ tlsKey: 'k' })[0]).toContain('(did you mean "tls.key"?)');
    expect(messages({ pluginsDir: 'p' })[0]).toContain('(did you mean "plugins"?)');
  });

  it('inside limits and tls too', () => {
    expect(messages({ limits: { maxPacketByte: 1 } })).toEqual([
      'unknown limit "limits.maxPacketByte" (did you mean "limits.maxPacketBytes"?); the limits are ' +
        'maxPacketBytes, handshakeTimeoutMs, idleTimeoutMs, maxConnections, nonceWindow, recvTimeoutMs, shutdownTimeoutMs, maxPendingBytes and drainTimeoutMs',
    ]);
    expect(messages({ limits: { constructor: 1 } })[0]).toMatch(/^unknown limit "limits\.constructor"/);
    expect(messages({ tls: { key: 'k', cert: 'c', crt: 'c' } })).toEqual([
      'unknown key "tls.crt" (did you mean "tls.cert"?); tls takes key and cert',
    ]);
  });
});

describe('the secret', () => {
  it('is refused in a config file, pointing to NEKOCONNECT_SECRET and --secret-file', () => {
    for (const key of ['secret', 'secretFile', 'secret_file', 'SECRET']) {
      const issues = checkConfig({ [key]: 'hunter2' });
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({ path: [key], at: 'key', secret: true });
      expect(issues[0]!.message).toBe(
        `"${key}" is not allowed in a config file: the shared secret comes only from the NEKOCONNECT_SECRET ` +
          'environment variable or --secret-file, never from a config file that may be committed',
      );
    }
  });
});

describe('helpers', () => {
  it('editDistance counts insertions, deletions, substitutions and swaps', () => {
    expect(editDistance('port', 'port')).toBe(0);
    expect(editDistance('prot', 'port')).toBe(1);
    expect(editDistance('hst', 'host')).toBe(1);
    expect(editDistance('hosts', 'host')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('didYouMean stays quiet when nothing is close, or the candidate is short', () => {
    const candidates = CONFIG_KEYS.map((k) => ({ name: k, path: k }));
    expect(didYouMean('zzzz', candidates)).toBe('');
    expect(didYouMean('ab', candidates)).toBe('');
    expect(didYouMean('tl', candidates)).toBe(' (did you mean "tls"?)');
  });

  it('describeValue quotes strings, cuts long ones, and names kinds', () => {
    expect(describeValue('a"b')).toBe('"a\\"b"');
    expect(describeValue('x'.repeat(100))).toBe(`"${'x'.repeat(57)}..."`);
    expect(describeValue(() => 1)).toBe('a function');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(10n)).toBe('10n');
    expect(describeValue(Symbol('s'))).toBe('a symbol');
    expect(describeValue(false)).toBe('false');
    expect(describeValue({})).toBe('an object');
  });
});

describe('websocket', () => {
  it('takes port (required), host, path and origins; names a bad key or value', () => {
    expect(checkConfig({ websocket: { port: 0 } })).toEqual([]);
    expect(messages({ websocket: true })).toEqual([
      'websocket must be an object { port, host, path, origins }, got true',
    ]);
    expect(messages({ websocket: { host: '0.0.0.0' } })).toEqual([
      'websocket needs a port, e.g. { port: 10392 }',
    ]);
    expect(messages({ websocket: { port: 1, pth: '/' } })).toEqual([
      'unknown key "websocket.pth" (did you mean "websocket.path"?); websocket takes port, host, path and origins',
    ]);
    expect(messages({ websocket: { port: 70000 } })).toEqual([
      'websocket.port must be a whole number from 0 to 65535, got 70000',
    ]);
    expect(messages({ websocket: { port: 1, path: 'neko' } })).toEqual([
      'websocket.path must be a URL path starting with "/", got "neko"',
    ]);
    expect(messages({ websocket: { port: 1, origins: 'https://game.example' } })).toEqual([
      'websocket.origins must be a list of origins such as ["https://game.example"], got "https://game.example"',
    ]);
    expect(messages({ wsPort: 1 })[0]).toContain('(did you mean "websocket.port"?)');
  });
});

describe('dashboard', () => {
  it('takes port, host, open and tokenFile, or false; names a bad key or value', () => {
    expect(messages({ dashboard: true })).toEqual([
      'dashboard must be an object { port, host, open, tokenFile } or false, got true',
    ]);
    expect(messages({ dashboard: { prot: 1 } })).toEqual([
      'unknown key "dashboard.prot" (did you mean "dashboard.port"?); dashboard takes port, host, open and tokenFile',
    ]);
    expect(checkConfig({ dashboard: { tokenFile: 'secrets/dashboard-token' } })).toEqual([]);
    expect(messages({ dashboard: { tokenFile: 42 } })).toEqual([
      'dashboard.tokenFile must be a non-empty string (a file holding the access token), got 42',
    ]);
    expect(messages({ dashboard: { tokenfile: 'x' } })[0]).toContain('(did you mean "dashboard.tokenFile"?)');
    expect(messages({ tokenFile: 'x' })[0]).toContain('(did you mean "dashboard.tokenFile"?)');
    expect(messages({ dashboard: { port: 70000 } })).toEqual([
      'dashboard.port must be a whole number from 0 to 65535, got 70000',
    ]);
    expect(messages({ dashboardPort: 1 })[0]).toContain('(did you mean "dashboard.port"?)');
  });

  it('takes open as a boolean only, and suggests it for near misses', () => {
    expect(checkConfig({ dashboard: { open: true } })).toEqual([]);
    expect(checkConfig({ dashboard: { open: false, port: 0 } })).toEqual([]);
    for (const [value, shown] of [
      ['yes', '"yes"'],
      ['true', '"true"'],
      [1, '1'],
      [null, 'null'],
      [{}, 'an object'],
    ] as const) {
      const issues = checkConfig({ dashboard: { open: value } });
      expect(issues).toEqual([
        {
          path: ['dashboard', 'open'],
          at: 'value',
          message: `dashboard.open must be true or false (true serves it without the access token), got ${shown}`,
        },
      ]);
    }
    expect(messages({ dashboard: { opne: true } })).toEqual([
      'unknown key "dashboard.opne" (did you mean "dashboard.open"?); dashboard takes port, host, open and tokenFile',
    ]);
    expect(messages({ dashboardOpen: true })[0]).toContain('(did you mean "dashboard.open"?)');
  });
});

describe('metrics', () => {
  it('takes port and host; the port is required; names a bad key or value', () => {
    expect(checkConfig({ metrics: { port: 9464 } })).toEqual([]);
    expect(checkConfig({ metrics: { port: 0, host: '0.0.0.0' } })).toEqual([]);
    expect(messages({ metrics: true })).toEqual(['metrics must be an object { port, host }, got true']);
    expect(messages({ metrics: {} })).toEqual(['metrics needs a port, e.g. { port: 9464 }']);
    expect(messages({ metrics: { port: 70000 } })).toEqual([
      'metrics.port must be a whole number from 0 to 65535, got 70000',
    ]);
    expect(messages({ metrics: { port: 1, hots: 'x' } })).toEqual([
      'unknown key "metrics.hots" (did you mean "metrics.host"?); metrics takes port and host',
    ]);
    expect(messages({ metricsPort: 1 })[0]).toContain('(did you mean "metrics.port"?)');
  });
});
