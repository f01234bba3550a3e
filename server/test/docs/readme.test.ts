import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createServer } from '../../src/server/server.js';
import { REPO_ROOT, assertBuilt } from '../cli/run-cli.js';

const run = promisify(execFile);

describe('README', () => {
  it('its client example runs against the echo plugin and prints what its comments say', async () => {
    assertBuilt();
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example, 'README.md has a ```js example').toBeDefined();
    expect(example!.split('\n').length).toBeLessThanOrEqual(25);
    expect(example).toContain('port: 10390');

    const server = createServer({
      secret: 'readme-secret',
      plugins: join(REPO_ROOT, 'plugins'),
      port: 0,
      storage: { backend: 'memory' },
    });
    const { port } = await server.listen();
    onTestFinished(() => server.close());

    // Inside the repository, so that `nekoconnect/client` resolves as it does for a reader.
    const dir = join(REPO_ROOT, '.nekoconnect', 'readme-test');
    await mkdir(dir, { recursive: true });
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'hello.mjs');
    await writeFile(file, example!.replace('port: 10390', `port: ${port}`));

    const { stdout } = await run(process.execPath, [file], {
      env: { ...process.env, NEKOCONNECT_SECRET: 'readme-secret' },
      timeout: 15_000,
    });
    expect(stdout).toBe('echo 7 hello, neko\nNEKO_ERR_CLIENT_STATUS 404\n');
  });
});
