/**
 * Checking TLS material before a server binds or opens anything: the key is
 * a private key, the certificate a certificate, and the two belong together.
 * Each problem has its own code and a fix, instead of an OpenSSL stack at
 * the first connection.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { NekoError } from '../errors.js';
import { errorMessage } from '../format.js';
import type { TlsOptions } from '../server/options.js';

/** Where the key and certificate came from, as messages name them. */
export interface TlsSources {
  key: string;
  cert: string;
}

/**
 * Checks a PEM key and certificate.
 *
 * @throws NekoError `NEKO_ERR_CONFIG_TLS_KEY` (not a PEM private key, or an
 *   encrypted one), `NEKO_ERR_CONFIG_TLS_CERT` (not a PEM certificate),
 *   `NEKO_ERR_CONFIG_TLS_MISMATCH` (the certificate is not the key's)
 */
export function checkTlsMaterial(tls: TlsOptions, from: TlsSources): void {
  let key: KeyObject;
  try {
    key = createPrivateKey(tls.key);
  } catch (err) {
    const encrypted = /passphrase|encrypted/i.test(errorMessage(err)) || /ENCRYPTED/.test(tls.key.toString());
    throw new NekoError(
      'NEKO_ERR_CONFIG_TLS_KEY',
      encrypted
        ? `the TLS key ${from.key} is encrypted with a passphrase, which the server cannot type in`
        : `the TLS key ${from.key} is not a PEM private key`,
      {
        cause: err,
        hint: encrypted
          ? `decrypt it once (openssl pkey -in ${from.key} -out key.pem) and keep the result readable only by the server's user (chmod 600)`
          : `give the private key file (it starts with -----BEGIN PRIVATE KEY----- or -----BEGIN EC/RSA PRIVATE KEY-----); swapped --tls-key and --tls-cert?`,
      },
    );
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(tls.cert);
  } catch (err) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_TLS_CERT',
      `the TLS certificate ${from.cert} is not a PEM certificate`,
      {
        cause: err,
        hint: 'give the certificate file (it starts with -----BEGIN CERTIFICATE-----), followed by its chain if any',
      },
    );
  }
  if (!cert.checkPrivateKey(key)) {
    throw new NekoError(
      'NEKO_ERR_CONFIG_TLS_MISMATCH',
      `the TLS certificate ${from.cert} (for ${cert.subject.replace(/\n/g, ', ')}) was not made for the key ${from.key}`,
      { hint: 'give the key the certificate was issued for, or the certificate issued for this key' },
    );
  }
}
