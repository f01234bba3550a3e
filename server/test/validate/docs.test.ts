import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { toJsonReport, validatePlugins } from '../../src/validate/index.js';
import { REPO_ROOT, assertBuilt } from '../cli/run-cli.js';
import { FIXTURES } from './helpers.js';

beforeAll(assertBuilt);

const DOC = join(REPO_ROOT, 'docs', 'validate.md');

describe('docs/validate.md', () => {
  it('documents every field of the JSON report, and no field it lacks', async () => {
    const doc = await readFile(DOC, 'utf8');
    const report = toJsonReport(await validatePlugins(join(FIXTURES, 'duplicates')));
    const fields = [
      ...Object.keys(report),
      ...Object.keys(report.plugins[0]!).map((k) => `plugins[].${k}`),
      ...Object.keys(report.problems[0]!).map((k) => `problems[].${k}`),
    ];
    const documented = [...doc.matchAll(/^\| `([a-zA-Z[\].]+)`\s+\|/gm)].map((m) => m[1]!);
    expect(documented.filter((f) => /^[a-z]/.test(f) && !f.startsWith('check')).sort()).toEqual(
      [...fields].sort(),
    );
  });

  it('names the code of every check, each one in the registry', async () => {
    const doc = await readFile(DOC, 'utf8');
    for (const code of Object.keys(ERROR_CODES).filter((c) => c.startsWith('NEKO_ERR_VALIDATE_'))) {
      if (code === 'NEKO_ERR_VALIDATE_NO_PLUGINS' || code === 'NEKO_ERR_VALIDATE_DISPOSED') continue;
      expect(doc, code).toContain(`\`${code}\``);
    }
  });
});
