/**
 * The secret leaves the environment as soon as the server has read it, so the
 * child processes a plugin (or the server) spawns do not inherit it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SECRET_ENV, readSecret } from '../../src/config/secret.js';
import { connect } from '../../src/client/client.js';
import { resolveStartOptions } from '../../src/config/start-options.js';
import { assertBuilt, startCli } from '../cli/run-cli.js';
import { tempDir } from '../config/cli-in-dir.js';

const SECRET = 'canary-env-5d0c8e1a9b37-s3cr3t';

/** What a child process sees: the secret (or `absent`) and a control variable it should inherit. */
const CHILD_PROBE =
  "process.stdout.write((process.env.NEKOCONNECT_SECRET ?? 'absent') + ' ' + (process.env.NEKO_PROBE_MARKER ?? 'absent'))";

/** A plugin that spawns a child process in onLoad and in recv, and reports what the child saw. */
const PROBE_LOGIC = `import { execFile, execFileSync } from 'node:child_process';

const PROBE = ${JSON.stringify(CHILD_PROBE)};

export class Logic {
  onLoad(plugin: { log(message: string): void }): void {
    const seen = execFileSync(process.execPath, ['-e', PROBE], { encoding: 'utf8' });
    plugin.log(\`onLoad child saw: \${seen}\`);
  }

  async recv(ctx: { send(data: string): void }): Promise<void> {
    const seen = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['-e', PROBE], { encoding: 'utf8' }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    ctx.send(JSON.stringify({ child: seen, plugin: process.env.NEKOCONNECT_SECRET ?? 'absent' }));
  }
}
`;

describe('the secret is removed from the environment once read', () => {
  beforeAll(assertBuilt);

  it('so a child process a plugin spawns from nekoconnect start does not inherit it', async () => {
    const dir = await tempDir('neko-secret-env-');
    const plugin = path.join(dir, 'plugins', 'probe');
    await mkdir(plugin, { recursive: true });
    await writeFile(
      path.join(plugin, 'spec.conf'),
      '$name {"Probe"};\n$greet {"probe"};\n$logic {"logic"};\n$version {"1.0.0"};\n',
    );
    await writeFile(path.join(plugin, 'logic.ts'), PROBE_LOGIC);

    const cli = startCli(
      ['start', path.join(dir, 'plugins'), '--port', '0', '--data-dir', path.join(dir, 'data')],
      { NEKOCONNECT_SECRET: SECRET, NEKO_PROBE_MARKER: 'inherited' },
    );
    const [, fromOnLoad] = await cli.waitFor(/onLoad child saw: (\S+ \S+)/);
    // The child inherits the rest of the environment; only the secret is gone.
    expect(fromOnLoad).toBe('absent inherited');

    const [, port] = await cli.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
    const client = await connect({ secret: SECRET, port: Number(port) });
    const reply = (await client.request('probe', '')).json();
    await client.close();
    expect(reply).toEqual({ child: 'absent inherited', plugin: 'absent' });

    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
    expect(cli.stdout() + cli.stderr()).not.toContain(SECRET);
  });

  it('by readSecret, from the env object it was given', async () => {
    const env: NodeJS.ProcessEnv = { [SECRET_ENV]: SECRET, OTHER: 'kept' };
    expect(await readSecret(undefined, env)).toBe(SECRET);
    expect(env).toEqual({ OTHER: 'kept' });
  });

  it('by readSecret, also when --secret-file is the one used', async () => {
    const dir = await tempDir('neko-secret-env-');
    const file = path.join(dir, 'secret');
    await writeFile(file, 'from-file\n');
    const env: NodeJS.ProcessEnv = { [SECRET_ENV]: SECRET };
    expect(await readSecret(file, env)).toBe('from-file');
    expect(SECRET_ENV in env).toBe(false);
  });

  it('by resolveStartOptions, from the env object it was given', async () => {
    const cwd = await tempDir('neko-secret-env-');
    const env: NodeJS.ProcessEnv = { [SECRET_ENV]: SECRET, OTHER: 'kept' };
    const resolved = await resolveStartOptions(cwd, { noConfig: true }, env);
    expect(resolved.serverOptions.secret).toBe(SECRET);
    expect(env).toEqual({ OTHER: 'kept' });
  });
});
