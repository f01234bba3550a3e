import { readFile } from 'node:fs/promises';
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
 */
export async function readSecret(secretFile: string | undefined, env = process.env): Promise<string> {
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
