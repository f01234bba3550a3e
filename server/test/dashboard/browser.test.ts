import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { connectClient } from '../helpers/server.js';
import { REPO_ROOT } from '../cli/run-cli.js';
import { launchChromium } from './browser.js';
import { DASHBOARD_PLUGINS, ROOM_PLUGIN, startDashboardServer } from './harness.js';

/** Screenshots of the runs, kept as test artifacts (git-ignored). */
const ARTIFACTS = path.join(REPO_ROOT, 'test-results');
/** `NEKOCONNECT_UPDATE_DOCS_SCREENSHOT=1` also refreshes the screenshot in docs/dashboard.md. */
const DOCS_SCREENSHOT = path.join(REPO_ROOT, 'docs', 'img', 'dashboard.png');

const SECRET = 'browser-canary-secret-4c1d2e';

/** Opens the dashboard and records what the page complains about and every answer it got. */
async function openPage(url: string): Promise<{ page: Page; problems: string[]; bodies: Promise<string>[] }> {
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const problems: string[] = [];
  const bodies: Promise<string>[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (r) => {
    // An event stream cut when the page closes is no problem; anything else is.
    if (!r.url().includes('/api/events')) problems.push(`request failed: ${r.url()}`);
  });
  page.on('response', (r) => {
    if (!r.url().includes('/api/events')) bodies.push(r.text().catch(() => ''));
  });
  await page.goto(url);
  return { page, problems, bodies };
}

async function showTab(page: Page, name: string): Promise<void> {
  await page.click(`[data-tab="${name}"]`);
  await page.locator(`#panel-${name}`).waitFor({ state: 'visible' });
}

