import { readFile, stat } from 'node:fs/promises';
import { NekoError } from '../errors.js';

/** The environment variable the secret is read from. */
export const SECRET_ENV = 'NEKOCONNECT_SECRET';

const HOW_TO_SET = `Set ${SECRET_ENV} (e.g. \`export ${SECRET_ENV}=$(openssl rand -hex 32)\`), or pass --secret-file <file>.`;

/**
 * The shared secret: from `--secret-file` when given (one line; the
 * trailing line break is dropped), else from `NEKOCONNECT_SECRET`.
 *
 * `NEKOCONNECT_SECRET` is removed from `env` as it is read (also when
 * `--secret-file` wins over it), so that the child processes the server or
 * a plugin spawns do not inherit it. A process that needs the secret later
 * gets it over IPC, never through the environment.
 *
 * @param warn receives `NEKO_ERR_CONFIG_SECRET_READABLE` when the secret
 *   file may be read by its group or by other users (see
 *   {@link checkSecretFileMode}); the secret is read all the same
 */
export async function readSecret(
  secretFile: string | undefined,
  env = process.env,
  warn: (warning: NekoError) => void = () => undefined,
): Promise<string> {
  const fromEnv = env[SECRET_ENV];
  delete env[SECRET_ENV];
  if (secretFile !== undefined) {
    let text: string;
    try {
      text = await readFile(secretFile, 'utf8');
    } catch (err) {
      throw new NekoError(
        'NEKO_ERR_CONFIG_SECRET_FILE',
        `cannot read the secret file ${secretFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        { cause: err, hint: HOW_TO_SET },
      );
    }
    const secret = text.replace(/\r?\n$/, '');
    if (secret.length === 0) {
      throw new NekoError('NEKO_ERR_CONFIG_SECRET_FILE', `the secret file ${secretFile} is empty`, {
        hint: HOW_TO_SET,
      });
    }
    const readable = await checkSecretFileMode(secretFile);
    if (readable !== undefined) warn(readable);
    return secret;
  }
  const secret = fromEnv;
  if (secret === undefined || secret === '') {
    throw new NekoError(
      'NEKO_ERR_CONFIG_NO_SECRET',
      'no shared secret: the server refuses to start without one',
      {
        hint: HOW_TO_SET,
      },
    );
  }
  return secret;
}

/**
 * The warning for a secret file that its group or other users may read
 * (any of the mode bits 0077 set): whoever reads it can authenticate as any
 * client. Undefined when only its owner may (0600, 0400), and on systems
 * without Unix modes (Windows).
 */
export async function checkSecretFileMode(secretFile: string): Promise<NekoError | undefined> {
  if (process.platform === 'win32') return undefined;
  let mode: number;
  try {
    mode = (await stat(secretFile)).mode & 0o777;
  } catch {
    return undefined;
  }
  if ((mode & 0o077) === 0) return undefined;
  const who = (mode & 0o007) !== 0 ? 'any user of this machine' : 'the users of its group';
  return new NekoError(
    'NEKO_ERR_CONFIG_SECRET_READABLE',
    `the secret file ${secretFile} may be read or changed by ${who} (mode ${mode.toString(8).padStart(4, '0')}): ` +
      'whoever reads it can authenticate as any client',
    { hint: `chmod 600 ${secretFile}` },
  );
}
