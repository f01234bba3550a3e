import { cp } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packPlugin } from '../../src/pack/pack.js';
import { validateTarget } from '../../src/validate/directory.js';
import { tempDir, writeGreetPlugin } from './helpers.js';

/** [file name, codes of its problems] for each plugin of a report. */
function codesByPlugin(report: Awaited<ReturnType<typeof validateTarget>>): [string, string[]][] {
  return report.plugins.map((p) => [path.basename(p.dir), p.problems.map((problem) => problem.code)]);
}

describe('validate on a plugins directory holding packages', () => {
  it('checks every package of a directory of packages, in name order', async () => {
    const plugins = await tempDir();
    await packPlugin({ dir: await writeGreetPlugin(await tempDir(), { greeter: 'zeta' }), outDir: plugins });
    await packPlugin({ dir: await writeGreetPlugin(await tempDir(), { greeter: 'alpha' }), outDir: plugins });

    const report = await validateTarget(plugins);
    expect(report.root).toBe(plugins);
    expect(codesByPlugin(report)).toEqual([
      ['alpha-1.2.3.ncp', []],
      ['zeta-1.2.3.ncp', []],
    ]);
    expect(report.errorCount).toBe(0);
    expect(report.plugins.map((p) => p.notes?.length)).toEqual([1, 1]);
  });

  it('checks folders and packages together, and a greeter claimed by both is an error on each', async () => {
    const plugins = await tempDir();
    const source = await writeGreetPlugin(await tempDir());
    await packPlugin({ dir: source, outDir: plugins });
    await packPlugin({ dir: await writeGreetPlugin(await tempDir(), { greeter: 'other' }), outDir: plugins });
    await cp(source, path.join(plugins, 'greet-src'), { recursive: true });

    const report = await validateTarget(plugins);
    const byName = new Map(codesByPlugin(report));
    expect([...byName.keys()]).toEqual(['greet-1.2.3.ncp', 'greet-src', 'other-1.2.3.ncp']);
    expect(byName.get('greet-1.2.3.ncp')).toEqual(['NEKO_ERR_PLUGIN_DUPLICATE_GREETER']);
    expect(byName.get('greet-src')).toContain('NEKO_ERR_PLUGIN_DUPLICATE_GREETER');
    expect(byName.get('other-1.2.3.ncp')).toEqual([]);
    const duplicate = report.problems.find((p) => p.plugin.endsWith('.ncp'))!;
    expect(duplicate.message).toContain('greeter "greet" is declared by');
    expect(duplicate.message).toContain('greet-src');
    expect(report.errorCount).toBeGreaterThanOrEqual(2);
  });

  it('leaves a plugin folder alone: a .ncp inside it is not one of its plugins', async () => {
    const dir = await writeGreetPlugin(await tempDir());
    await packPlugin({ dir: await writeGreetPlugin(await tempDir(), { greeter: 'inner' }), outDir: dir });
    const report = await validateTarget(dir);
    expect(report.plugins.map((p) => p.dir)).toEqual([dir]);
  });
});
