/**
 * The development secret: when no secret is given, `nekoconnect dev` makes
 * one, keeps it in `.nekoconnect/dev-secret` (so clients keep working across
 * restarts) and prints it with a snippet to paste into a client.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { NekoError } from '../errors.js';
import { errorMessage } from '../format.js';
import { DEFAULT_HOST } from '../server/options.js';

/** Where the development secret is kept, relative to the working directory. */
export const DEV_SECRET_FILE = path.join('.nekoconnect', 'dev-secret');

/** A development secret and where it is kept. */
export interface DevSecret {
  secret: string;
  /** The file it is kept in, absolute. */
  file: string;
  /** True when this call made it. */
  created: boolean;
}

/**
 * Reads the development secret of `dir` (`<dir>/.nekoconnect/dev-secret`),
 * or makes one and writes it there (readable by the owner only).
 *
 * @throws NekoError `NEKO_ERR_DEV_SECRET` when the file cannot be read or written
 */
export async function developmentSecret(dir: string): Promise<DevSecret> {
  const file = path.resolve(dir, DEV_SECRET_FILE);
  try {
    const secret = (await readFile(file, 'utf8')).trim();
    if (secret !== '') return { secret, file, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw secretError(file, 'read', err);
  }
  const secret = `dev-${randomBytes(16).toString('hex')}`;
  try {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(file, `${secret}\n`, { mode: 0o600 });
  } catch (err) {
    throw secretError(file, 'write', err);
  }
  return { secret, file, created: true };
}

/** What {@link clientSnippet} needs to know of the server. */
export interface SnippetOptions {
  host: string;
  port: number;
  tls: boolean;
  /** The development secret, written out; undefined when the secret comes from the environment. */
  secret: string | undefined;
  /** A greeter to send to in the example. */
  greeter: string;
}

/**
 * A client to paste: plain JavaScript that runs as it is printed, saved as a
 * `.mjs` file (top-level await, `nekoconnect/client`), in a folder where
 * `nekoconnect` is installed. It connects, sends one packet to the greeter,
 * prints the answer and closes, so the process ends. A server listening on
 * every address (`0.0.0.0`, `::`) is reached on the default host.
 */
export function clientSnippet(options: SnippetOptions): string {
  const host = WILDCARD_HOSTS.has(options.host) ? DEFAULT_HOST : options.host;
  const fields = [
    ...(host === DEFAULT_HOST ? [] : [`host: ${quote(host)}`]),
    `port: ${options.port}`,
    options.secret === undefined
      ? 'secret: process.env.NEKOCONNECT_SECRET'
      : `secret: ${quote(options.secret)}`,
    ...(options.tls ? ['tls: true'] : []),
  ];
  return [
    "import { connect } from 'nekoconnect/client';",
    `const client = await connect({ ${fields.join(', ')} });`,
    `const reply = await client.request(${quote(options.greeter)}, 'hello');`,
    'console.log(reply.text());',
    'await client.close();',
  ].join('\n');
}

/** Listening addresses that mean "every interface": a client cannot connect to them everywhere. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

/** A single-quoted JavaScript string. */
function quote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function secretError(file: string, what: 'read' | 'write', err: unknown): NekoError {
  return new NekoError(
    'NEKO_ERR_DEV_SECRET',
    `cannot ${what} the development secret ${file}: ${errorMessage(err)}`,
    {
      cause: err,
      hint: 'set NEKOCONNECT_SECRET or pass --secret-file <file>, or check the permissions of .nekoconnect/',
    },
  );
}
