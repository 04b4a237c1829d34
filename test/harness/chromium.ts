/**
 * Headless Chromium for end-to-end tests, driven by playwright-core with the
 * system's Chromium (Debian's package): browser downloads are impossible here, so
 * `playwright install` must never be used.
 */
import { chromium, type Browser } from 'playwright-core';
import { ensureBinary } from './binaries.js';

/**
 * Flags for a root user on a machine with a closed network: no sandbox (it cannot
 * start as root), no GPU, and none of Chromium's background connections (update,
 * sync, QUIC), which this machine refuses many at a time and which slow start-up.
 */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Launches headless Chromium with a fresh, empty profile (Playwright's `launch()`
 * makes a new user-data-dir in the temp dir and removes it on close). Installs
 * Chromium first if needed (see ensureBinary). Close the browser in `after`.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = await ensureBinary('chromium');
  return chromium.launch({ executablePath, headless: true, chromiumSandbox: false, args: ARGS, timeout: 60_000 });
}
