/**
 * The Logs view builds its rows from HTML a batch at a time: a log line is
 * plugin-controlled text, so markup in it must show as text, on the first
 * load and live, and never become elements or run.
 */
import { describe, expect, it } from 'vitest';
import { connectClient } from '../helpers/server.js';
import { launchChromium } from './browser.js';
import { startDashboardServer } from './harness.js';

const SECRET = 'log-markup-secret-7a1b';
const MARKUP = `<img src=x onerror="window.__pwned=1"> & "quoted" 'single' </span><b>bold</b> &amp; &#60;`;

describe('the Logs view and markup in log lines', () => {
  it('shows a line with markup as its text, on the first load and live', async () => {
    const { port, dashboard } = await startDashboardServer({}, SECRET);
    const client = await connectClient(port, { secret: SECRET });
    await client.request('echo', `before ${MARKUP}`);

    const browser = await launchChromium();
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(dashboard.url());
    await page.locator('[data-testid="live"][data-state="live"]').waitFor();

    const before = page.locator('.log-row', { hasText: 'echo before' });
    await before.waitFor();
    expect(await before.locator('.log-message').textContent()).toBe(`echo before ${MARKUP}`);

    await client.request('echo', `live ${MARKUP}`);
    await client.request('boom', `warned ${MARKUP}`);
    const live = page.locator('.log-row', { hasText: 'echo live' });
    await live.waitFor();
    expect(await live.locator('.log-message').textContent()).toBe(`echo live ${MARKUP}`);
    const warned = page.locator('.log-row[data-level="warn"]', { hasText: 'careful: warned' });
    await warned.waitFor();
    expect(await warned.locator('.log-message').textContent()).toBe(`careful: warned ${MARKUP}`);

    // No element came out of the text, nothing ran, and each row kept its own parts.
    expect(await page.locator('.log-row img, .log-row b').count()).toBe(0);
    expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await live.locator('.log-time').count()).toBe(1);
    expect(await live.getAttribute('data-plugin')).toBe('echo');
    expect(problems).toEqual([]);
    await client.close();
  });
});
