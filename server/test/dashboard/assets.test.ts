/**
 * The page's files as the dashboard loads them: the bundle of ui/src/ (built
 * by scripts/build-ui.js, part of `npm run build`), its source map, and the
 * hint when the bundle was never built.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAssets, UI_DIR } from '../../src/dashboard/assets.js';
import { isNekoError } from '../../src/errors.js';
import { http, startDashboardServer } from './harness.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('the dashboard page files', () => {
  it('serve the bundle of ui/src at /app.js, with its source map, and nothing the CSP would refuse', async () => {
    const assets = await loadAssets();
    const script = assets.get('/app.js')!;
    expect(script.type).toBe('text/javascript; charset=utf-8');
    const code = script.body.toString('utf8');
    // One bundle, Preact inside: nothing imported at run time.
    expect(code).not.toMatch(/\bimport\s*\(|\bfrom\s*["']/);
    expect(code).toContain('sourceMappingURL=app.js.map');
    // `script-src 'self'`: no eval, no code from strings.
    expect(code).not.toMatch(/\beval\(|new Function\(/);
    const map = JSON.parse(assets.get('/app.js.map')!.body.toString('utf8')) as { sources: string[] };
    expect(assets.get('/app.js.map')!.type).toBe('application/json; charset=utf-8');
    expect(map.sources).toContain('../src/main.tsx');
    expect(map.sources).toContain('../src/views/logs.tsx');
    const html = assets.get('/')!.body.toString('utf8');
    expect(html).toContain('<script type="module" src="app.js"></script>');
    expect(html).not.toMatch(/<script>|<script type="module">|style="/);
  });

  it('say to run the build when the bundle is missing', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'neko-ui-'));
    dirs.push(dir);
    for (const file of ['index.html', 'app.css', 'favicon.svg'])
      await copyFile(new URL(file, UI_DIR), path.join(dir, file));
    const failure = await loadAssets(pathToFileURL(`${dir}/`)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isNekoError(failure)).toBe(true);
    expect(failure).toMatchObject({ code: 'NEKO_ERR_DASHBOARD_ASSETS' });
    expect((failure as Error).message).toContain(path.join(dir, 'build', 'app.js'));
    expect((failure as { hint?: string }).hint).toContain('npm run build');
  });

  it('are served with the page headers, and like every file of the page only with the token', async () => {
    const { dashboardPort, request } = await startDashboardServer();
    for (const file of ['/app.js', '/app.js.map']) {
      expect((await http(dashboardPort, file)).status).toBe(401);
      const answer = await request(file);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-security-policy']).toContain("script-src 'self'");
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('ship in the nekoconnect package: the built page, not its sources', async () => {
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: fileURLToPath(new URL('..', UI_DIR)),
    });
    const [pack] = JSON.parse(stdout) as { files: { path: string }[] }[];
    const ui = pack!.files.map((f) => f.path).filter((p) => p.startsWith('ui/'));
    expect(ui.sort()).toEqual([
      'ui/app.css',
      'ui/build/app.js',
      'ui/build/app.js.map',
      'ui/favicon.svg',
      'ui/index.html',
    ]);
  });
});
