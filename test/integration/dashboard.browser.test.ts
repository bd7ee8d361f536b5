import { artifactPath, launchChromium, openPage, PHONE, screenshot, signIn, type ChromiumSession } from '../helpers/browser';
import { testDatabases } from '../helpers/databases';
import { seedOrganisation, startTestStack, waitFor, type TestStack } from '../helpers/stack';
import type { ApiClient } from '../../src/cli/api-client';

/**
 * The dashboard in a headless Chromium (the one the @sparticuz/chromium package ships, or CHROMIUM_PATH;
 * see helpers/browser.ts), driven by playwright-core, while a real fan-out runs: API → BullMQ →
 * workers → simulator with latency. One database is enough here: the read models behind every screen
 * run on both dialects in api/dashboard-api.test.ts. The post is national, on the current tree (3,356 Pages):
 * root, then its provinces, then their communes, so opening a province fetches a level of its own.
 */
const BROKEN = ['00004', '00008', '00025'];

describe('dashboard in chromium during a real fan-out', () => {
  let s: TestStack;
  let editor: ApiClient;
  let approver: ApiClient;
  let approverKey: string;
  let browser: ChromiumSession;
  let postId: string;
  const problems: string[] = [];

  beforeAll(async () => {
    s = await startTestStack(testDatabases()[0]!, 'dash-ui', {
      simulator: { latency: { kind: 'fixed', ms: 20 } },
      env: { WORKER_CONCURRENCY: '4' },
    });
    const { pages } = await seedOrganisation(s);
    const pageOf = new Map(pages.map((p) => [p.unitCode, p.pageId]));
    editor = s.admin.withKey((await s.admin.createKey({ name: 'Ban Tuyên giáo Trung ương', role: 'editor', unit: 'root' })).key);
    approverKey = (await s.admin.createKey({ name: 'Thường trực Trung ương', role: 'approver', unit: 'root' })).key;
    approver = s.admin.withKey(approverKey);
    for (const c of BROKEN) s.sim.invalidateToken(pageOf.get(c)!, 460);
    const now = new Date().toISOString();
    await s.deps.store.db
      .updateTable('pages')
      .set({ token_status: 'expiring', token_status_reason: 'token_expired: the Page token expires in 3 days', token_checked_at: now })
      .where('unit_code', '=', '79')
      .execute();
    // An earlier post, already published, and one still waiting for approval.
    const earlier = await editor.createPost({
      message: 'Hà Nội: lịch tiếp công dân tháng 12',
      target: { unit: '01', scope: 'self' },
    });
    await approver.approve(earlier.id);
    await waitFor(async () => (await editor.getPost(earlier.id)).status === 'published');
    const post = await editor.createPost({
      message:
        'Ủy ban Trung ương MTTQ Việt Nam thông báo: Ngày hội Đại đoàn kết toàn dân tộc năm 2026 được tổ chức tại tất cả khu dân cư. Kính mời bà con tham gia!',
      link: 'https://mattran.org.vn/',
      target: { unit: 'root', scope: 'subtree' },
    });
    postId = post.id;
    browser = await launchChromium({ locale: 'vi-VN' });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await s?.dispose();
  });

  it('signs in, follows the fan-out live to 100 %, opens the tree, switches language', async () => {
    const page = await openPage(browser.context, problems);
    await page.goto(`${s.apiUrl}/dashboard`);
    expect(page.url()).toBe(`${s.apiUrl}/dashboard/`);
    await page.getByRole('heading', { name: 'Đăng nhập' }).waitFor();
    await screenshot(page, 'dashboard-signin.png');
    await page.getByLabel('Khóa API').fill('lt_wrong_key_wrong_key');
    await page.getByRole('button', { name: 'Đăng nhập' }).click();
    await page.getByRole('alert').filter({ hasText: 'Khóa không đúng' }).waitFor();
    await page.getByLabel('Khóa API').fill(approverKey);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Bài đăng' }).waitFor();
    expect(page.url()).not.toContain(approverKey);

    const card = page.locator(`[data-post-id="${postId}"]`);
    await card.locator('.badge', { hasText: 'Chờ duyệt' }).waitFor();
    expect(await page.locator('.post-card').count()).toBe(2);

    // Approval happens elsewhere; the open page follows through its event stream, without reloading.
    await approver.approve(postId);
    await card.locator('.progress:not([data-total="0"])').waitFor({ timeout: 30_000 });
    await screenshot(page, 'dashboard-posts-live.png');
    await card.locator('.progress[data-percent="100"]').waitFor({ timeout: 90_000 });
    await card.locator('.badge', { hasText: 'Đăng một phần' }).waitFor();
    expect(await card.locator('.bar__caption').innerText()).toContain('3.356 / 3.356 Trang');
    await screenshot(page, 'dashboard-posts.png');

    await card.getByRole('link').click();
    await page.getByRole('heading', { level: 1, name: 'Chi tiết bài đăng' }).waitFor();
    const top = page.locator('.tree-node[data-code="root"]');
    await top.locator('.tree-toggle[aria-expanded="true"]').waitFor();
    const hanoi = page.locator('.tree-node[data-code="01"]');
    await hanoi.locator('> .tree-row .bar__caption', { hasText: '127 / 127' }).waitFor();
    // Keyboard: the toggle is a real button.
    await hanoi.locator('> .tree-row .tree-toggle').focus();
    await page.keyboard.press('Enter');
    await page.locator('.tree-node[data-code="00004"] .badge', { hasText: 'Lỗi' }).waitFor();
    expect(await hanoi.locator('> .tree-row .tree-toggle').getAttribute('aria-expanded')).toBe('true');
    expect(await page.getByRole('link', { name: 'Xem bài trên Trang Facebook của Phường Hoàn Kiếm' }).getAttribute('href')).toMatch(
      /^https:\/\/www\.facebook\.com\//,
    );
    await page.locator('.failure', { hasText: 'Mã truy cập bị vô hiệu' }).locator('.failure__count', { hasText: '3' }).waitFor();
    await screenshot(page, 'dashboard-post.png');
    await screenshot(page, 'dashboard-post-full.png', { fullPage: true });
    await page.locator('section.card', { hasText: 'Lỗi theo nguyên nhân' }).screenshot({ path: artifactPath('dashboard-failures.png') });

    await page.getByRole('button', { name: /Switch to English/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Post details' }).waitFor();
    await page.locator('.failure', { hasText: 'Token invalidated (password changed)' }).waitFor();
    await page.locator('.tree-node[data-code="root"] .bar__caption', { hasText: '3,356 / 3,356 Pages' }).first().waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await screenshot(page, 'dashboard-post-en.png');

    // Broken tokens: no plain retry (it would fail at once), but reconnecting first; asked anyway, the
    // server leaves the Pages that were not reconnected, and the view says so.
    const group = page.locator('.failure', { hasText: 'Token invalidated (password changed)' });
    expect(await group.getAttribute('data-action')).toBe('relink');
    expect(await group.getByRole('button', { name: 'Retry these' }).count()).toBe(0);
    await group.getByRole('button', { name: 'Post again to the Pages already reconnected' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.locator('.notice:not([hidden])').waitFor();
    expect(await page.locator('.notice').innerText()).toContain(`Left ${BROKEN.length} Pages that must be reconnected first`);

    await page.getByRole('link', { name: 'Pages needing attention' }).click();
    await page.locator('.page-item[data-unit="00004"] .badge', { hasText: 'Reconnect' }).waitFor();
    await page.locator('.page-item[data-unit="79"]', { hasText: 'Access token expired' }).waitFor();
    expect(await page.locator('.page-item').count()).toBe(BROKEN.length + 1);
    await page.getByRole('button', { name: 'Tiếng Việt' }).click();
    await page.getByRole('heading', { level: 1, name: 'Trang cần xử lý' }).waitFor();
    await screenshot(page, 'dashboard-pages.png');

    await page.getByRole('link', { name: 'Hàng đợi' }).click();
    await page.locator('.throughput', { hasText: 'Trang/giây' }).waitFor();
    await page.locator('.stat[data-state="waiting"]').first().waitFor();
    await screenshot(page, 'dashboard-queues.png');
    await page.close();
  });

  it('is readable at 375 px wide (no sideways scrolling)', async () => {
    const page = await openPage(browser.context, problems, PHONE);
    await signIn(page, s.apiUrl, approverKey);
    const overflow = async () => Number(await page.evaluate('document.documentElement.scrollWidth'));
    expect(await overflow()).toBeLessThanOrEqual(PHONE.width);
    await screenshot(page, 'dashboard-mobile-posts.png');
    await page.locator(`[data-post-id="${postId}"]`).getByRole('link').click();
    await page.locator('.tree-node[data-code="01"]').waitFor();
    await page.locator('.tree-node[data-code="01"] > .tree-row .tree-toggle').click();
    await page.locator('.tree-node[data-code="00004"]').waitFor();
    expect(await overflow()).toBeLessThanOrEqual(PHONE.width);
    await screenshot(page, 'dashboard-mobile-post.png');
    await page.close();
  });

  it('raised no script error and no content-security-policy violation', () => {
    // Expected failed fetches, which the browser logs: the wrong key at sign-in (401) and the retry
    // route, which may answer 404 until it is merged.
    expect(problems.filter((p) => !/status of (401|404)/.test(p))).toEqual([]);
  });
});
