import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, assertBuilt, runCli } from '../cli/run-cli.js';
import { rewritePackage, tempDir, writeGreetPlugin } from './helpers.js';

beforeAll(assertBuilt);

/** Runs the built CLI in `cwd`, to completion. */
function runIn(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd, env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout, stderr });
      },
    );
  });
}

describe('nekoconnect pack (the CLI)', () => {
  it('writes <greeter>-<version>.ncp into the current directory and says what it wrote, with progress', async () => {
    const plugin = await writeGreetPlugin(await tempDir());
    const cwd = await tempDir();
    const result = await runIn(cwd, ['pack', plugin]);
    expect(result.stderr).toBe(
      'reading spec.conf…\nbundling the logic…\nreading the Op table…\nwriting the package…\n',
    );
    expect(result.code).toBe(0);
    const file = path.join(cwd, 'greet-1.2.3.ncp');
    const bytes = await readFile(file);
    const sha = createHash('sha256').update(bytes).digest('hex');
    expect(result.stdout).toMatch(/^packed Greet v1\.2\.3 \(greeter "greet"\) in \d+ ms\n/);
    expect(result.stdout).toContain(`  greet-1.2.3.ncp  ${bytes.length} bytes\n`);
    expect(result.stdout).toContain(`  sha256 ${sha}\n`);
    expect(result.stdout).toMatch(/runs on NekoConnect \^\d+\.\d+\.\d+/);
    for (const entry of ['manifest.json', 'spec.conf', 'logic.mjs', 'logic.mjs.map', 'ops.json']) {
      expect(result.stdout).toMatch(new RegExp(`  ${entry.replace('.', '\\.')} +\\d+ bytes  [0-9a-f]{64}`));
    }
    expect(result.stdout).toContain('  2 ops');

    // The plugin folder by default is the current directory; --out-dir elsewhere; --json for programs.
    const out = path.join(await tempDir(), 'dist', 'packages');
    const json = await runIn(plugin, ['pack', '--out-dir', out, '--json']);
    expect(json.code).toBe(0);
    expect(json.stderr).toBe('');
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({
      file: path.join(out, 'greet-1.2.3.ncp'),
      size: bytes.length,
      sha256: sha,
      plugin: { name: 'Greet', greeter: 'greet', version: '1.2.3', logic: 'logic' },
      ops: {
        ops: [
          { name: 'Hello', op: 1 },
          { name: 'Boom', op: 2 },
        ],
      },
    });
    expect(report.entries.map((e: { name: string }) => e.name)).toEqual([
      'manifest.json',
      'spec.conf',
      'logic.mjs',
      'logic.mjs.map',
      'ops.json',
    ]);
    // Reproducible from the CLI too.
    expect(await readFile(report.file)).toEqual(bytes);
  });

  it('fails with the code, the file and the fix: no spec.conf, logic that does not bundle (with its code frame), an out dir it cannot write', async () => {
    const empty = await tempDir();
    const none = await runIn(empty, ['pack']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('NEKO_ERR_SPEC_READ');
    expect(none.stderr).toContain(path.join(empty, 'spec.conf'));

    const broken = await writeGreetPlugin(await tempDir(), {
      logic: 'export class Logic {\n  recv(ctx) {\n    ctx.send(;\n  }\n}\n',
    });
    const bad = await runIn(broken, ['pack']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${path.join(broken, 'logic.ts')}:3:14`);
    expect(bad.stderr).toContain('NEKO_ERR_PACK_BUNDLE');
    expect(bad.stderr).toMatch(/> 3 \|\s+ctx\.send\(;/);
    expect(bad.stderr).toContain('fix:');

    const plugin = await writeGreetPlugin(await tempDir());
    const blocker = path.join(await tempDir(), 'a-file');
    await writeFile(blocker, 'in the way\n');
    const write = await runIn(plugin, ['pack', '--out-dir', blocker]);
    expect(write.code).toBe(1);
    expect(write.stderr).toContain('NEKO_ERR_PACK_WRITE');
    expect(write.stderr).toContain(path.join(blocker, 'greet-1.2.3.ncp'));
    expect(write.stderr).toContain('--out-dir');

    const usage = await runIn(plugin, ['pack', 'a', 'b']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('NEKO_ERR_CLI_USAGE');
  });

  it('--help in the style of the other commands; the main help lists pack', async () => {
    const help = await runCli(['pack', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: nekoconnect pack \[plugin-dir\] \[options\]\n/);
    expect(help.stdout).toContain('<greeter>-<version>.ncp');
    expect(help.stdout).toMatch(/\n {6}--out-dir <dir> +write the package into this folder/);
    expect(help.stdout).toMatch(/\n {6}--json +print what was written/);
    expect(help.stdout).toMatch(/\n {2}-h, --help +show this help/);
    expect(help.stdout).toMatch(/Exit codes: 0 written, 1 failure/);
    const main = await runCli(['--help']);
    expect(main.stdout).toMatch(/\n {2}pack \[plugin-dir\] +write a plugin as one \.ncp package/);
  });
});

describe('nekoconnect validate <file.ncp>', () => {
  it('checks a good package (with the note that type checks need the sources) and finds what is wrong with bad ones', async () => {
    const plugin = await writeGreetPlugin(await tempDir());
    const dir = await tempDir();
    await runIn(plugin, ['pack', '--out-dir', dir]);
    const good = path.join(dir, 'greet-1.2.3.ncp');

    const ok = await runIn(dir, ['validate', 'greet-1.2.3.ncp']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/✓ greet +greet-1\.2\.3\.ncp/);
    expect(ok.stdout).toContain(
      'note: type checks (the Logic class against the Context contract, TypeScript) need the sources',
    );
    expect(ok.stdout).toMatch(/✓ 1 plugin valid/);
    const okJson = JSON.parse((await runIn(dir, ['validate', good, '--json'])).stdout);
    expect(okJson).toMatchObject({ ok: true, errorCount: 0, root: good, problems: [] });
    expect(okJson.plugins[0]).toMatchObject({ dir: good, greeter: 'greet', version: '1.2.3', ok: true });
    expect(okJson.plugins[0].notes[0]).toMatch(/need the sources/);

    const tampered = path.join(dir, 'tampered.ncp');
    await rewritePackage(good, tampered, {
      entry: (name, data) =>
        name === 'ops.json' ? Buffer.from(data.toString().replace('"Hello"', '"Hullo"')) : data,
      manifest: (m) => (m.nekoconnect = '^0.0.1'),
    });
    const bad = await runIn(dir, ['validate', tampered, '--json']);
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.stdout);
    expect(report.problems.map((p: { code: string; check: string }) => [p.check, p.code])).toEqual([
      ['checkHashes', 'NEKO_ERR_PACKAGE_HASH'],
      ['checkCompatible', 'NEKO_ERR_PACKAGE_INCOMPATIBLE'],
    ]);
    expect(report.problems[0].message).toContain('its ops.json does not match manifest.json');
    expect(report.problems[0].plugin).toBe(tampered);

    // A spec.conf problem inside a package: its place leads the message; the annotation points at the package.
    const specBroken = path.join(dir, 'spec.ncp');
    await rewritePackage(good, specBroken, {
      entry: (name, data) =>
        name === 'spec.conf' ? Buffer.from('$name {"Greet"};\n$greet {"gr eet"};\n') : data,
      manifest: (m) => {
        const entries = m.entries as Record<string, { size: number; sha256: string }>;
        const text = Buffer.from('$name {"Greet"};\n$greet {"gr eet"};\n');
        entries['spec.conf'] = { size: text.length, sha256: createHash('sha256').update(text).digest('hex') };
      },
    });
    const github = await runIn(dir, ['validate', 'spec.ncp', '--reporter', 'github']);
    expect(github.code).toBe(1);
    expect(github.stdout).toMatch(/^::error file=spec\.ncp,title=NEKO_ERR_SPEC_\w+::spec\.conf:\d+:\d+: /m);
    expect(github.stdout).toMatch(/^::notice file=spec\.ncp::type checks .* need the sources/m);

    const corrupt = path.join(dir, 'corrupt.ncp');
    await writeFile(corrupt, (await readFile(good)).subarray(0, 100));
    const text = await runIn(dir, ['validate', 'corrupt.ncp']);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('NEKO_ERR_PACKAGE_CORRUPT');
    expect(text.stdout).toContain(`the package ${corrupt} is corrupt`);
  });
});
