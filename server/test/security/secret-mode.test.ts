/**
 * A secret file that its group or other users may read is warned about at
 * start (`NEKO_ERR_CONFIG_SECRET_READABLE`, naming the file and the fix);
 * the server starts all the same.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { checkSecretFileMode, readSecret } from '../../src/config/secret.js';
import { resolveStartOptions } from '../../src/config/start-options.js';
import type { NekoError } from '../../src/errors.js';
import { assertBuilt, startCli } from '../cli/run-cli.js';

const SECRET = 'mode-test-secret-4f2a';

async function secretFile(mode: number): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'neko-secret-mode-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'secret');
  await writeFile(file, `${SECRET}\n`);
  await chmod(file, mode);
  return file;
}

describe('the mode of the secret file', () => {
  it('is fine when only its owner may read it', async () => {
    for (const mode of [0o600, 0o400]) {
      const file = await secretFile(mode);
      expect(await checkSecretFileMode(file)).toBeUndefined();
      const warnings: NekoError[] = [];
      expect(await readSecret(file, {}, (w) => warnings.push(w))).toBe(SECRET);
      expect(warnings).toEqual([]);
    }
  });

  it('is warned about when its group or every user may read it; the secret is read all the same', async () => {
    const group = await secretFile(0o640);
    const warnings: NekoError[] = [];
    expect(await readSecret(group, {}, (w) => warnings.push(w))).toBe(SECRET);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.code).toBe('NEKO_ERR_CONFIG_SECRET_READABLE');
    expect(warnings[0]?.message).toBe(
      `the secret file ${group} may be read or changed by the users of its group (mode 0640): whoever reads it can authenticate as any client`,
    );
    expect(warnings[0]?.hint).toBe(`chmod 600 ${group}`);

    const everyone = await secretFile(0o644);
    expect((await checkSecretFileMode(everyone))?.message).toBe(
      `the secret file ${everyone} may be read or changed by any user of this machine (mode 0644): whoever reads it can authenticate as any client`,
    );
    // Writable by the group is as bad: they could swap the secret.
    expect((await checkSecretFileMode(await secretFile(0o620)))?.code).toBe(
      'NEKO_ERR_CONFIG_SECRET_READABLE',
    );
  });

  it('reaches the start options as a warning', async () => {
    const file = await secretFile(0o644);
    const options = await resolveStartOptions(os.tmpdir(), { noConfig: true, secretFile: file }, {});
    expect(options.serverOptions.secret).toBe(SECRET);
    expect(options.warnings.map((w) => w.code)).toEqual(['NEKO_ERR_CONFIG_SECRET_READABLE']);
    const fine = await resolveStartOptions(
      os.tmpdir(),
      { noConfig: true, secretFile: await secretFile(0o600) },
      {},
    );
    expect(fine.warnings).toEqual([]);
  });
});

describe('nekoconnect start with a readable secret file', () => {
  beforeAll(assertBuilt);

  it('prints the warning with the fix, then serves', async () => {
    const file = await secretFile(0o644);
    const cli = startCli(['start', 'plugins', '--port', '0', '--no-dashboard', '--secret-file', file]);
    await cli.waitFor(/listening on/);
    expect(cli.stderr()).toContain(
      `warning NEKO_ERR_CONFIG_SECRET_READABLE the secret file ${file} may be read or changed by any user of this machine (mode 0644)`,
    );
    expect(cli.stderr()).toContain(`fix: chmod 600 ${file}`);
  });

  it('prints it as a JSON line with its code in JSON mode', async () => {
    const file = await secretFile(0o604);
    const cli = startCli([
      'start',
      'plugins',
      '--port',
      '0',
      '--no-dashboard',
      '--log-format',
      'json',
      '--secret-file',
      file,
    ]);
    await cli.waitFor(/listening on/);
    const lines = cli
      .stderr()
      .split('\n')
      .filter((line) => line.includes('NEKO_ERR_CONFIG_SECRET_READABLE'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      code: 'NEKO_ERR_CONFIG_SECRET_READABLE',
      message: `the secret file ${file} may be read or changed by any user of this machine (mode 0604): whoever reads it can authenticate as any client (fix: chmod 600 ${file})`,
    });
  });

  it('prints nothing of the kind for a 0600 file', async () => {
    const file = await secretFile(0o600);
    const cli = startCli(['start', 'plugins', '--port', '0', '--no-dashboard', '--secret-file', file]);
    await cli.waitFor(/listening on/);
    expect(cli.stderr()).not.toContain('NEKO_ERR_CONFIG_SECRET_READABLE');
  });
});
