import { mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createValidator, type Validator } from '../../src/validate/index.js';
import { REPO_ROOT, assertBuilt } from '../cli/run-cli.js';
import { FIXTURES, copyPlugin, tempProject } from './helpers.js';

beforeAll(assertBuilt);

function warmValidator(): Validator {
  const validator = createValidator();
  onTestFinished(() => validator.dispose());
  return validator;
}

/** Writes `file` and moves its mtime forward, so the change is seen even within one clock tick. */
async function edit(file: string, text: string): Promise<void> {
  await writeFile(file, text);
  const later = new Date(Date.now() + 5_000);
  await utimes(file, later, later);
}

describe('a warm validator', () => {
  it('re-validates after an edit: a type error appears at its position, then goes away', async () => {
    const project = await tempProject();
    const plugin = await copyPlugin(join(REPO_ROOT, 'plugins', 'echo'), project, 'echo');
    const logic = join(plugin, 'logic.ts');
    const original = await readFile(logic, 'utf8');
    const validator = warmValidator();
    expect((await validator.validate(plugin)).problems).toEqual([]);

    await edit(logic, `${original}const broken: number = 'one';\n`);
    validator.update(logic);
    const lines = original.split('\n').length;
    const broken = await validator.validate(plugin);
    expect(broken.problems.map((p) => [p.code, p.tsCode, p.location?.line, p.location?.column])).toEqual([
      ['NEKO_ERR_VALIDATE_TYPESCRIPT', 2322, lines, 7],
    ]);

    await edit(logic, original);
    validator.update(logic);
    expect((await validator.validate(plugin)).problems).toEqual([]);
  });

  it('notices an edited plugin file without update() (its mtime changed)', async () => {
    const project = await tempProject();
    const plugin = await copyPlugin(join(REPO_ROOT, 'plugins', 'echo'), project, 'echo');
    const validator = warmValidator();
    expect((await validator.validate(plugin)).problems).toEqual([]);
    await edit(join(plugin, 'logic.ts'), 'export class Logic {\n  recv(ctx: string): void {}\n}\n');
    const report = await validator.validate(plugin);
    expect(
      report.problems.map((p) => [p.code, p.location?.file, p.location?.line, p.location?.column]),
    ).toEqual([['NEKO_ERR_VALIDATE_RECV_PARAM', join(plugin, 'logic.ts'), 2, 13]]);
  });

  it('picks up a file created after the import that needs it failed', async () => {
    const project = await tempProject();
    const plugin = await copyPlugin(join(REPO_ROOT, 'plugins', 'echo'), project, 'echo');
    const logic = join(plugin, 'logic.ts');
    await edit(
      logic,
      "import type { Context } from 'nekoconnect';\nimport { shout } from './shout.js';\n\nexport class Logic {\n  recv(ctx: Context): void {\n    ctx.send(shout(ctx.text()));\n  }\n}\n",
    );
    const validator = warmValidator();
    const missing = await validator.validate(plugin);
    expect(missing.problems.map((p) => p.tsCode)).toEqual([2307]);

    const helper = join(plugin, 'shout.ts');
    await writeFile(
      helper,
      'export function shout(text: string): string {\n  return text.toUpperCase();\n}\n',
    );
    validator.update(helper);
    expect((await validator.validate(plugin)).problems).toEqual([]);
  });

  it('follows spec.conf and the logic file appearing and disappearing', async () => {
    const project = await tempProject();
    const plugin = await copyPlugin(join(REPO_ROOT, 'plugins', 'echo'), project, 'echo');
    const validator = warmValidator();
    expect((await validator.validate(plugin)).problems).toEqual([]);

    const spec = join(plugin, 'spec.conf');
    await edit(spec, '$name {"Echo"};\n$greet {"echo"};\n$logic {"logic"};\n$version {"one"};\n');
    expect((await validator.validate(plugin)).problems.map((p) => p.code)).toEqual([
      'NEKO_ERR_VALIDATE_VERSION',
    ]);

    await rm(join(plugin, 'logic.ts'));
    validator.update(join(plugin, 'logic.ts'));
    // In file order: $logic comes before $version.
    expect((await validator.validate(plugin)).problems.map((p) => p.code)).toEqual([
      'NEKO_ERR_PLUGIN_LOGIC_NOT_FOUND',
      'NEKO_ERR_VALIDATE_VERSION',
    ]);
  });

  it('checks each plugin of a directory with its own tsconfig.json next to plugins without one', async () => {
    const project = await tempProject();
    await copyPlugin(join(REPO_ROOT, 'plugins', 'echo'), project, 'echo');
    await copyPlugin(join(FIXTURES, 'with-tsconfig'), project, 'strict');
    const validator = warmValidator();
    const report = await validator.validate(project);
    expect(report.plugins.map((p) => [p.spec?.greeter, p.problems.map((q) => q.tsCode)])).toEqual([
      ['echo', []],
      ['with-tsconfig', [6133]],
    ]);
  });

  it('cannot be used after dispose()', async () => {
    const validator = createValidator();
    validator.dispose();
    await expect(validator.validate(join(REPO_ROOT, 'plugins'))).rejects.toMatchObject({
      code: 'NEKO_ERR_VALIDATE_DISPOSED',
    });
  });
});

describe('the contract comes from the nekoconnect the plugin sees', () => {
  it('a nekoconnect without the Context types: NEKO_ERR_VALIDATE_CONTRACT, and recv is not checked against it', async () => {
    const project = await tempProject({ nekoconnect: false });
    const fake = join(project, 'node_modules', 'nekoconnect');
    await mkdir(fake, { recursive: true });
    await writeFile(
      join(fake, 'package.json'),
      JSON.stringify({
        name: 'nekoconnect',
        version: '0.0.1',
        type: 'module',
        exports: { '.': { types: './index.d.ts' } },
      }),
    );
    await writeFile(join(fake, 'index.d.ts'), 'export interface Packet {\n  op: number;\n}\n');
    const plugin = await copyPlugin(join(FIXTURES, 'recv-param-string'), project, 'old');
    const report = await warmValidator().validate(plugin);
    expect(report.problems.map((p) => p.code)).toEqual(['NEKO_ERR_VALIDATE_CONTRACT']);
    expect(report.problems[0]?.message).toContain(join(fake, 'index.d.ts').split('\\').join('/'));
  });

  it('the Context of the installed nekoconnect is what recv is checked against', async () => {
    const project = await tempProject({ nekoconnect: false });
    const fake = join(project, 'node_modules', 'nekoconnect');
    await mkdir(fake, { recursive: true });
    await writeFile(
      join(fake, 'package.json'),
      JSON.stringify({ name: 'nekoconnect', types: './index.d.ts' }),
    );
    // In this version, the Context is a string: recv(ctx: string) fits it.
    await writeFile(
      join(fake, 'index.d.ts'),
      'export type Context = string;\nexport type PluginContext = string;\nexport type SessionContext = string;\n',
    );
    const plugin = await copyPlugin(join(FIXTURES, 'recv-param-string'), project, 'odd');
    expect((await warmValidator().validate(plugin)).problems).toEqual([]);
  });
});