describe('the dashboard in a browser', () => {
  it('shows plugins, a failing plugin with its code frame, live log lines, filters, sessions, data and settings', async () => {
    const { base, port, dashboard } = await startDashboardServer({}, SECRET);
    const client = await connectClient(port, { secret: SECRET });
    await client.request('notes', '30');
    // The URL the server prints: loopback, with the token.
    expect(dashboard.url()).toBe(`${base}/?token=${dashboard.token!}`);
    const { page, problems, bodies } = await openPage(dashboard.url());

    // Live: the event stream is open, and the counters show the failed load.
    await page.locator('[data-testid="live"][data-state="live"]').waitFor();
    await expect.poll(() => page.textContent('[data-testid="counter-error"]')).toBe('1');

    // Plugins: the list, and the failing one with its error and code frame.
    await showTab(page, 'plugins');
    await page.locator('.plugin-row[data-greeter="echo"]').waitFor();
    const statuses = await page.$$eval('.plugin-row', (rows) =>
      rows.map((r) => [r.getAttribute('data-greeter'), r.getAttribute('data-status')]),
    );
    expect(statuses).toEqual([
      ['boom', 'loaded'],
      ['broken', 'failed'],
      ['echo', 'loaded'],
      ['notes', 'loaded'],
    ]);
    const broken = page.locator('.plugin-row[data-greeter="broken"] .plugin-error');
    expect(await broken.textContent()).toContain('NEKO_ERR_PLUGIN_TRANSPILE');
    expect(await broken.locator('pre.code-frame').textContent()).toContain('> 3 |     const x = ;');

    // Logs: a packet sent now shows up live, with its plugin and session.
    await showTab(page, 'logs');
    await client.request('echo', 'hello from the browser test');
    const line = page.locator('.log-row', { hasText: 'echo hello from the browser test' });
    await line.waitFor();
    expect([await line.getAttribute('data-level'), await line.getAttribute('data-plugin')]).toEqual([
      'info',
      'echo',
    ]);
    expect(await line.getAttribute('data-session')).toMatch(/^s-\d+$/);

    // A handler that throws: an error line arrives and the counter goes up.
    await expect(client.request('boom', 'throw')).rejects.toMatchObject({ status: 500 });
    await page.locator('.log-row[data-level="error"]', { hasText: 'boom on purpose' }).waitFor();
    await expect.poll(() => page.textContent('[data-testid="counter-error"]')).toBe('2');

    // Filter by level: errors only.
    await page.click('button[data-filter-level="info"]');
    await page.click('button[data-filter-level="warn"]');
    expect(await page.getAttribute('button[data-filter-level="info"]', 'aria-pressed')).toBe('false');
    const visibleLevels = await page.$$eval('#log-list .log-row:not([hidden])', (rows) =>
      rows.map((r) => r.getAttribute('data-level')),
    );
    expect(visibleLevels.length).toBeGreaterThanOrEqual(2);
    expect(new Set(visibleLevels)).toEqual(new Set(['error']));
    expect(await line.isHidden()).toBe(true);
    // A line arriving while filtered out stays hidden.
    await client.request('echo', 'arrives while filtered');
    const filtered = page.locator('.log-row', { hasText: 'echo arrives while filtered' });
    await filtered.waitFor({ state: 'attached' });
    expect(await filtered.isHidden()).toBe(true);
    await page.click('button[data-filter-level="info"]');
    await page.click('button[data-filter-level="warn"]');
    expect(await line.isVisible()).toBe(true);

    // Data: the notes plugin's 30 documents, paged.
    await showTab(page, 'data');
    await page.selectOption('#data-plugin', 'notes');
    await expect.poll(() => page.textContent('#data-total')).toBe('30');
    await expect.poll(() => page.locator('.doc-row').count()).toBe(25);
    await page.click('#data-next');
    await expect.poll(() => page.locator('.doc-row').count()).toBe(5);

    // Settings: what the server runs with.
    await showTab(page, 'settings');
    await expect.poll(() => page.textContent('[data-setting="server.port"]')).toContain(String(port));
    expect(await page.textContent('[data-setting="dashboard.tokenRequired"]')).toBe('true');
    expect(await page.textContent('[data-setting="limits.drainTimeoutMs"]')).toContain('30000');

    // Sessions: the client is listed; closing it from the page closes its connection.
    await showTab(page, 'sessions');
    const row = page.locator('.session-row').first();
    await row.waitFor();
    // The address, and what carries the session.
    expect(await row.textContent()).toContain('127.0.0.1 · tcp');
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
    await row.locator('button.close-session').click();
    await row.locator('button.close-session').click();
    await closed;
    await expect.poll(() => page.locator('.session-row').count()).toBe(0);

    await showTab(page, 'plugins');
    await page.locator('.plugin-row[data-greeter="echo"]').waitFor();
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-plugins.png') });
    await showTab(page, 'logs');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png') });
    if (process.env['NEKOCONNECT_UPDATE_DOCS_SCREENSHOT'] === '1') {
      await mkdir(path.dirname(DOCS_SCREENSHOT), { recursive: true });
      await page.screenshot({ path: DOCS_SCREENSHOT });
    }

    // The secret is nowhere: not in the page, not in any answer it got.
    for (const tab of ['logs', 'plugins', 'sessions', 'data', 'settings']) {
      await showTab(page, tab);
      expect(await page.content()).not.toContain(SECRET);
    }
    const answers = await Promise.all(bodies);
    expect(answers.length).toBeGreaterThan(10);
    for (const body of answers) expect(body).not.toContain(SECRET);
    expect(problems).toEqual([]);
  }, 60_000);

  it("shows a session's state and groups, a plugin's cells and filtered documents, per-op rows and folded repeats", async () => {
    const { port, dashboard } = await startDashboardServer({}, undefined, [
      ...DASHBOARD_PLUGINS,
      ROOM_PLUGIN,
    ]);
    const client = await connectClient(port);
    await client.request('room', 'lobby', { op: 1 });
    await client.request('room', 'friends', { op: 3 });
    for (let i = 0; i < 3; i++) await client.request('room', 'x', { op: 7 });
    const { page, problems } = await openPage(dashboard.url());
    await page.locator('[data-testid="live"][data-state="live"]').waitFor();

    // Plugins: the room card has one row per op, with its packets and latency.
    await showTab(page, 'plugins');
    const card = page.locator('.plugin-row[data-greeter="room"]');
    await card.locator('.op-row[data-op="7"]').waitFor();
    const ops = await card
      .locator('.op-row')
      .evaluateAll((rows) =>
        rows.map((r) => [r.getAttribute('data-op'), r.querySelector('.op-packets')!.textContent]),
      );
    expect(ops).toEqual([
      ['1', '1'],
      ['3', '1'],
      ['7', '3'],
    ]);
    expect(await card.locator('.op-row[data-op="7"] td').nth(2).textContent()).toMatch(/ms$/);
    expect(await page.locator('.plugin-row[data-greeter="echo"] .op-table').isHidden()).toBe(true);

    // Sessions: the groups in the list, the state and groups per plugin when opened.
    await showTab(page, 'sessions');
    const row = page.locator('.session-row').first();
    await row.waitFor();
    await expect
      .poll(() => row.locator('.session-groups .chip').allTextContents())
      .toEqual(['room: room:lobby', 'room: everyone']);
    await row.locator('button.session-state-toggle').click();
    const detail = page.locator('.session-detail:not([hidden]) .session-plugin[data-greeter="room"]');
    await detail.waitFor();
    expect(await detail.locator('.session-group').allTextContents()).toEqual(['room:lobby', 'everyone']);
    const stateText = (await detail.locator('.session-state').textContent())!;
    expect(JSON.parse(stateText)).toMatchObject({ room: 'lobby', seen: { tags: ['cat', 'black'] } });
    // A state JSON cannot carry is shown with its markers, and said so.
    await client.request('room', '', { op: 2 });
    await detail.locator('.state-problems').waitFor();
    expect(await detail.locator('.state-problems').textContent()).toContain('state.tick is a function');
    expect(await detail.locator('.session-state').textContent()).toContain('"$unserialisable"');

    // Data: the cells apart from the documents, and a filter.
    await showTab(page, 'data');
    await page.selectOption('#data-plugin', 'room');
    await page.locator('.cell-row[data-cell="motd"]').waitFor();
    expect(
      await page.locator('.cell-row').evaluateAll((r) => r.map((x) => x.getAttribute('data-cell'))),
    ).toEqual(['highscores', 'motd']);
    expect(await page.textContent('.cell-row[data-cell="motd"] .json')).toBe('"welcome, friends"');
    await expect.poll(() => page.textContent('#data-total')).toBe('3');
    await page.fill('#data-query', '{"done": false}');
    await page.click('#data-query-apply');
    await expect.poll(() => page.textContent('#data-total')).toBe('2');
    await expect.poll(() => page.locator('.doc-row').count()).toBe(2);
    const titles = await page.locator('.doc-row .json').allTextContents();
    expect(titles.every((t) => t.includes('"done": false'))).toBe(true);
    // A query outside the language is refused beside the filter, with its code.
    await page.fill('#data-query', '{"$where": "1"}');
    await page.click('#data-query-apply');
    await page.locator('#data-query-error:not([hidden])').waitFor();
    expect(await page.textContent('#data-query-error')).toContain('NEKO_ERR_STORAGE_QUERY');
    expect(await page.locator('.doc-row').count()).toBe(0);
    await page.click('#data-query-clear');
    await expect.poll(() => page.locator('.doc-row').count()).toBe(3);
    expect(await page.locator('#data-query-error').isHidden()).toBe(true);

    // Logs: a warning repeated in a row is one line with its count; ungrouped, every line.
    await showTab(page, 'logs');
    for (let i = 0; i < 4; i++) await client.request('boom', 'again and again');
    const repeated = page.locator('.log-row:not([hidden])', { hasText: 'careful: again and again' });
    await expect.poll(() => repeated.locator('.log-count').textContent()).toBe('×4');
    expect(await repeated.count()).toBe(1);
    await page.click('#log-group');
    await expect.poll(() => repeated.count()).toBe(4);
    await page.click('#log-group');
    await expect.poll(() => repeated.count()).toBe(1);

    await mkdir(ARTIFACTS, { recursive: true });
    for (const tab of ['plugins', 'sessions', 'data', 'logs']) {
      await showTab(page, tab);
      await page.screenshot({ path: path.join(ARTIFACTS, `dashboard-inspect-${tab}.png`) });
    }
    // Chromium reports the refused query's 400 on the console; nothing else went wrong.
    expect(problems).toEqual([
      'console: Failed to load resource: the server responded with a status of 400 (Bad Request)',
    ]);
  }, 60_000);

  it('on loopback, refuses the bare address, and keeps working after a reload once opened with the token', async () => {
    const { base, dashboard } = await startDashboardServer();
    const bare = await openPage(`${base}/`);
    await expect.poll(() => bare.page.textContent('body')).toContain('access token');
    expect(await bare.page.locator('[data-testid="live"][data-state="live"]').count()).toBe(0);

    const { page, problems } = await openPage(dashboard.url());
    await page.locator('[data-testid="live"][data-state="live"]').waitFor();
    expect(page.url()).toBe(`${base}/`);
    // The address bar has no token now: the cookie (files) and the tab's copy (API) carry it.
    await page.reload();
    await page.locator('[data-testid="live"][data-state="live"]').waitFor();
    await showTab(page, 'plugins');
    await page.locator('.plugin-row[data-greeter="echo"]').waitFor();
    expect(problems).toEqual([]);
  });

  it('off loopback, works from the printed URL, then drops the token from the address bar', async () => {
    const { dashboard } = await startDashboardServer({ host: '0.0.0.0' });
    const url = dashboard.url().replace('localhost', '127.0.0.1');
    const { page, problems } = await openPage(url);
    await page.locator('[data-testid="live"][data-state="live"]').waitFor();
    await showTab(page, 'plugins');
    await page.locator('.plugin-row[data-greeter="echo"]').waitFor();
    expect(page.url()).not.toContain('token');
    expect(problems).toEqual([]);

    // Without the token the page says what to do.
    const bare = await openPage(url.replace(/\?token=.*$/, ''));
    await expect.poll(() => bare.page.textContent('body')).toContain('access token');
  });
});
