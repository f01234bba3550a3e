/**
 * The Playground view in a real browser, against a real server (the example
 * echo and chat plugins, the dashboard with its token, a Playground): two
 * simulated clients side by side, a send and a request to echo, a chat
 * broadcast from one arriving in the other's timeline, a 404 for a typed
 * greeter no plugin has, data checked in the page, and Copy as test (the
 * code box and the clipboard).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Locator, Page } from 'playwright-core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createDashboard } from '../../src/dashboard/dashboard.js';
import { Playground } from '../../src/playground/playground.js';
import { REPO_ROOT } from '../cli/run-cli.js';
import { makePluginsDir } from '../helpers/plugins.js';
import { startServer } from '../helpers/server.js';
import { launchChromium } from './browser.js';

const EXAMPLES = fileURLToPath(new URL('../../../plugins/', import.meta.url));
const ARTIFACTS = path.join(REPO_ROOT, 'test-results');
/** `NEKOCONNECT_UPDATE_DOCS_SCREENSHOT=1` also refreshes the Playground's screenshot in docs/dashboard.md. */
const DOCS_SCREENSHOT = path.join(REPO_ROOT, 'docs', 'img', 'playground.png');

/** A plugin without an `Op` table that asks for a name and waits for it in `ctx.recv()`. */
const ASKER = {
  greeter: 'asker',
  logic: `export class Logic {
  async recv(ctx) {
    ctx.send('your name?', { op: 1 });
    const answer = await ctx.recv({ timeoutMs: 5000 });
    ctx.send('hello, ' + new TextDecoder().decode(answer.data), { op: 2 });
  }
}
`,
};

/**
 * A server with the echo and chat examples (or `plugins`), its dashboard
 * (with a token) and, unless `playground` is false, a Playground on it.
 */
async function setup(
  options: { plugins?: 'examples' | 'asker'; playground?: boolean } = {},
): Promise<{ url: string; base: string }> {
  const { server } = await startServer();
  const dashboard = createDashboard(server, { port: 0 });
  onTestFinished(() => dashboard.close());
  if (options.playground !== false) dashboard.playground = new Playground(server);
  if (options.plugins === 'asker') {
    await server.loadPlugins(await makePluginsDir([ASKER]));
  } else {
    await server.loadPlugins(path.join(EXAMPLES, 'echo'));
    await server.loadPlugins(path.join(EXAMPLES, 'chat'));
  }
  const { port } = await dashboard.listen();
  return { url: dashboard.url(), base: `http://127.0.0.1:${port}` };
}

