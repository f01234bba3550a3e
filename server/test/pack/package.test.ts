import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packPlugin } from '../../src/pack/index.js';
import { PACKAGE_LIMITS, packageSpec, readPackage, verifyPackage } from '../../src/plugins/package.js';
import { rewritePackage, tempDir, writeGreetPlugin, writeZip, zipEntries } from './helpers.js';

async function packed(): Promise<{ file: string; dir: string }> {
  const dir = await tempDir();
  const { file } = await packPlugin({ dir: await writeGreetPlugin(await tempDir()), outDir: dir });
  return { file, dir };
}

describe('reading a package', () => {
  it('refuses a file that is no zip, or a truncated one, as corrupt, naming the file', async () => {
    const { file, dir } = await packed();
    const garbage = path.join(dir, 'garbage.ncp');
    await writeFile(garbage, 'this is not a zip at all');
    await expect(readPackage(garbage)).rejects.toMatchObject({
      code: 'NEKO_ERR_PACKAGE_CORRUPT',
      message: expect.stringContaining(garbage),
    });
    const bytes = await readFile(file);
    const truncated = path.join(dir, 'truncated.ncp');
    await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await expect(readPackage(truncated)).rejects.toMatchObject({
      code: 'NEKO_ERR_PACKAGE_CORRUPT',
      message: expect.stringContaining(truncated),
    });
    // An entry's compressed bytes damaged in place: it does not inflate (or not to its hash).
    const damaged = Buffer.from(bytes);
    const at = damaged.indexOf(Buffer.from('logic.mjs')) + 40;
    damaged[at] = damaged[at]! ^ 0xff;
    const broken = path.join(dir, 'damaged.ncp');
    await writeFile(broken, damaged);
    const failure = await readPackage(broken).then(
      (pkg) => {
        verifyPackage(pkg);
        return undefined;
      },
      (err: unknown) => err,
    );
    expect((failure as { code?: string } | undefined)?.code).toMatch(/NEKO_ERR_PACKAGE_(CORRUPT|HASH)/);
  });

  it('finds a tampered entry by its hash, and a package for another NekoConnect by its range', async () => {
    const { file, dir } = await packed();
    const tampered = path.join(dir, 'tampered.ncp');
    await rewritePackage(file, tampered, {
      entry: (name, data) => {
        if (name !== 'logic.mjs') return data;
        const copy = Buffer.from(data);
        const at = copy.indexOf(Buffer.from('hello, '));
        copy[at] = 'j'.charCodeAt(0);
        return copy;
      },
    });
    const pkg = await readPackage(tampered);
    expect(() => verifyPackage(pkg)).toThrow(
      expect.objectContaining({
        code: 'NEKO_ERR_PACKAGE_HASH',
        message: expect.stringMatching(new RegExp(`${tampered}.*logic\\.mjs does not match manifest\\.json`)),
      }),
    );

    const old = path.join(dir, 'old.ncp');
    await rewritePackage(file, old, { manifest: (m) => (m.nekoconnect = '^9.0.0') });
    await expect(readPackage(old).then((p) => verifyPackage(p))).rejects.toMatchObject({
      code: 'NEKO_ERR_PACKAGE_INCOMPATIBLE',
      message: expect.stringContaining(`${old} was built for NekoConnect ^9.0.0; this server is`),
    });
  });

  it('checks the manifest: its shape, and that it names the plugin its spec.conf names', async () => {
    const { file, dir } = await packed();
    const renamed = path.join(dir, 'renamed.ncp');
    await rewritePackage(file, renamed, {
      manifest: (m) => ((m.plugin as { greeter: string }).greeter = 'other'),
    });
    const pkg = await readPackage(renamed);
    expect(() => packageSpec(pkg)).toThrow(expect.objectContaining({ code: 'NEKO_ERR_PACKAGE_MANIFEST' }));

    const newer = path.join(dir, 'newer.ncp');
    await rewritePackage(file, newer, { manifest: (m) => (m.format = 2) });
    await expect(readPackage(newer)).rejects.toMatchObject({
      code: 'NEKO_ERR_PACKAGE_MANIFEST',
      message: expect.stringContaining('newer than this server reads'),
    });

    const entries = await zipEntries(file);
    const extra = path.join(dir, 'extra.ncp');
    await writeZip(extra, [...entries, ['run-me.sh', Buffer.from('#!/bin/sh\n')]]);
    await expect(readPackage(extra)).rejects.toMatchObject({
      code: 'NEKO_ERR_PACKAGE_CORRUPT',
      message: expect.stringContaining('"run-me.sh"'),
    });
    const lacking = path.join(dir, 'lacking.ncp');
    await writeZip(
      lacking,
      [...entries].filter(([name]) => name !== 'ops.json'),
    );
    await expect(readPackage(lacking)).rejects.toMatchObject({
      code: 'NEKO_ERR_PACKAGE_CORRUPT',
      message: expect.stringContaining('it has no ops.json'),
    });
  });

  it('refuses a zip bomb before inflating it', async () => {
    const { file, dir } = await packed();
    const entries = await zipEntries(file);
    // 40 MiB of zeros deflate to a few kB: above the entry limit once inflated.
    const bomb = path.join(dir, 'bomb.ncp');
    entries.set('logic.mjs', Buffer.alloc(PACKAGE_LIMITS.maxEntryBytes + 8 * 1024 * 1024));
    await writeZip(bomb, entries);
    expect((await readFile(bomb)).length).toBeLessThan(200_000);
    await expect(readPackage(bomb)).rejects.toMatchObject({
      code: 'NEKO_ERR_PACKAGE_TOO_LARGE',
      message: expect.stringContaining(`${bomb} is refused: logic.mjs is`),
    });
  });
});
