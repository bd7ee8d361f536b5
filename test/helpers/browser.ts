import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sparticuz from '@sparticuz/chromium';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { loadTestEnv } from '../../config/test-env';

/**
 * One way to start Chromium for the browser tests. By default it is the headless Chromium that the
 * npm package @sparticuz/chromium ships (so `npm ci` brings it: no system browser, no download at
 * run time); CHROMIUM_PATH names another binary instead (e.g. a distribution's chromium package).
 */

// On a closed network Chromium's background services (updates, sync, QUIC probes) must stay off.
const QUIET = ['--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// For a system Chromium given through CHROMIUM_PATH.
const SYSTEM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', ...QUIET];
// The package's serverless flags, less the two that would turn off the checks a user's browser makes
// (same-origin policy, mixed content): the dashboard test must see what a user's browser enforces.
const WEAKENING = new Set(['--disable-web-security', '--allow-running-insecure-content']);

const LOCK_STALE_MS = 120_000;

function packageVersion(): string {
  // The package's `exports` hide package.json; it sits two folders above the CommonJS entry.
  const file = path.resolve(path.dirname(require.resolve('@sparticuz/chromium')), '../../package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_STALE_MS;
  for (;;) {
    try {
      fs.mkdirSync(dir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (fs.statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > LOCK_STALE_MS) fs.rmSync(dir, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`Timed out waiting for ${dir} (another run unpacking Chromium?)`, { cause: err });
      else await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The package unpacks its browser into the temp folder on first use (about 200 MB, a few seconds) and
 * afterwards reuses whatever file is at <tmp>/chromium. That file may be half-written (a run stopped
 * during the unpack) or another version's, so a stamp written after a complete unpack records what
 * is there; anything without a matching stamp is unpacked again. A lock keeps two runs from
 * unpacking at once.
 */
export async function bundledChromiumPath(): Promise<string> {
  const tmp = os.tmpdir();
  const binary = path.join(tmp, 'chromium');
  const stampFile = path.join(tmp, 'chromium.lantoa-stamp.json');
  const version = packageVersion();
  return withLock(path.join(tmp, 'chromium.lantoa-lock'), async () => {
    const stat = fs.statSync(binary, { throwIfNoEntry: false });
    if (stat) {
      let stamp: { version?: string; size?: number; mtimeMs?: number } = {};
      try {
        stamp = JSON.parse(fs.readFileSync(stampFile, 'utf8'));
      } catch {
        // no stamp: not known to be complete
      }
      if (stamp.version !== version || stamp.size !== stat.size || stamp.mtimeMs !== stat.mtimeMs) fs.rmSync(binary, { force: true });
    }
    const exe = await sparticuz.executablePath();
    const done = fs.statSync(exe);
    fs.writeFileSync(stampFile, JSON.stringify({ version, size: done.size, mtimeMs: done.mtimeMs }));
    return exe;
  });
}

export interface ChromiumSession {
  readonly context: BrowserContext;
  /** The binary that was started (for messages). */
  readonly executablePath: string;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh profile; `close()` also removes the profile. */
export async function launchChromium(opts: { locale?: string } = {}): Promise<ChromiumSession> {
  const { chromiumPath } = loadTestEnv();
  let executablePath: string;
  let args: string[];
  if (chromiumPath) {
    if (!fs.existsSync(chromiumPath)) {
      throw new Error(
        `CHROMIUM_PATH is set to ${chromiumPath}, which does not exist. Unset it to use the Chromium of the @sparticuz/chromium package.`,
      );
    }
    executablePath = chromiumPath;
    args = SYSTEM_ARGS;
  } else {
    sparticuz.setGraphicsMode = false; // no WebGL needed: no SwiftShader flags
    executablePath = await bundledChromiumPath();
    args = [...sparticuz.args.filter((a) => !WEAKENING.has(a)), ...QUIET];
  }
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(userDataDir, { executablePath, headless: true, args, locale: opts.locale });
    return {
      context,
      executablePath,
      async close() {
        await context.close();
        fs.rmSync(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    fs.rmSync(userDataDir, { recursive: true, force: true });
    throw err;
  }
}

/** Where the browser tests leave their screenshots: test/artifacts (ignored by git). */
export const ARTIFACTS = path.resolve(__dirname, '../artifacts');

/** The path of the file `name` in ARTIFACTS, the folder created if need be. */
export function artifactPath(name: string): string {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

/** A screenshot of the page's viewport (or of the whole page, with `fullPage`) to ARTIFACTS/`name`. */
export async function screenshot(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<void> {
  await page.screenshot({ path: artifactPath(name), fullPage: opts.fullPage ?? false });
}

/** The viewports the dashboard tests use: a desktop window and a narrow phone. */
export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 375, height: 812 };

/**
 * Collects the page's uncaught script errors and console errors into `problems`, which a test checks at
 * its end (less the failed fetches it expects: the browser logs a 4xx answer as a console error).
 */
export function trackProblems(page: Page, problems: string[]): Page {
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  return page;
}

/** A new tab in `context` of the given size (DESKTOP unless told), its problems collected into `problems`. */
export async function openPage(context: BrowserContext, problems: string[], viewport = DESKTOP): Promise<Page> {
  const page = await context.newPage();
  await page.setViewportSize(viewport);
  return trackProblems(page, problems);
}

/** Signs in on the dashboard at `apiUrl` with `key` (sessionStorage: this tab only) and waits for the posts view. */
export async function signIn(page: Page, apiUrl: string, key: string): Promise<void> {
  await page.goto(`${apiUrl}/dashboard`);
  await page.getByLabel('Khóa API').fill(key);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.getByRole('heading', { level: 1, name: 'Bài đăng' }).waitFor();
}