/** A page on `url` that records its errors; `clipboard` grants it the clipboard. */
async function openPage(
  url: string,
  base: string,
  clipboard: boolean,
): Promise<{ page: Page; problems: string[] }> {
  const browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  if (clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  await page.locator('[data-testid="live"][data-state="live"]').waitFor();
  return { page, problems };
}

/** The newest timeline entry of a kind (and status) in a client's column. */
function last(column: Locator, kind: string, extra = ''): Locator {
  return column.locator(`.pg-event[data-kind="${kind}"]${extra}`).last();
}

/** Fills a client's composer and presses Send or Request. */
async function compose(
  column: Locator,
  step: { greeter: string; op?: string; as?: 'text' | 'JSON' | 'hex'; data: string },
  button: 'Send' | 'Request',
): Promise<void> {
  await column.getByLabel('Greeter').fill(step.greeter);
  if (step.op !== undefined) {
    const op = column.getByLabel('Op', { exact: true });
    if ((await op.evaluate((el) => el.tagName)) === 'SELECT') await op.selectOption(step.op);
    else await op.fill(step.op);
  }
  await column.getByLabel('Data as').selectOption({ label: step.as ?? 'text' });
  await column.getByLabel('Data', { exact: true }).fill(step.data);
  await column.getByRole('button', { name: button, exact: true }).click();
}

describe('the Playground in a browser', () => {
  it('opens two clients (one named), sends and requests, shows a chat broadcast in the other client, a 404, and copies a test', async () => {
    const { url, base } = await setup();
    const { page, problems } = await openPage(url, base, true);

    // The Plugins view says where each plugin came from: its folder.
    await page.getByRole('tab', { name: 'Plugins' }).click();
    const origin = page.locator('.plugin-row[data-greeter="echo"] .plugin-origin');
    await expect.poll(() => origin.getAttribute('data-origin')).toBe('folder');
    expect(await origin.textContent()).toBe(path.join(EXAMPLES, 'echo'));

    // The Playground tab, reached from the keyboard (Settings, then the arrow to the right).
    await page.getByRole('tab', { name: 'Settings' }).click();
    await page.getByRole('tab', { name: 'Settings' }).press('ArrowRight');
    expect(await page.getByRole('tab', { name: 'Playground' }).getAttribute('aria-selected')).toBe('true');
    const openButton = page.getByRole('button', { name: 'Open client' });
    await openButton.click();
    // The second one named in the page.
    await page.getByLabel('Name').fill('tama');
    await page.getByLabel('Name').press('Enter');
    const one = page.getByRole('region', { name: 'client 1', exact: true });
    const two = page.getByRole('region', { name: 'tama', exact: true });
    await last(one, 'open').waitFor();
    await last(two, 'open').waitFor();

    // The op picker offers echo's Op table, its doc comment beside it.
    await one.getByLabel('Greeter').fill('echo');
    expect(await one.getByLabel('Op', { exact: true }).locator('option').allTextContents()).toEqual([
      '1 · Echo',
    ]);
    expect(await one.locator('.pg-op-doc').textContent()).toContain('answers the same data');

    // JSON and hex are checked before anything goes.
    await compose(one, { greeter: 'echo', op: '1', as: 'JSON', data: '{"nick": mimi}' }, 'Request');
    await expect.poll(() => one.getByRole('alert').textContent()).toContain('Not JSON');
    await compose(one, { greeter: 'echo', op: '1', as: 'hex', data: '6g' }, 'Send');
    await expect.poll(() => one.getByRole('alert').textContent()).toContain('Not hex: "g"');
    expect(await one.locator('.pg-event[data-kind="sent"]').count()).toBe(0);

    // A request to echo: the reply with its op, data and latency.
    await compose(one, { greeter: 'echo', op: '1', as: 'JSON', data: '{"nick": "mimi"}' }, 'Request');
    const reply = last(one, 'reply');
    await reply.waitFor();
    expect(await reply.getAttribute('data-op')).toBe('1');
    expect(await reply.locator('.pg-event-title').textContent()).toBe('reply echo op 1 (Echo)');
    expect(await reply.locator('.pg-data-value').textContent()).toBe('{"nick":"mimi"}');
    expect(await reply.locator('.pg-event-detail').textContent()).toMatch(/ms · to #\d+$/);

    // A send (hex) to echo: what echo sends back answers it.
    await compose(one, { greeter: 'echo', op: '1', as: 'hex', data: '68 69' }, 'Send');
    const sent = last(one, 'sent');
    await expect.poll(() => sent.locator('.pg-event-title').textContent()).toBe('send echo op 1 (Echo)');
    const seq = await sent.getAttribute('data-seq');
    const echoed = one.locator(`.pg-event[data-kind="reply"]`, { hasText: `to #${seq}` });
    await echoed.waitFor();
    expect(await echoed.locator('.pg-data-value').textContent()).toBe('hi');

    // Chat: client 2 asks who is there (it joins), client 1 says something, client 2 gets the broadcast.
    await compose(two, { greeter: 'chat', op: '3', data: '' }, 'Request');
    await last(two, 'reply', '[data-op="3"]').waitFor();
    await compose(one, { greeter: 'chat', op: '2', data: 'hello cats' }, 'Send');
    const heard = two.locator('.pg-event[data-kind="push"][data-op="2"]');
    await heard.waitFor();
    expect(JSON.parse((await heard.locator('.pg-data-value').textContent())!)).toMatchObject({
      text: 'hello cats',
    });

    // A greeter no plugin has, typed: a free op number, and the server's 404.
    await two.getByLabel('Greeter').fill('nosuch');
    expect(await two.locator('.pg-op-doc').textContent()).toContain('not a loaded plugin');
    await compose(two, { greeter: 'nosuch', op: '7', data: 'anyone?' }, 'Request');
    const status = last(two, 'status');
    await status.waitFor();
    expect(await status.getAttribute('data-status')).toBe('404');
    expect(await status.locator('.pg-event-title').textContent()).toMatch(/^status 404 \S/);

    // Each event once, in order, though it came both in the answer to its send and by the event stream.
    for (const column of [one, two]) {
      const seqs = await column
        .locator('.pg-event')
        .evaluateAll((items) => items.map((i) => Number(i.getAttribute('data-seq'))));
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    }

    // Newest at the bottom, followed: the last entry is in view.
    expect(await status.isVisible()).toBe(true);
    const timeline = two.locator('.pg-timeline');
    expect(await timeline.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(
      24,
    );

    if (process.env['NEKOCONNECT_UPDATE_DOCS_SCREENSHOT'] === '1') {
      await page.getByRole('tab', { name: 'Playground' }).scrollIntoViewIfNeeded();
      await page.screenshot({ path: DOCS_SCREENSHOT, clip: { x: 0, y: 0, width: 1400, height: 830 } });
    }

    // Copy as test: both clients by default, in the code box and on the clipboard.
    await page.getByRole('button', { name: 'Copy as test' }).click();
    const box = page.getByRole('textbox', { name: 'Test code' });
    await box.waitFor();
    const code = await box.inputValue();
    expect(code).toContain("from 'vitest'");
    expect(code).toContain('@nekoconnect/testing');
    expect(code).toContain('client 1');
    expect(code).toContain('tama');
    expect(code).toContain('.request(');
    expect(code).toContain('hello cats');
    expect(await box.getAttribute('readonly')).not.toBeNull();
    expect(await page.getByRole('status').filter({ hasText: 'Copied to the clipboard' }).count()).toBe(1);
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(code);

    // Closing a client from the page ends its timeline with the close.
    await two.getByRole('button', { name: 'Close client' }).click();
    await expect
      .poll(() => last(two, 'close').locator('.pg-event-title').textContent())
      .toBe('closed by the page');
    expect(await two.getByRole('button', { name: 'Request' }).isDisabled()).toBe(true);
    // Removed, it is gone from the page (and from the clients Copy as test offers).
    await two.getByRole('button', { name: 'Remove' }).click();
    await expect.poll(() => two.count()).toBe(0);
    expect(await page.locator('.pg-copy-clients label').allTextContents()).toEqual(['client 1']);

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-playground.png'), fullPage: true });
    expect(problems).toEqual([]);
  }, 60_000);

  it("shows a plugin's recv() waits, a free op number with why, and the code selected when the clipboard is refused", async () => {
    const { url, base } = await setup({ plugins: 'asker' });
    const { page, problems } = await openPage(url, base, false);
    // This browser refuses the clipboard, as a page without the permission may be.
    await page.evaluate(() => {
      navigator.clipboard.writeText = () =>
        Promise.reject(new DOMException('Write permission denied.', 'NotAllowedError'));
    });
    await page.getByRole('tab', { name: 'Playground' }).click();
    await page.getByRole('button', { name: 'Open client' }).click();
    const one = page.getByRole('region', { name: 'client 1', exact: true });
    await last(one, 'open').waitFor();

    // No Op table: a free op number, and the reason beside it.
    await one.getByLabel('Greeter').fill('asker');
    const op = one.getByLabel('Op', { exact: true });
    expect(await op.getAttribute('type')).toBe('number');
    expect(await one.locator('.pg-op-doc').textContent()).toMatch(/^Any op number: \S/);

    // The plugin waits in recv() for the client's next packet: the wait shows, then its end.
    await compose(one, { greeter: 'asker', op: '5', data: 'hi' }, 'Send');
    await last(one, 'wait', ':has-text("recv() waiting")').waitFor();
    expect(
      await one.locator('.pg-event[data-kind="reply"][data-op="1"]').locator('.pg-data-value').textContent(),
    ).toBe('your name?');
    await compose(one, { greeter: 'asker', op: '5', data: 'mimi' }, 'Send');
    await last(one, 'wait', ':has-text("recv() done")').waitFor();
    const greeted = one.locator('.pg-event[data-kind="reply"][data-op="2"]');
    await greeted.waitFor();
    expect(await greeted.locator('.pg-data-value').textContent()).toBe('hello, mimi');

    // Copy as test with the clipboard refused: the code is there, selected, and the page says so.
    await page.getByRole('button', { name: 'Copy as test' }).click();
    const box = page.getByRole('textbox', { name: 'Test code' });
    await box.waitFor();
    expect(
      await page.getByRole('status').filter({ hasText: 'The clipboard refused it' }).textContent(),
    ).toContain('copy it with Ctrl+C');
    const code = await box.inputValue();
    expect(code).toContain("'asker'");
    expect(
      await box.evaluate((el: HTMLTextAreaElement) => el.value.slice(el.selectionStart, el.selectionEnd)),
    ).toBe(code);
    expect(problems).toEqual([]);
  }, 60_000);

  it('says why when the Playground is off, and how to turn it on', async () => {
    const { url, base } = await setup({ playground: false });
    const { page, problems } = await openPage(url, base, false);
    await page.getByRole('tab', { name: 'Playground' }).click();
    const off = page.locator('#panel-playground .pg-off');
    await off.waitFor();
    expect(await off.textContent()).toContain('--playground');
    expect(await page.getByRole('button', { name: 'Open client' }).count()).toBe(0);
    expect(problems).toEqual([]);
  });
});
