import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DEV_SECRET_FILE, clientSnippet, developmentSecret } from '../../src/dev/secret.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'neko-dev-secret-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('the development secret', () => {
  it('is made once, kept in .nekoconnect/dev-secret (owner only), and read back afterwards', async () => {
    const dir = await tempDir();
    const first = await developmentSecret(dir);
    const file = path.join(dir, DEV_SECRET_FILE);
    expect(first).toMatchObject({ file, created: true });
    expect(first.secret).toMatch(/^dev-[0-9a-f]{32}$/);
    expect(await readFile(file, 'utf8')).toBe(`${first.secret}\n`);
    if (process.platform !== 'win32') expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await developmentSecret(dir)).toEqual({ ...first, created: false });
  });

  it('makes a new one when the file is empty; names a file it cannot read (NEKO_ERR_DEV_SECRET)', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, '.nekoconnect'));
    await writeFile(path.join(dir, DEV_SECRET_FILE), '\n');
    expect((await developmentSecret(dir)).created).toBe(true);
    const blocked = await tempDir();
    await mkdir(path.join(blocked, DEV_SECRET_FILE), { recursive: true });
    await expect(developmentSecret(blocked)).rejects.toMatchObject({
      code: 'NEKO_ERR_DEV_SECRET',
      message: expect.stringContaining(path.join(blocked, DEV_SECRET_FILE)) as unknown,
    });
  });

  it('comes with a client snippet to paste', () => {
    expect(
      clientSnippet({ host: '127.0.0.1', port: 4000, tls: false, secret: "dev-'x", greeter: 'todo' }),
    ).toBe(
      [
        "import { connect } from 'nekoconnect/client';",
        "const client = await connect({ port: 4000, secret: 'dev-\\'x' });",
        "const reply = await client.request('todo', 'hello');",
        'console.log(reply.text());',
      ].join('\n'),
    );
    expect(
      clientSnippet({ host: '0.0.0.0', port: 1, tls: true, secret: undefined, greeter: 'echo' }),
    ).toContain("connect({ host: '0.0.0.0', port: 1, secret: process.env.NEKOCONNECT_SECRET!, tls: true })");
  });
});
