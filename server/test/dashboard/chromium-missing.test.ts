import { describe, expect, it } from 'vitest';
import { launchChromium } from './browser.js';

describe('the browser tests without Chromium', () => {
  it('fail with a message that says how to install it', async () => {
    await expect(launchChromium('/nonexistent/chromium')).rejects.toThrow(
      /Chromium at \/nonexistent\/chromium, and it is not there\. Install it with `sudo apt-get install chromium`/,
    );
  });
});
