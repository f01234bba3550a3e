/**
 * The log's levels (a sink gets its level and above; a debug line no sink
 * wants is not built), the one rule of "the same line" that the terminal's
 * summaries and the dashboard's runs share, and the connection lines of a
 * real server: lifecycle at debug, refusals and TLS failures as warnings.
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { connect } from '../../src/client/client.js';
import { Output, printLogs } from '../../src/cli/output.js';
import { LogBuffer } from '../../src/dashboard/log-buffer.js';
import { JSON_LOG_FIELDS, jsonLogLine } from '../../src/logging/json.js';
import { Logger, type LogRecord } from '../../src/logging/logger.js';
import { RepeatFilter, sameLineKey } from '../../src/logging/repeats.js';
import { issueToken } from '../../src/protocol/token.js';
import { makeCertificate, type TestCertificate } from '../../../scripts/test-support/tls.js';
import { allPlugins, makePluginsDir } from '../helpers/plugins.js';
import { SECRET, startServer } from '../helpers/server.js';

const record = (message: string, fields: Partial<LogRecord> = {}): LogRecord => ({
  time: Date.now(),
  level: 'warn',
  message,
  ...fields,
});

afterEach(() => {
  vi.useRealTimers();
});

describe('Logger levels', () => {
  it('gives each sink its level and above, changes it live, and says whether a debug line is wanted', () => {
    const logger = new Logger();
    expect(logger.enabled('debug')).toBe(false);
    expect(logger.enabled('error')).toBe(false); // no sink at all
    const terminal: string[] = [];
    const dashboard: string[] = [];
    const sink = (r: LogRecord): void => void terminal.push(`${r.level} ${r.message}`);
    logger.subscribe(sink, 'warn');
    const stopDashboard = logger.subscribe((r) => dashboard.push(`${r.level} ${r.message}`));
    logger.debug('d1');
    logger.info('i1');
    logger.warn('w1');
    expect(terminal).toEqual(['warn w1']);
    expect(dashboard).toEqual(['info i1', 'warn w1']);
    expect(logger.enabled('debug')).toBe(false);

    logger.subscribe(sink, 'debug'); // again: its level changes
    expect(logger.enabled('debug')).toBe(true);
    logger.debug('d2');
    logger.error('e1');
    expect(terminal).toEqual(['warn w1', 'debug d2', 'error e1']);
    expect(dashboard).toEqual(['info i1', 'warn w1', 'error e1']);

    logger.subscribe(sink, 'error');
    stopDashboard();
    expect(logger.enabled('warn')).toBe(false);
    expect(logger.enabled('error')).toBe(true);
  });

  it("prints the terminal's threshold through printLogs, which a reload can change", () => {
    const logger = new Logger();
    const out: string[] = [];
    const output = new Output({ out: (l) => out.push(`out ${l}`), err: (l) => out.push(`err ${l}`) }, 'json');
    const printer = printLogs(logger, output, { level: 'warn' });
    logger.info('not printed');
    logger.warn('printed');
    printer.setLevel('debug');
    expect(printer.level).toBe('debug');
    logger.debug('now printed', { session: 's-1' });
    output.format = 'pretty';
    logger.error('pretty now');
    printer.stop();
    logger.error('after stop');
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/^err \{"time":"[^"]+","level":"warn","message":"printed"\}$/);
    expect(JSON.parse(out[1]!.slice(4))).toMatchObject({
      level: 'debug',
      message: 'now printed',
      session: 's-1',
    });
    expect(out[2]).toMatch(/^err \d\d:\d\d:\d\d error pretty now$/);
  });
});

describe('repeated lines', () => {
  it('are the same line with another session id or client address in them, not with another level, plugin or code', () => {
    const a = record('session s-4 (10.0.0.1) closed', { session: 's-4', remote: '10.0.0.1' });
    const b = record('session s-9 (10.0.0.7) closed', { session: 's-9', remote: '10.0.0.7' });
    expect(sameLineKey(a)).toBe(sameLineKey(b));
    expect(sameLineKey(a)).not.toBe(sameLineKey({ ...b, level: 'error' }));
    expect(sameLineKey(a)).not.toBe(sameLineKey({ ...b, plugin: 'chat' }));
    expect(sameLineKey(a)).not.toBe(sameLineKey({ ...b, code: 'NEKO_ERR_X' }));
    expect(sameLineKey(a)).not.toBe(sameLineKey({ ...b, message: 'session s-9 (10.0.0.7) closed!' }));
  });

  it('fold on the dashboard by the same rule: the address taken out too', () => {
    const logs = new LogBuffer();
    logs.push(record('from 10.0.0.1: refused', { remote: '10.0.0.1' }));
    logs.push(record('from 10.0.0.2: refused', { remote: '10.0.0.2' }));
    logs.push(record('from 10.0.0.2: refused'));
    expect(logs.entries().map((e) => e.run)).toEqual([1, 1, 3]);
    // Debug lines are the terminal's: the dashboard keeps info and above.
    expect(logs.push(record('a debug line', { level: 'debug' }))).toBeUndefined();
    expect(logs.last).toBe(3);
  });

  it('print the first few of a kind, then one summary per interval while they keep coming', () => {
    vi.useFakeTimers({ now: 0 });
    const printed: LogRecord[] = [];
    const repeats = new RepeatFilter((r) => printed.push(r), { shown: 3, intervalMs: 1_000 });
    const line = (n: number, message = `s-${n} bad handshake`): void =>
      repeats.push(record(message, { time: Date.now(), session: `s-${n}`, code: 'NEKO_ERR_AUTH_BAD_HASH' }));
    for (let n = 1; n <= 10; n++) line(n);
    line(11, 'another kind of line');
    expect(printed.map((r) => r.message)).toEqual([
      's-1 bad handshake',
      's-2 bad handshake',
      's-3 bad handshake',
      'another kind of line',
    ]);
    vi.advanceTimersByTime(500);
    for (let n = 12; n <= 15; n++) line(n);
    vi.advanceTimersByTime(500);
    // One summary: 7 + 4 held back, the newest named, in the interval since the first held back.
    expect(printed).toHaveLength(5);
    expect(printed[4]).toMatchObject({
      level: 'warn',
      code: 'NEKO_ERR_AUTH_BAD_HASH',
      message: 's-15 bad handshake (repeated 11 more times in the last 1 s)',
      repeated: 11,
      repeatedMs: 1_000,
    });
    expect(printed[4]!.session).toBeUndefined();
    // Still coming: held back, summarized at the next interval.
    line(16);
    line(17);
    vi.advanceTimersByTime(1_000);
    expect(printed.slice(5).map((r) => [r.repeated, r.message])).toEqual([
      [2, 's-17 bad handshake (repeated 2 more times in the last 1 s)'],
    ]);
    // A quiet interval: the kind is forgotten and prints again from the start.
    vi.advanceTimersByTime(1_000);
    vi.advanceTimersByTime(1_000);
    line(18);
    expect(printed.at(-1)!.message).toBe('s-18 bad handshake');
    expect(printed.at(-1)!.repeated).toBeUndefined();
  });

  it('print what they hold back when flushed (at shutdown), as a JSON record with `repeated`', () => {
    const printed: LogRecord[] = [];
    const repeats = new RepeatFilter((r) => printed.push(r), { shown: 1, intervalMs: 60_000 });
    for (let n = 0; n < 2_000; n++) repeats.push(record('refused', { remote: `10.0.${n >> 8}.${n & 255}` }));
    expect(printed).toHaveLength(1);
    repeats.flush();
    expect(printed).toHaveLength(2);
    const line = JSON.parse(jsonLogLine(printed[1]!)) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 'warn',
      repeated: 1_999,
      message: expect.stringMatching(/^refused \(repeated 1999 more times in the last [\d.]+ s\)$/),
    });
    expect(line.remote).toBeUndefined();
  });
});

describe('JSON log lines', () => {
  it('carry the fields docs/config.md lists, in its "Logs" section', async () => {
    const doc = await readFile(path.join(import.meta.dirname, '..', '..', '..', 'docs', 'config.md'), 'utf8');
    const section = doc.slice(doc.indexOf('\n## Logs'));
    const next = section.indexOf('\n## ', 1);
    const logs = next === -1 ? section : section.slice(0, next);
    const documented = [...logs.matchAll(/^\| `(\w+)` +\|/gm)].map((m) => m[1]);
    expect(documented).toEqual([...JSON_LOG_FIELDS]);
    // And a record with all of them writes exactly those, in that order.
    const error = new Error('boom');
    const full = JSON.parse(
      jsonLogLine({
        time: 0,
        level: 'error',
        message: `failed: ${error.stack}`,
        code: 'NEKO_ERR_PLUGIN_HANDLER',
        plugin: 'echo',
        session: 's-1',
        remote: '127.0.0.1',
        repeated: 2,
        repeatedMs: 10,
        error,
      }),
    ) as Record<string, unknown>;
    expect(Object.keys(full)).toEqual([...JSON_LOG_FIELDS]);
    expect(full.time).toBe('1970-01-01T00:00:00.000Z');
    expect(full.message).toBe('failed: Error: boom');
    expect(full.stack).toBe(error.stack);
  });
});

describe('connection lines of a server', () => {
  let certificate: TestCertificate;
  beforeAll(async () => {
    certificate = await makeCertificate();
  });

  it('at debug: accepted (transport, address), authenticated (user of a per-user token), closed (by whom, with what)', async () => {
    const { server, port } = await startServer({ plugins: await makePluginsDir(allPlugins()) });
    const lines: LogRecord[] = [];
    server.logger.subscribe((r) => lines.push(r), 'debug');
    const token = issueToken(SECRET, 'mimi', { ttlSeconds: 60 });
    const client = await connect({ port, token: { id: token.id, key: token.key } });
    await client.close();
    await expect(connect({ port, secret: 'wrong' })).rejects.toThrow();
    await vi.waitFor(() => expect(lines.filter((r) => r.level === 'warn')).toHaveLength(1));
    await vi.waitFor(() => expect(lines.filter((r) => r.message.includes('closed'))).toHaveLength(2));
    const debug = lines.filter((r) => r.level === 'debug').map((r) => r.message);
    expect(debug).toEqual([
      'connection s-1 accepted over tcp from 127.0.0.1',
      'session s-1 (127.0.0.1) authenticated as mimi (per-user token)',
      'session s-1 (127.0.0.1) closed by the client (or the network)',
      'connection s-2 accepted over tcp from 127.0.0.1',
    ]);
    // The wrong secret: a warning, with its code and the address as a field.
    const warn = lines.find((r) => r.level === 'warn')!;
    expect(warn).toMatchObject({ session: 's-2', remote: '127.0.0.1', code: 'NEKO_ERR_AUTH_BAD_HASH' });
  });

  it('builds no debug line when no sink wants one', async () => {
    const { server, port } = await startServer({ plugins: await makePluginsDir(allPlugins()) });
    const debug = vi.spyOn(server.logger, 'debug');
    const client = await connect({ port, secret: SECRET });
    await client.close();
    expect(debug).not.toHaveBeenCalled();
  });

  it('warns of a TCP connection refused over limits.maxConnections', async () => {
    const { port, waitForLog } = await startServer({ limits: { maxConnections: 1 } });
    const first = await openSocket(port);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await openSocket(port);
    await new Promise((resolve) => second.once('close', resolve));
    const refused = await waitForLog((r) => r.code === 'NEKO_ERR_SERVER_FULL');
    expect(refused).toMatchObject({ level: 'warn', remote: '127.0.0.1' });
    expect(refused.message).toBe('connection from 127.0.0.1 refused: over limits.maxConnections (1)');
    first.destroy();
  });

  it('warns of a WebSocket connection refused over limits.maxConnections', async () => {
    const { server, waitForLog } = await startServer({
      limits: { maxConnections: 1 },
      websocket: { port: 0, host: '127.0.0.1' },
    });
    const wsPort = server.websocketAddress()!.port;
    const first = await openSocket(wsPort);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = net.connect({ host: '127.0.0.1', port: wsPort });
    second.on('error', () => undefined);
    await new Promise((resolve) => second.once('close', resolve));
    const refused = await waitForLog((r) => r.code === 'NEKO_ERR_SERVER_FULL');
    expect(refused).toMatchObject({ level: 'warn', remote: '127.0.0.1' });
    expect(refused.message).toBe(
      'WebSocket connection from 127.0.0.1 refused: over limits.maxConnections (1)',
    );
    first.destroy();
  });

  it('warns of a failed TLS handshake, over TCP and over wss://', async () => {
    const { port, server, waitForLog } = await startServer({
      tls: certificate,
      websocket: { port: 0, host: '127.0.0.1' },
    });
    const lines: LogRecord[] = [];
    server.logger.subscribe((r) => lines.push(r), 'debug');
    // A client that resets before speaking TLS (a port probe): a debug line, not a TLS failure.
    const probe = await openSocket(port);
    probe.resetAndDestroy();
    await vi.waitFor(() =>
      expect(lines.map((r) => r.message)).toContain(
        'connection from 127.0.0.1 closed during its TLS handshake (ECONNRESET)',
      ),
    );
    const plain = await openSocket(port);
    plain.write('hello, no TLS here\r\n\r\n');
    const tcp = await waitForLog((r) => r.code === 'NEKO_ERR_TLS_HANDSHAKE');
    expect(lines.filter((r) => r.code === 'NEKO_ERR_TLS_HANDSHAKE')).toHaveLength(1);
    expect(tcp).toMatchObject({ level: 'warn', remote: '127.0.0.1' });
    expect(tcp.message).toMatch(/^connection from 127\.0\.0\.1 closed: TLS handshake failed: \S/);

    const ws = await openSocket(server.websocketAddress()!.port);
    ws.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    const wss = await waitForLog(
      (r) => r.code === 'NEKO_ERR_TLS_HANDSHAKE' && r.message.startsWith('WebSocket'),
    );
    expect(wss).toMatchObject({ level: 'warn', remote: '127.0.0.1' });
    expect(wss.message).toMatch(/^WebSocket connection from 127\.0\.0\.1 refused: TLS handshake failed: \S/);
  });
});

async function openSocket(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  onTestFinished(() => {
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}
