import { createHash } from 'node:crypto';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packPlugin } from '../../src/pack/index.js';
import {
  PACKAGE_ENTRIES,
  nekoconnectVersion,
  packageOps,
  packageSpec,
  readPackage,
  satisfiesRange,
  verifyPackage,
} from '../../src/plugins/package.js';
import { tempDir, writeGreetPlugin, zipEntries } from './helpers.js';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('nekoconnect pack: the package', () => {
  it('holds spec.conf, the bundled logic with its map, ops.json and a manifest hashing every entry', async () => {
    const dir = await writeGreetPlugin(await tempDir());
    const out = await tempDir();
    const steps: string[] = [];
    const result = await packPlugin({ dir, outDir: out, onStep: (s) => steps.push(s) });

    expect(steps).toEqual(['spec', 'bundle', 'ops', 'write']);
    expect(result.file).toBe(path.join(out, 'greet-1.2.3.ncp'));
    const bytes = await readFile(result.file);
    expect(result.size).toBe(bytes.length);
    expect(result.sha256).toBe(sha256(bytes));

    const entries = await zipEntries(result.file);
    expect([...entries.keys()]).toEqual([...PACKAGE_ENTRIES]);
    const manifest = JSON.parse(entries.get('manifest.json')!.toString('utf8'));
    expect(manifest).toMatchObject({
      format: 1,
      plugin: { name: 'Greet', greeter: 'greet', version: '1.2.3', logic: 'logic' },
      nekoconnect: `^${nekoconnectVersion()}`,
    });
    expect(Object.keys(manifest.entries)).toEqual(['spec.conf', 'logic.mjs', 'logic.mjs.map', 'ops.json']);
    for (const [name, listed] of Object.entries(
      manifest.entries as Record<string, { size: number; sha256: string }>,
    )) {
      const data = entries.get(name)!;
      expect(listed, name).toEqual({ size: data.length, sha256: sha256(data) });
    }
    expect(entries.get('spec.conf')!.toString()).toBe(await readFile(path.join(dir, 'spec.conf'), 'utf8'));

    // The dependency and the sibling file are bundled in; nekoconnect stays an import for the server to provide.
    const logic = entries.get('logic.mjs')!.toString('utf8');
    expect(logic).toContain('toUpperCase');
    expect(logic).toContain('return text + "!"');
    expect(logic).toMatch(/import \{ isNekoError \} from "nekoconnect";/);
    expect(logic).not.toMatch(/tiny-shout"|from "\.\/lib/);
    expect(logic).toMatch(/\/\/# sourceMappingURL=logic\.mjs\.map\n$/);
    const map = JSON.parse(entries.get('logic.mjs.map')!.toString('utf8'));
    expect(map.version).toBe(3);
    expect(map.sources).toEqual(
      expect.arrayContaining(['logic.ts', 'lib/exclaim.ts', 'node_modules/tiny-shout/index.js']),
    );
    expect(map.sourcesContent[map.sources.indexOf('logic.ts')]).toBe(
      await readFile(path.join(dir, 'logic.ts'), 'utf8'),
    );

    expect(JSON.parse(entries.get('ops.json')!.toString('utf8'))).toEqual({
      ops: [
        { name: 'Hello', op: 1, doc: 'data: a name; answers `HELLO, <NAME>!`' },
        { name: 'Boom', op: 2, doc: 'throws, for the stack trace' },
      ],
    });
    expect(result.entries.map((e) => e.name)).toEqual([...PACKAGE_ENTRIES]);

    // The reader agrees with the writer.
    const pkg = await readPackage(result.file);
    expect(pkg.sha256).toBe(result.sha256);
    expect(packageSpec(pkg).greeter).toBe('greet');
    expect(() => verifyPackage(pkg)).not.toThrow();
    expect(packageOps(pkg).ops.map((op) => op.name)).toEqual(['Hello', 'Boom']);
  });

  it('is reproducible: the same sources give the same bytes, whenever and wherever they are packed', async () => {
    const first = await writeGreetPlugin(await tempDir());
    const a = await packPlugin({ dir: first, outDir: await tempDir() });
    // Another folder, files touched later: the same package.
    const second = await writeGreetPlugin(await tempDir());
    const later = new Date(Date.now() + 3_600_000);
    await utimes(path.join(second, 'logic.ts'), later, later);
    const b = await packPlugin({ dir: second, outDir: await tempDir() });
    expect(b.sha256).toBe(a.sha256);
    expect(await readFile(b.file)).toEqual(await readFile(a.file));
    // A change of the source is a change of the package.
    await writeFile(
      path.join(second, 'lib', 'exclaim.ts'),
      'export const exclaim = (t: string): string => t + "!!";\n',
    );
    const c = await packPlugin({ dir: second, outDir: await tempDir() });
    expect(c.sha256).not.toBe(a.sha256);
  });

  it('writes ops.json with the reason when the logic has no Op table', async () => {
    const dir = await writeGreetPlugin(await tempDir(), {
      logic:
        "import type { Context } from 'nekoconnect';\nexport class Logic { recv(ctx: Context) { ctx.send(ctx.data); } }\n",
    });
    const result = await packPlugin({ dir, outDir: dir });
    expect(result.ops).toEqual({
      ops: [],
      reason: 'logic.ts exports no Op table (export const Op = { … } as const)',
    });
    const entries = await zipEntries(result.file);
    expect(JSON.parse(entries.get('ops.json')!.toString('utf8'))).toEqual(result.ops);
  });

  it('fails with coded errors naming the file and the fix', async () => {
    const empty = await tempDir();
    await expect(packPlugin({ dir: empty, outDir: empty })).rejects.toMatchObject({
      code: 'NEKO_ERR_SPEC_READ',
      message: expect.stringContaining(path.join(empty, 'spec.conf')),
    });

    const broken = await writeGreetPlugin(await tempDir(), {
      logic: 'export class Logic {\n  recv(ctx) {\n    ctx.send(;\n  }\n}\n',
    });
    await expect(packPlugin({ dir: broken, outDir: broken })).rejects.toMatchObject({
      code: 'NEKO_ERR_PACK_BUNDLE',
      location: { file: path.join(broken, 'logic.ts'), line: 3, column: 14 },
      hint: expect.stringContaining('fix the error at this location'),
    });

    const missing = await writeGreetPlugin(await tempDir(), {
      logic: "import { nothing } from 'no-such-package';\nexport class Logic { recv() { nothing(); } }\n",
    });
    await expect(packPlugin({ dir: missing, outDir: missing })).rejects.toMatchObject({
      code: 'NEKO_ERR_PACK_BUNDLE',
      location: { file: path.join(missing, 'logic.ts'), line: 1 },
      hint: expect.stringContaining('npm install'),
    });

    const dir = await writeGreetPlugin(await tempDir());
    const notAFolder = path.join(dir, 'spec.conf');
    await expect(packPlugin({ dir, outDir: notAFolder })).rejects.toMatchObject({
      code: 'NEKO_ERR_PACK_WRITE',
      message: expect.stringContaining(path.join(notAFolder, 'greet-1.2.3.ncp')),
      hint: expect.stringContaining('--out-dir'),
    });

    const badOp = await writeGreetPlugin(await tempDir(), {
      logic: 'export const Op = {\n  Fine: 1,\n  Bad: -3,\n} as const;\nexport class Logic { recv() {} }\n',
    });
    await expect(packPlugin({ dir: badOp, outDir: badOp })).rejects.toMatchObject({
      code: 'NEKO_ERR_VALIDATE_OP',
      location: { file: path.join(badOp, 'logic.ts'), line: 3 },
    });
  });
});

describe('satisfiesRange', () => {
  it('reads ^, ~ and exact versions as npm does for them', () => {
    expect(satisfiesRange('0.1.0', '^0.1.0')).toBe(true);
    expect(satisfiesRange('0.1.7', '^0.1.0')).toBe(true);
    expect(satisfiesRange('0.2.0', '^0.1.0')).toBe(false);
    expect(satisfiesRange('0.0.9', '^0.1.0')).toBe(false);
    expect(satisfiesRange('1.4.0', '^1.2.0')).toBe(true);
    expect(satisfiesRange('2.0.0', '^1.2.0')).toBe(false);
    expect(satisfiesRange('1.1.9', '^1.2.0')).toBe(false);
    expect(satisfiesRange('0.0.3', '^0.0.3')).toBe(true);
    expect(satisfiesRange('0.0.4', '^0.0.3')).toBe(false);
    expect(satisfiesRange('1.2.9', '~1.2.3')).toBe(true);
    expect(satisfiesRange('1.3.0', '~1.2.3')).toBe(false);
    expect(satisfiesRange('1.2.3', '1.2.3')).toBe(true);
    expect(satisfiesRange('1.2.4', '1.2.3')).toBe(false);
    expect(satisfiesRange('0.1.0-beta.1', '^0.1.0')).toBe(true);
    expect(satisfiesRange('0.1.0', '>=0.1.0')).toBeUndefined();
  });
});
