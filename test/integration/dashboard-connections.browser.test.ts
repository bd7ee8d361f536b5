import fs from 'node:fs';
import type { Page } from 'playwright-core';
import { launchChromium, openPage, PHONE, screenshot, signIn, type ChromiumSession } from '../helpers/browser';
import { testDatabases } from '../helpers/databases';
import { seedOrganisation, SMALL_TREE_UNITS, startTestStack, type TestStack } from '../helpers/stack';

/**
 * The "Page connections" view in a headless Chromium against the real stack (like
 * dashboard-reorganise.browser.test.ts): a small tree whose Pages are in every state, the root's
 * numbers, a province's bar, the "missing" filter, a view-only key scoped to its province, and the
 * connect-link buttons (which answer 404 until the connect-links routes are on the server: either
 * the notice or the link is accepted, and the test says which it got).
 */

/** No Page at all: missing. */
const NO_PAGE = new Set(['00070', '26737']);
/** A Page whose token must be re-authorised, and one that expires soon; every other Page is valid. */
const NEEDS_REAUTH = ['00008', '79'];
const EXPIRING = ['00025'];

/*
 * Expected (each unit once, in the best state of its Pages; a subtree includes its own unit):
 * - root (9 units): connected root, 01, 00004, 26734 = 4; needs re-auth 00008, 79 = 2; expiring 00025 = 1;
 *   missing 00070, 26737 = 2. 4 / 9 = 44 %.
 * - 01 (5 units): connected 01, 00004 = 2; needs re-auth 1; expiring 1; missing 1. 40 %.
 * - 79 (3 units): connected 26734 = 1; needs re-auth 1; expiring 0; missing 1. 33 %.
 */
const ROOT = { units: 9, connected: 4, needsReauth: 2, expiring: 1, missing: 2, percent: 44 };
/** The data-* attributes of a coverage bar. */
const DATA = {
  units: 'data-units',
  connected: 'data-connected',
  needsReauth: 'data-needs-reauth',
  expiring: 'data-expiring',
  missing: 'data-missing',
  percent: 'data-percent',
};
const HANOI = { units: 5, connected: 2, needsReauth: 1, expiring: 1, missing: 1, percent: 40 };

