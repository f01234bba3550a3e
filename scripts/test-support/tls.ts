import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';

/** A self-signed certificate for `localhost` and 127.0.0.1, with its key (PEM). */
export interface TestCertificate {
  key: string;
  cert: string;
}

/**
 * Makes a self-signed certificate with `openssl` (valid one day). Throws,
 * saying how to install it, when `openssl` is missing.
 */
export async function makeCertificate(): Promise<TestCertificate> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'neko-tls-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=DNS:localhost,IP:127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
    } catch (err) {
      throw new Error(
        `the TLS tests make their certificate with openssl, which failed: ${(err as Error).message}. ` +
          'Install it (Debian/Ubuntu: apt-get install -y openssl).',
        { cause: err },
      );
    }
    return { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The first bytes a TLS client sends (its ClientHello), caught by a plain
 * TCP listener: written to a TLS server by hand, they start a handshake
 * that the writer then never finishes.
 */
export async function clientHello(): Promise<Buffer> {
  const listener = createServer();
  const first = new Promise<Buffer>((resolve) => {
    listener.once('connection', (socket) => {
      socket.once('data', (chunk: Buffer) => {
        resolve(chunk);
        socket.destroy();
      });
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as AddressInfo;
  const client = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false });
  client.on('error', () => {
    // The listener hangs up after the ClientHello.
  });
  try {
    return await first;
  } finally {
    client.destroy();
    listener.close();
  }
}
