import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { onTestFinished } from 'vitest';

/** Where the browser tests find Chromium: `NEKOCONNECT_CHROMIUM`, else Debian's package. */
export const CHROMIUM = process.env['NEKOCONNECT_CHROMIUM'] ?? '/usr/bin/chromium';

/**
 * Launches headless Chromium, closed when the test ends. Without Chromium the
 * test fails, saying how to install it: a browser test must not pass by not running.
 */
export async function launchChromium(executable = CHROMIUM): Promise<Browser> {
  if (!existsSync(executable)) {
    throw new Error(
      `The dashboard's browser tests need Chromium at ${executable}, and it is not there. ` +
        'Install it with `sudo apt-get install chromium` (Debian/Ubuntu; .ci/run does this), ' +
        'or point NEKOCONNECT_CHROMIUM at a Chrome or Chromium binary.',
    );
  }
  const browser = await chromium.launch({
    executablePath: executable,
    headless: true,
    // No sandbox (CI runs as root), and no calls home: the page must work offline.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  onTestFinished(() => browser.close());
  return browser;
}
