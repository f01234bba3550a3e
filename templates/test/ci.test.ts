import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { addCiWorkflow, CI_WORKFLOW_FILE, createPlop } from '../src/index.js';
import { tempDir } from './helpers/dirs.js';

interface Workflow {
  name: string;
  on: Record<string, unknown>;
  jobs: {
    test: {
      name: string;
      'runs-on': string;
      strategy: { 'fail-fast': boolean; matrix: { node: number[] } };
      steps: Array<{ name?: string; uses?: string; run?: string; with?: Record<string, unknown> }>;
    };
  };
}

async function workflow(dir: string): Promise<Workflow> {
  return parse(await readFile(join(dir, CI_WORKFLOW_FILE), 'utf8')) as Workflow;
}

describe('the ci generator', () => {
  it('with a lockfile: npm ci, npm cached; on push and pull request, Node 20 and 22', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'dice'));
    await writeFile(join(root, 'dice', 'package-lock.json'), '{}');
    const { files } = await addCiWorkflow({ destBasePath: root, dir: 'dice', name: 'Dice' });
    expect(files).toEqual([`dice/${CI_WORKFLOW_FILE}`]);
    const text = await readFile(join(root, 'dice', CI_WORKFLOW_FILE), 'utf8');
    expect(text).toMatch(/^# CI of Dice: /);
    const ci = await workflow(join(root, 'dice'));
    expect(Object.keys(ci.on)).toEqual(['push', 'pull_request']);
    expect(ci.jobs.test.name).toBe('Node ${{ matrix.node }}');
    expect(ci.jobs.test.strategy).toEqual({ 'fail-fast': false, matrix: { node: [20, 22] } });
    expect(ci.jobs.test.steps).toEqual([
      { uses: 'actions/checkout@v4' },
      { uses: 'actions/setup-node@v4', with: { 'node-version': '${{ matrix.node }}', cache: 'npm' } },
      { name: 'Install', run: 'npm ci' },
      { name: 'Validate', run: 'npm run validate -- --reporter github' },
      { name: 'Test', run: 'npm test -- --reporter=default --reporter=github-actions' },
    ]);
  });

  it('without a lockfile: npm install and no cache (setup-node would fail looking for one)', async () => {
    const root = await tempDir();
    await addCiWorkflow({ destBasePath: root, dir: '.', name: 'Dice' });
    const steps = (await workflow(root)).jobs.test.steps;
    expect(steps[1]).toEqual({
      uses: 'actions/setup-node@v4',
      with: { 'node-version': '${{ matrix.node }}' },
    });
    expect(steps[2]).toEqual({ name: 'Install', run: 'npm install' });
    // An explicit answer wins over what the folder holds.
    const other = await tempDir();
    await addCiWorkflow({ destBasePath: other, dir: '.', name: 'Dice', lockfile: true });
    expect((await workflow(other)).jobs.test.steps[2]).toEqual({ name: 'Install', run: 'npm ci' });
  });

  it('refuses to replace an existing workflow unless forced', async () => {
    const root = await tempDir();
    await mkdir(join(root, '.github', 'workflows'), { recursive: true });
    await writeFile(join(root, CI_WORKFLOW_FILE), 'name: mine\n');
    await expect(addCiWorkflow({ destBasePath: root, dir: '.', name: 'Dice' })).rejects.toMatchObject({
      code: 'NEKO_ERR_TEMPLATES_GENERATE',
    });
    expect(await readFile(join(root, CI_WORKFLOW_FILE), 'utf8')).toBe('name: mine\n');
    await addCiWorkflow({ destBasePath: root, dir: '.', name: 'Dice', force: true });
    expect((await workflow(root)).name).toBe('CI');
  });

  it('runs through plop with answers given on the command line', async () => {
    const root = await tempDir();
    const generator = (await createPlop({ destBasePath: root })).getGenerator('ci');
    const answers = await generator.runPrompts(['proj', 'Dice', 'false']);
    const { failures } = await generator.runActions(answers);
    expect(failures).toEqual([]);
    expect(existsSync(join(root, 'proj', CI_WORKFLOW_FILE))).toBe(true);
    expect((await workflow(join(root, 'proj'))).jobs.test.steps[2]!.run).toBe('npm install');
  });
});
