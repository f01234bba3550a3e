/**
 * The systemd unit of docs/deploy.md:
 *
 * 1. `systemd-analyze verify` accepts it, without a warning, once its paths
 *    point at a real install (verify checks that `ExecStart`'s program
 *    exists and is executable).
 * 2. Its commands run as systemd would run them (see `unit.ts` for what is
 *    substituted): `ExecStart` serves `/readyz` on its metrics port with the
 *    guide's config file, credential and TLS pair; `ExecReload` (`kill -HUP
 *    $MAINPID`) reloads it, and a TLS pair replaced before it is the one new
 *    connections get (the guide's rotation); `KillSignal` stops it with exit
 *    0 well within `TimeoutStopSec`.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { makeCertificate } from '../../../scripts/test-support/tls.js';
import { assertBuilt } from '../cli/run-cli.js';
import { parseUnit, run, setting, titledBlock, waitForHttp } from './guide.js';
import { execWords, install, records, servicePorts, startService } from './unit.js';

/** The SHA-256 fingerprint of the certificate a TLS server on 127.0.0.1:`port` presents. */
function peerCertificate(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

describe('the systemd unit of docs/deploy.md', () => {
  it('is accepted by systemd-analyze verify, without a warning', async () => {
    if (SYSTEMD_ANALYZE === undefined) {
      throw new Error(
        'systemd-analyze is missing: this test checks the unit of docs/deploy.md with it. ' +
          'Install it (Debian/Ubuntu: apt-get install -y systemd); .ci/run does.',
      );
    }
    const { root, unit } = await install();
    const file = join(root, 'nekoconnect.service');
    await writeFile(file, unit);
    const { stdout, stderr } = await run(SYSTEMD_ANALYZE, ['verify', file], { timeoutMs: 30_000 });
    // verify exits 0 on unknown keys and bad values too, and says so: any line about the unit is a defect.
    expect(`${stdout}${stderr}`.split('\n').filter((l) => l.includes('nekoconnect.service'))).toEqual([]);

    // And it does catch what it is here for: a misspelt key, and an ExecStart program that is not there.
    const misspelt = join(root, 'misspelt.service');
    await writeFile(misspelt, unit.replace('ProtectHome=', 'ProtectHom='));
    const warned = await run(SYSTEMD_ANALYZE, ['verify', misspelt], { timeoutMs: 30_000 });
    expect(warned.stderr).toMatch(/Unknown key 'ProtectHom'/);
    const noProgram = join(root, 'no-program.service');
    const program = setting(parseUnit(unit), 'Service', 'ExecStart').split(/\s/)[0]!;
    await writeFile(noProgram, unit.replace(`ExecStart=${program}`, `ExecStart=${program}-missing`));
    await expect(run(SYSTEMD_ANALYZE, ['verify', noProgram], { timeoutMs: 30_000 })).rejects.toThrow(
      /is not executable/,
    );
  });

  it('has the settings the guide explains', async () => {
    const unit = parseUnit(titledBlock('nekoconnect.service').body);
    const service = (key: string): string => setting(unit, 'Service', key);
    expect(service('Type')).toMatch(/^(simple|exec)$/);
    expect(service('User')).toBe('nekoconnect');
    expect(service('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(service('KillSignal')).toBe('SIGTERM');
    // A drain ends the process; the guide's upgrade counts on systemd starting it again, and not on exit code 2.
    expect(service('Restart')).toBe('always');
    expect(service('RestartPreventExitStatus')).toBe('2');
    expect(service('LoadCredential')).toBe('secret:/etc/nekoconnect/secret');
    expect(service('ExecStart')).toContain('--secret-file ${CREDENTIALS_DIRECTORY}/secret');
    expect(service('ReadWritePaths')).toBe('/var/lib/nekoconnect');
    expect(service('CapabilityBoundingSet')).toBe('');
    for (const key of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp']) expect(service(key), key).toBe('yes');
    expect(service('ProtectSystem')).toBe('strict');
    expect(service('RestrictAddressFamilies')).toBe('AF_INET AF_INET6 AF_UNIX');
    // TimeoutStopSec above the drain and the shutdown bounds of the guide's config, together.
    const { limits } = JSON.parse(titledBlock('nekoconnect.config.json').body) as {
      limits: { drainTimeoutMs: number; shutdownTimeoutMs: number };
    };
    expect(Number(service('TimeoutStopSec')) * 1000).toBeGreaterThan(
      limits.drainTimeoutMs + limits.shutdownTimeoutMs,
    );
  });

  it('runs: ExecStart serves and is ready, ExecReload reloads it, KillSignal stops it with exit 0', async () => {
    assertBuilt();
    const installed = await install();
    const { at } = installed;
    const one = installed.service;
    expect(parseUnit(installed.unit).get('Service')!.get('ExecStart')).toHaveLength(1);
    const ports = await servicePorts();
    const { metricsPort } = ports;
    const service = await startService(installed, ports);
    const { child, exited } = service;
    const out = (): string => service.output();

    const ready = await waitForHttp(`http://127.0.0.1:${metricsPort}/readyz`).catch((err: Error) => {
      throw new Error(`${err.message}\nserver output:\n${out()}`);
    });
    expect(await ready.json()).toMatchObject({ ready: true });
    // --log-format json: every line is a JSON record.
    expect(records(service).some((r) => /listening on tls:\/\/0\.0\.0\.0:/.test(r.message))).toBe(true);
    // The data directory is the only place written: the plugins' data files, the lock and the cache.
    expect(existsSync(at('/var/lib/nekoconnect/nekoconnect.lock'))).toBe(true);
    expect(existsSync(at('/var/lib/nekoconnect/todo.db'))).toBe(true);

    // The guide's rotation: replace both TLS files, then reload; new connections get the new certificate.
    const before = await peerCertificate(ports.port);
    const next = await makeCertificate();
    await writeFile(at('/etc/nekoconnect/tls/server.key'), next.key, { mode: 0o640 });
    await writeFile(at('/etc/nekoconnect/tls/server.crt'), next.cert);

    // ExecReload, as systemd runs it: $MAINPID is the ExecStart process.
    const [kill, ...killArgs] = execWords(one('ExecReload'), { MAINPID: String(child.pid) }) as [
      string,
      ...string[],
    ];
    await run(kill, killArgs);
    const deadline = Date.now() + 15_000;
    while (!records(service).some((r) => r.message.startsWith('reload done'))) {
      if (Date.now() > deadline) throw new Error(`no "reload done" line after ExecReload:\n${out()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(records(service).find((r) => r.message.startsWith('reload done'))!.message).toMatch(
      /2 plugins reloaded, 0 failed/,
    );
    expect(records(service).find((r) => r.message.startsWith('reload done'))!.message).toMatch(
      /applied: [^;]*\btls\b/,
    );
    const after = await peerCertificate(ports.port);
    expect(after).not.toBe(before);
    expect(after).toBe(new X509Certificate(next.cert).fingerprint256);
    expect(child.exitCode).toBe(null);

    // KillSignal, then systemd waits TimeoutStopSec before SIGKILL.
    const stopMs = Number(one('TimeoutStopSec')) * 1000;
    const started = Date.now();
    child.kill(one('KillSignal') as NodeJS.Signals);
    const code = await Promise.race([
      exited,
      new Promise((resolve) => setTimeout(() => resolve('timeout'), stopMs)),
    ]);
    expect(code, out()).toBe(0);
    expect(Date.now() - started).toBeLessThan(stopMs);
    expect(existsSync(at('/var/lib/nekoconnect/nekoconnect.lock'))).toBe(false);
  }, 60_000);
});
