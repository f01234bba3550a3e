/**
 * The recipes of docs/deploy.md's "A cluster" that are checked without
 * running a cluster (cluster-haproxy.test.ts runs one):
 *
 * 1. HAProxy accepts the guide's `haproxy.cfg` as written (`haproxy -c`),
 *    and it says what the guide explains: TCP mode, least connections,
 *    checks on `/readyz` at each process's metrics port, long timeouts,
 *    redispatch, and no `shutdown-sessions`.
 * 2. The fill-in the tests run it with changes only what it says it changes.
 * 3. `systemd-analyze verify` accepts an instance of the template unit,
 *    whose ports and data directory come from the instance name.
 * 4. `cluster.env` sets the two variables the server reads, and the unit
 *    and the command lines hold no password.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkHaproxyConfig, fillHaproxyConfig } from '../../../scripts/test-support/haproxy.js';
import { environmentFile, installCluster } from './cluster.js';
import { parseUnit, run, setting, systemdInstance, titledBlock } from './guide.js';

const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

describe('the HAProxy config of docs/deploy.md', () => {
  const config = titledBlock('haproxy.cfg').body;

  it('is accepted by haproxy -c as written', async () => {
    const output = await checkHaproxyConfig(config);
    expect(output).toMatch(/Configuration file is valid/);
    // And the check does refuse a broken one.
    await expect(checkHaproxyConfig(config.replace('balance leastconn', 'balance fewest'))).rejects.toThrow(
      /fewest/,
    );
  });

  it('says what the guide explains', () => {
    const lines = config.split('\n').map((l) => l.trim());
    expect(lines).toContain('mode tcp');
    expect(lines.filter((l) => l === 'balance leastconn')).toHaveLength(2);
    expect(lines.filter((l) => l === 'http-check send meth GET uri /readyz')).toHaveLength(2);
    expect(lines).toEqual(expect.arrayContaining(['retries 2', 'option redispatch 1', 'timeout tunnel 1h']));
    expect(config).not.toContain('shutdown-sessions');
    // Each server is checked on the metrics port of its own process: 946<n> for 1040<n> and 1041<n>.
    const servers = [...config.matchAll(/server neko(\d) 127\.0\.0\.1:(\d+) check port (\d+)/g)];
    expect(servers).toHaveLength(6);
    for (const [, n, port, check] of servers) {
      expect([`1040${n}`, `1041${n}`]).toContain(port);
      expect(check).toBe(`946${n}`);
    }
    // HAProxy lets a session idle longer than the server's own idle timeout (the guide's config: 10 minutes).
    const { limits } = JSON.parse(titledBlock('nekoconnect.config.json').body) as {
      limits: { idleTimeoutMs: number };
    };
    expect(limits.idleTimeoutMs).toBeLessThan(60 * 60 * 1000);
  });

  it('is filled in for a test by changing its binds, servers and check timings only', () => {
    const filled = fillHaproxyConfig(config, {
      ports: { nekoconnect: 20001, nekoconnect_ws: 20002 },
      backends: {
        nekoconnect: [
          { host: '127.0.0.1', port: 30001, checkPort: 40001 },
          { host: '127.0.0.1', port: 30002, checkPort: 40002 },
        ],
        nekoconnect_ws: [
          { host: '127.0.0.1', port: 31001, checkPort: 40001 },
          { host: '127.0.0.1', port: 31002, checkPort: 40002 },
        ],
      },
      checks: { inter: '200ms', fall: 3 },
      socket: '/tmp/x/admin.sock',
    });
    expect(filled).toContain('    bind 127.0.0.1:20001');
    expect(filled).toContain('    bind 127.0.0.1:20002');
    expect(filled).toContain('    server neko1 127.0.0.1:30001 check port 40001');
    expect(filled).toContain('    server neko2 127.0.0.1:31002 check port 40002');
    expect(filled).not.toContain('neko3');
    expect(filled).toContain('default-server inter 200ms fastinter 500ms downinter 2s fall 3 rise 2');
    expect(filled).toContain('stats socket /tmp/x/admin.sock mode 600 level admin');
    for (const gone of ['chroot', 'user haproxy', 'daemon', '/run/haproxy/admin.sock', 'log /dev/log']) {
      expect(filled).not.toContain(gone);
    }
    // Every other line of the guide's config is there as written.
    const kept = config
      .split('\n')
      .filter(
        (l) =>
          !/^\s*(bind|server|default-server|chroot|user|group|daemon|log \/dev|stats socket)\b/.test(l) &&
          !l.trim().startsWith('#'),
      );
    const out = new Set(filled.split('\n'));
    expect(kept.filter((l) => !out.has(l))).toEqual([]);
    // A backend left without servers is an error, not a silent gap.
    expect(() =>
      fillHaproxyConfig(config, {
        ports: { nekoconnect: 1, nekoconnect_ws: 2 },
        backends: { nekoconnect: [{ host: '127.0.0.1', port: 3, checkPort: 4 }] },
        socket: '/tmp/x',
      }),
    ).toThrow(/no servers given for backend nekoconnect_ws/);
  });
});

describe('the template unit of docs/deploy.md', () => {
  it('is accepted by systemd-analyze verify for an instance, without a warning', async () => {
    if (SYSTEMD_ANALYZE === undefined) {
      throw new Error(
        'systemd-analyze is missing: this test checks the unit of docs/deploy.md with it. ' +
          'Install it (Debian/Ubuntu: apt-get install -y systemd); .ci/run does.',
      );
    }
    const installed = await installCluster({
      redis: 'redis://:unused@127.0.0.1:1',
      database: 'postgres://u:unused@127.0.0.1:1/d',
      name: 'verify',
    });
    const dir = installed.at('/etc/systemd/system');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'nekoconnect@.service'), installed.template);
    const { stdout, stderr } = await run(SYSTEMD_ANALYZE, ['verify', join(dir, 'nekoconnect@2.service')], {
      timeoutMs: 30_000,
    });
    expect(`${stdout}${stderr}`.split('\n').filter((l) => l.includes('nekoconnect@'))).toEqual([]);
    // And it reads the template for the instance: a misspelt key in it is reported.
    await writeFile(
      join(dir, 'nekoconnect@.service'),
      installed.template.replace('StateDirectory=', 'StateDirectry='),
    );
    const warned = await run(SYSTEMD_ANALYZE, ['verify', join(dir, 'nekoconnect@2.service')], {
      timeoutMs: 30_000,
    });
    expect(warned.stderr).toMatch(/Unknown key 'StateDirectry'/);
  });

  it('makes each instance’s ports and data directory from its name, and takes the URLs from the environment file', () => {
    const unit = parseUnit(systemdInstance(titledBlock('nekoconnect@.service').body, '3'));
    const start = setting(unit, 'Service', 'ExecStart');
    expect(start).toMatch(/--port 10403 --ws-port 10413\b/);
    expect(start).toMatch(/--metrics-port 9463\b/);
    expect(start).toMatch(/--cluster-name production\b/);
    expect(start).toMatch(/--data-dir \/var\/lib\/nekoconnect\/3\b/);
    expect(setting(unit, 'Service', 'StateDirectory')).toBe('nekoconnect/3');
    expect(setting(unit, 'Service', 'EnvironmentFile')).toBe('/etc/nekoconnect/cluster.env');
    // No URL, password or secret on the command line or in the unit.
    expect(titledBlock('nekoconnect@.service').body).not.toMatch(
      /redis:\/\/|postgres:\/\/|--cluster |--storage/,
    );
    expect(Object.keys(environmentFile(titledBlock('cluster.env').body)).sort()).toEqual([
      'NEKOCONNECT_DATABASE_URL',
      'NEKOCONNECT_REDIS_URL',
    ]);
  });
});
