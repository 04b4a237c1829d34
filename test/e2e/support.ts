/**
 * Shared pieces of the browser tests: building the web app once, watching the
 * console, axe-core, screenshots and the sign-in steps a user takes.
 *
 * The root tsconfig has no DOM lib (the server is Node), so code that runs in the
 * page is passed to `page.evaluate` as a string.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsoleMessage, Page } from 'playwright-core';

export const ROOT = new URL('../../', import.meta.url).pathname;
const WEB = join(ROOT, 'web');
const DIST_INDEX = join(WEB, 'dist', 'index.html');
/**
 * Every run writes screenshots; to test-results/ by default, so `npm test` leaves the
 * tree clean, and to docs/screenshots/ (the ones the README shows) with UPDATE_SCREENSHOTS=1.
 */
export const SCREENSHOTS = process.env['UPDATE_SCREENSHOTS'] === '1' ? join(ROOT, 'docs', 'screenshots') : join(ROOT, 'test-results', 'screenshots');

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((n) => newestMtime(join(path, n))));
}

function distIsFresh(): boolean {
  try {
    const built = statSync(DIST_INDEX).mtimeMs;
    const sources = Math.max(newestMtime(join(WEB, 'src')), newestMtime(join(WEB, 'index.html')), newestMtime(join(WEB, 'vite.config.ts')));
    return built >= sources;
  } catch {
    return false;
  }
}

/**
 * Builds web/dist (what the server serves) when it is missing or older than the
 * sources. Test files run in parallel processes, so a lock directory makes one
 * build at a time; the others wait for it and find the result fresh.
 */
export async function ensureWebBuilt(): Promise<void> {
  if (distIsFresh()) return;
  // Under node_modules/.cache so a lock left by a killed run never shows in git status.
  mkdirSync(join(ROOT, 'node_modules', '.cache'), { recursive: true });
  const lock = join(ROOT, 'node_modules', '.cache', 'frontdesk-web-build.lock');
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A lock left by a killed run must not block forever.
      if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      await sleep(200);
    }
  }
  try {
    if (distIsFresh()) return;
    const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
    const r = spawnSync(process.execPath, [vite, 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`vite build failed:\n${r.stdout}\n${r.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface ConsoleWatch {
  /** Console errors, page errors and failed loads other than the expected ones. */
  errors(): string[];
}

/**
 * Collects console errors and uncaught exceptions. `expected` lists the HTTP
 * errors a test provokes on purpose (Chromium logs every 4xx fetch as a console
 * error), as "status path", e.g. "404 /bench/latest.json".
 */
export function watchConsole(page: Page, expected: string[] = []): ConsoleWatch {
  const seen: string[] = [];
  const allowed = (msg: ConsoleMessage): boolean => {
    const m = /status of (\d{3})/.exec(msg.text());
    if (!m) return false;
    let path = '';
    try {
      path = new URL(msg.location().url).pathname;
    } catch {
      return false;
    }
    return expected.includes(`${m[1]} ${path}`);
  };
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !allowed(msg)) seen.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  page.on('pageerror', (err) => seen.push(`pageerror: ${err.message}`));
  return { errors: () => [...seen] };
}

const AXE_SOURCE = readFileSync(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/**
 * Runs axe-core in the page and returns its serious and critical violations, as
 * readable lines. Injected through the DevTools protocol (page.evaluate), which
 * the app's Content-Security-Policy does not block, so the policy stays on.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate<AxeViolation[]>(
    `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))`,
  );
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact ?? ''} ${v.id}: ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
}

/** Writes <SCREENSHOTS>/<name>-<scheme>.png, a full-page capture. */
export async function screenshot(page: Page, name: string, scheme: 'light' | 'dark'): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-${scheme}.png`), fullPage: true, animations: 'disabled' });
}

export type Mode = 'Session' | 'JWT' | 'Hybrid';

/** Fills the sign-in form the way a user does and waits for the dashboard. */
export async function signIn(page: Page, username: string, password: string, mode: Mode = 'Hybrid'): Promise<void> {
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('radio', { name: mode, exact: true }).check();
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: `Signed in as ${username}` }).waitFor();
}

/** Creates an account through the form (it signs in right after, with the chosen mode). */
export async function signUp(page: Page, username: string, password: string, name: string, mode: Mode = 'Hybrid'): Promise<void> {
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByRole('radio', { name: mode, exact: true }).check();
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: `Signed in as ${username}` }).waitFor();
}

/** What the page's storage and script-visible cookies hold. */
export interface BrowserStorage {
  local: [string, string][];
  session: [string, string][];
  indexedDb: string[];
  cookie: string;
}

export function readStorage(page: Page): Promise<BrowserStorage> {
  return page.evaluate<BrowserStorage>(`(async () => ({
    local: Object.entries(localStorage),
    session: Object.entries(sessionStorage),
    indexedDb: (await indexedDB.databases()).map((d) => d.name),
    cookie: document.cookie,
  }))()`);
}
