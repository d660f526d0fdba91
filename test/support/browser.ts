import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium; playwright-core ships no browser of its own. */
export const CHROMIUM_PATH = process.env.SEPT_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Launches headless Chromium for UI tests. The flags keep it off the network except for the pages
 * it is sent to: background services (updates, sync, QUIC probes) are refused on closed CI networks.
 * Playwright gives each launch a fresh temporary profile, removed when the browser closes.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `No Chromium at ${CHROMIUM_PATH}: UI tests drive the system Chromium. ` +
        'Install it with `apt-get install -y chromium` (Debian/Ubuntu), or set SEPT_CHROMIUM to another Chromium binary.',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
