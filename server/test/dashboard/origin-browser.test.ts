/**
 * The Plugins view in a browser shows where each plugin came from: a folder
 * (its path), or a `.ncp` package (its file name and the first 12 hex digits
 * of its sha256, the whole hash in the title).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../cli/run-cli.js';
import { dashboardOfFolderAndPackage } from '../pack/helpers.js';
import { launchChromium } from './browser.js';

describe('the Plugins view in a browser', () => {
  it('shows a folder plugin by its path and a packaged one by its file and hash', async () => {
    const { plugins, packed, dashboard } = await dashboardOfFolderAndPackage();

    const browser = await launchChromium();
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(`${dashboard.url()}`);
    await page.getByRole('tab', { name: 'Plugins' }).click();

    const folder = page.locator('.plugin-row[data-greeter="echo"] .plugin-origin');
    await folder.waitFor();
    expect(await folder.getAttribute('data-origin')).toBe('folder');
    expect(await folder.textContent()).toBe(path.join(plugins, 'echo'));

    const pkg = page.locator('.plugin-row[data-greeter="greet"] .plugin-origin');
    await pkg.waitFor();
    expect(await pkg.getAttribute('data-origin')).toBe('package');
    expect(await pkg.getAttribute('title')).toBe(`Package: ${packed.file}`);
    expect(await pkg.locator('.origin-file').textContent()).toBe(path.basename(packed.file));
    expect(packed.sha256).toMatch(/^[0-9a-f]{64}$/);
    const hash = pkg.locator('.origin-hash');
    expect(await hash.textContent()).toBe(`sha256 ${packed.sha256.slice(0, 12)}`);
    expect(await hash.getAttribute('title')).toBe(`sha256 ${packed.sha256}`);
    const artifacts = path.join(REPO_ROOT, 'test-results');
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'dashboard-origins.png') });
    expect(problems).toEqual([]);
  }, 60_000);
});