describe('dashboard Page connections in chromium', () => {
  let s: TestStack;
  let viewerKey: string;
  let browser: ChromiumSession;
  const problems: string[] = [];
  const outcomes: string[] = [];

  async function openView(page: Page): Promise<void> {
    await page.getByRole('link', { name: 'Kết nối Trang' }).click();
    await page.getByRole('heading', { level: 1, name: 'Kết nối Trang' }).waitFor();
  }

  /** The numbers a coverage bar carries (data-*), as numbers. */
  async function numbers(page: Page, selector: string) {
    const el = page.locator(selector);
    const out: Record<string, number> = {};
    for (const [k, attr] of Object.entries(DATA)) out[k] = Number(await el.getAttribute(attr));
    return out;
  }

  const rowBar = (code: string) => `.cov-node[data-code="${code}"] > .tree-row .cov-progress`;

  beforeAll(async () => {
    // Configured for connect links (app id and secret, PUBLIC_BASE_URL = this API), so the buttons get real links.
    s = await startTestStack(testDatabases()[0]!, 'dash-cov', {
      simulator: { latency: { kind: 'fixed', ms: 5 } },
      env: { FB_APP_ID: '100000000000001', FB_APP_SECRET: 'sim-app-secret' },
      connectFlow: true,
      // No workers: with the app configured, the new-token check queued by the import would overwrite the statuses set below.
      workers: false,
    });
    const { pages } = await seedOrganisation(s, SMALL_TREE_UNITS, { only: (code) => !NO_PAGE.has(code) });
    const pageOf = new Map(pages.map((p) => [p.unitCode, p.pageId]));
    // Imported tokens are "not checked yet" (missing); mark them checked and valid, then break a few.
    const now = new Date().toISOString();
    await s.deps.store.db.updateTable('pages').set({ token_status: 'valid', token_checked_at: now }).execute();
    for (const c of NEEDS_REAUTH) await s.deps.ledger.markPageNeedsReauth(pageOf.get(c)!, 'token_invalid: session invalidated');
    await s.deps.store.db
      .updateTable('pages')
      .set({ token_status: 'expiring', token_status_reason: 'token_expired: expires in 3 days', token_checked_at: now })
      .where('unit_code', 'in', EXPIRING)
      .execute();
    viewerKey = (await s.admin.createKey({ name: 'Cán bộ Hà Nội', role: 'viewer', unit: '01' })).key;
    browser = await launchChromium({ locale: 'vi-VN' });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await s?.dispose();
  });

  it("shows the root's coverage, a child's bar and the units missing a Page", async () => {
    const page = await openPage(browser.context, problems);
    await signIn(page, s.apiUrl, s.adminKey);
    await openView(page);

    // The root, opened one level: its numbers, in the tree and in the panel of the selected unit.
    await page.locator(rowBar('root')).waitFor();
    expect(await numbers(page, rowBar('root'))).toEqual(ROOT);
    const panel = page.locator('.cov-panel');
    await panel.locator('.cov-levels-table tbody tr').first().waitFor();
    expect(await numbers(page, '.cov-panel .cov-progress')).toEqual(ROOT);
    const rootBar = page.getByRole('progressbar', { name: 'Kết nối Trang của Ủy ban Trung ương' }).first();
    expect(await rootBar.getAttribute('aria-valuenow')).toBe('44');
    expect(await rootBar.getAttribute('aria-valuetext')).toBe(
      '44% đã kết nối — 4 trên 9 đơn vị; 2 cần kết nối lại, 1 sắp hết hạn, 2 chưa kết nối',
    );
    // Per level: root 1 connected; cities 2 units, both needing…: 01 connected, 79 needs re-auth; wards 6.
    const levelRows = await panel.locator('.cov-levels-table tbody tr').allInnerTexts();
    expect(levelRows.map((r) => r.split('\t').map((c) => c.trim()))).toEqual([
      ['Trung ương', '1', '1', '0', '0', '0'],
      ['tỉnh/thành', '2', '1', '1', '0', '0'],
      ['xã/phường', '6', '2', '1', '1', '2'],
    ]);

    // A child's bar, loaded with the root's level; its own children load when it is opened.
    expect(await numbers(page, rowBar('01'))).toEqual(HANOI);
    expect(await page.locator(rowBar('01')).innerText()).toContain('2 / 5 đơn vị đã kết nối');
    expect(await page.locator('.cov-node[data-code="00004"]').count()).toBe(0);
    await page.getByRole('button', { name: 'Mở các đơn vị thuộc Thành phố Hà Nội' }).click();
    await page.locator('.cov-node[data-code="00070"]').waitFor();
    expect(await numbers(page, rowBar('00070'))).toEqual({ units: 1, connected: 0, needsReauth: 0, expiring: 0, missing: 1, percent: 0 });
    expect(await page.locator('.cov-node[data-code="00070"] > .tree-row .tree-toggle--leaf').count()).toBe(1);

    // "Missing" under the root, then under Hà Nội.
    await panel.getByRole('button', { name: 'Chưa kết nối', exact: true }).click();
    await panel.locator('.cov-units tbody tr').first().waitFor();
    expect(await panel.locator('.cov-units tbody tr td:nth-child(2)').allInnerTexts()).toEqual(['00070', '26737']);
    expect(await panel.locator('.cov-truncated').count()).toBe(0);
    await screenshot(page, 'dashboard-connections-missing.png', { fullPage: true });
    await page.locator('.cov-node[data-code="01"] > .tree-row .cov-select').click();
    await panel.locator('h2', { hasText: 'Thành phố Hà Nội' }).waitFor();
    await waitForRows(page, ['00070']);
    expect(await numbers(page, '.cov-panel .cov-progress')).toEqual(HANOI);
    await panel.getByRole('button', { name: 'Cần kết nối lại', exact: true }).click();
    await waitForRows(page, ['00008']);
    await page.close();
  });

  /** Waits until the units table of the panel lists exactly these codes. */
  async function waitForRows(page: Page, codes: string[]): Promise<void> {
    const cells = page.locator('.cov-panel .cov-units tbody tr td:nth-child(2)');
    const deadline = Date.now() + 10_000;
    for (;;) {
      const got = await cells.allInnerTexts();
      if (JSON.stringify(got) === JSON.stringify(codes)) return;
      if (Date.now() > deadline) expect(got).toEqual(codes);
      await page.waitForTimeout(50);
    }
  }

  it('creates a connect link and downloads the links CSV, or says the server cannot yet', async () => {
    const page = await openPage(browser.context, problems);
    await signIn(page, s.apiUrl, s.adminKey);
    await openView(page);
    await page.locator('.cov-node[data-code="79"] > .tree-row .cov-select').click();
    const panel = page.locator('.cov-panel');
    await panel.locator('h2', { hasText: 'Thành phố Hồ Chí Minh' }).waitFor();

    await panel.getByRole('button', { name: 'Tạo liên kết kết nối' }).click();
    const unavailable = panel.locator('.notice--warn', { hasText: 'chưa tạo được liên kết kết nối' });
    const link = panel.locator('#cov-link-url');
    await unavailable.or(link).waitFor();
    if (await link.count()) {
      expect(await link.inputValue()).toMatch(/^https?:\/\/.+\/connect\/[\w-]{20,}$/);
      expect(await panel.locator('.cov-link__expiry').innerText()).toMatch(/Dùng được đến \d/);
      await page.getByRole('button', { name: 'Sao chép' }).click();
      await panel.locator('.cov-link [role="status"]').filter({ hasText: /\S/ }).waitFor();
      outcomes.push('connect link: URL shown');
    } else {
      outcomes.push('connect link: 404 notice');
    }

    const download = page.waitForEvent('download', { timeout: 10_000 }).catch(() => null);
    await panel.getByRole('button', { name: 'Tải CSV liên kết cho các đơn vị thiếu' }).click();
    const done = panel.locator('.cov-actions .notice', { hasText: /Đã tải|chưa tạo được liên kết|đều đã có Trang/ });
    await done.waitFor();
    if (/Đã tải/.test(await done.innerText())) {
      const file = await download;
      expect(file).not.toBeNull();
      const text = fs.readFileSync((await file!.path())!, 'utf8').replace(/^\uFEFF/, '');
      const lines = text.trim().split(/\r?\n/);
      expect(lines[0]).toBe('unit_code,unit_name,url,expires_at');
      // Under 79: no healthy Page on 79 (needs re-auth) and 26737 (no Page); 26734 is connected.
      expect(
        lines
          .slice(1)
          .map((l) => l.split(',')[0])
          .sort(),
      ).toEqual(['26737', '79']);
      outcomes.push('links CSV: downloaded');
    } else {
      outcomes.push('links CSV: 404 notice');
    }
    await screenshot(page, 'dashboard-connections-links.png', { fullPage: true });
    await page.close();
  });

  it('shows a view-only key its own province, without the connect-link buttons, and fits 375 px', async () => {
    const page = await openPage(browser.context, problems, PHONE);
    await signIn(page, s.apiUrl, viewerKey);
    await openView(page);
    await page.locator(rowBar('01')).waitFor();
    expect(await page.locator(rowBar('root')).count()).toBe(0);
    expect(await numbers(page, rowBar('01'))).toEqual(HANOI);
    await page.locator('.cov-node[data-code="00004"]').waitFor();
    expect(await page.getByRole('button', { name: 'Tạo liên kết kết nối' }).count()).toBe(0);
    await page.locator('.cov-panel .hint', { hasText: 'Chỉ khóa quản trị' }).waitFor();
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(PHONE.width);
    await screenshot(page, 'dashboard-connections-mobile.png', { fullPage: true });
    await page.close();
  });

  it('raised no script error and no content-security-policy violation', () => {
    // Expected failed fetches, which the browser logs: the connect-link routes that are not on this server yet (404).
    expect(problems.filter((p) => !/status of 404/.test(p))).toEqual([]);
    // Which of the two answers the connect-link buttons got (see the report).
    process.stdout.write(`connect-link outcomes: ${outcomes.join('; ')}\n`);
  });
});
