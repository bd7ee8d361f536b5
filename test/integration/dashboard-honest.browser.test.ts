import type { Page } from 'playwright-core';
import { launchChromium, openPage, screenshot, signIn, type ChromiumSession } from '../helpers/browser';
import { testDatabases } from '../helpers/databases';
import { seedOrganisation, SMALL_TREE_UNITS, startTestStack, waitFor, type TestStack } from '../helpers/stack';
import type { ApiClient } from '../../src/cli/api-client';

/**
 * The dashboard tells what happened and what can be done, in a headless Chromium against the real
 * stack (API → BullMQ → workers → simulator): a recalled post reads as recalled everywhere (badge,
 * counts, no link to the deleted copies), a failure group of broken tokens offers a reconnect link
 * instead of a retry that would fail at once, "Pages needing attention" shows each unit's parents and
 * its reason in the chosen language, a missing post shows only the localized message, and dates have
 * one format per language. A small tree of the 2025-07 shape (two levels: level 2 is the communes).
 */

/** Their Page tokens are invalidated on the simulator (190/460: password changed) before the Hà Nội post. */
const BROKEN = ['00008', '00025'];
const RECALL_REASON = 'Thông tin sai ngày tổ chức';

describe('dashboard: recall, retry and Pages told honestly, in chromium', () => {
  let s: TestStack;
  let editor: ApiClient;
  let approver: ApiClient;
  let browser: ChromiumSession;
  let recalledId: string;
  let failedId: string;
  let levelsId: string;
  const problems: string[] = [];

  /** Signs in with the bootstrap admin key (connect links are for admins), then opens `hash`. */
  async function signInAsAdmin(page: Page, hash = ''): Promise<void> {
    await signIn(page, s.apiUrl, s.adminKey);
    if (hash) await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
  }

  const final = (id: string, statuses: string[]) =>
    waitFor(async () => {
      const p = await editor.getPost(id);
      return statuses.includes(p.status) ? p : null;
    }, 60_000);

  beforeAll(async () => {
    // Configured for connect links (app id and secret), so the relink buttons get real links.
    s = await startTestStack(testDatabases()[0]!, 'dash-honest', {
      simulator: { latency: { kind: 'fixed', ms: 5 } },
      env: { FB_APP_ID: '100000000000001', FB_APP_SECRET: 'sim-app-secret' },
      connectFlow: true,
    });
    const { pages } = await seedOrganisation(s, SMALL_TREE_UNITS);
    const pageOf = new Map(pages.map((p) => [p.unitCode, p.pageId]));
    editor = s.admin.withKey((await s.admin.createKey({ name: 'Ban Tuyên giáo', role: 'editor', unit: 'root' })).key);
    approver = s.admin.withKey((await s.admin.createKey({ name: 'Thường trực', role: 'approver', unit: 'root' })).key);

    // Hồ Chí Minh: written by the bootstrap admin, published on its 3 Pages, then recalled.
    const recalled = await s.admin.createPost({ message: 'TP.HCM: lịch Ngày hội Đại đoàn kết', target: { unit: '79', scope: 'subtree' } });
    recalledId = recalled.id;
    await approver.approve(recalledId);
    await final(recalledId, ['published']);
    await approver.recall(recalledId, RECALL_REASON);
    await final(recalledId, ['recalled']);

    // Hà Nội: two Pages have lost their token, so two deliveries fail with password_changed.
    for (const c of BROKEN) s.sim.invalidateToken(pageOf.get(c)!, 460);
    const failed = await editor.createPost({ message: 'Hà Nội: thông báo lịch tiếp dân', target: { unit: '01', scope: 'subtree' } });
    failedId = failed.id;
    await approver.approve(failedId);
    await final(failedId, ['partially_failed']);

    // Waiting for approval, to the communes of Hà Nội only: level 2 of this two-level tree.
    levelsId = (await editor.createPost({ message: 'Hà Nội: gửi các phường', target: { unit: '01', scope: 'subtree', levels: [2] } })).id;

    browser = await launchChromium({ locale: 'vi-VN' });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await s?.dispose();
  });

  it('counts a recall in the API roll-ups the views draw', async () => {
    const tree = await s.app.inject({
      method: 'GET',
      url: `/v1/posts/${recalledId}/tree`,
      headers: { authorization: `Bearer ${s.adminKey}` },
    });
    expect(tree.json().node.counts).toMatchObject({ published: 0, recalled: 3, recall_failed: 0, recalling: 0, total: 3 });
    const me = await s.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${s.adminKey}` } });
    expect(me.json().deepestLevel).toBe(2);
  });

  it('shows a recalled post as recalled: badge, recall counts, filters, no link to the deleted copies', async () => {
    const page = await openPage(browser.context, problems);
    await signInAsAdmin(page);
    const card = page.locator(`[data-post-id="${recalledId}"]`);
    const badge = card.locator('.badge.badge--recalled', { hasText: 'Đã thu hồi' });
    await badge.waitFor();
    // Styled: the badge has a colour of its own, not the unstyled default.
    expect(await badge.evaluate((el: any) => (globalThis as any).getComputedStyle(el).backgroundColor)).not.toBe('rgba(0, 0, 0, 0)');
    const caption = await card.locator('.bar__caption').innerText();
    expect(caption).toContain('Đã thu hồi');
    expect(caption).toContain('3 / 3 Trang');
    expect(caption).toContain('đã thu hồi 3');
    expect(caption).not.toMatch(/0%|đã đăng 0/);
    expect(await card.locator('.progress').getAttribute('data-phase')).toBe('recall');
    // Who recalled it, when and why.
    const recall = await card.locator('.post-card__recall').innerText();
    expect(recall).toContain('Thường trực');
    expect(recall).toContain(RECALL_REASON);
    expect(recall).toMatch(/\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/);
    // The bootstrap admin is named in words, never by its variable.
    expect(await card.innerText()).toContain('Quản trị viên hệ thống (khóa khởi tạo)');
    expect(await page.locator('main').innerText()).not.toContain('ADMIN_API_KEY');

    // Levels are named by the tree: level 2 of the 2025-07 tree is the communes, not the districts.
    const levels = await page.locator(`[data-post-id="${levelsId}"] .meta`).innerText();
    expect(levels).toContain('cấp: xã/phường');
    expect(levels).not.toContain('quận/huyện');

    // The status filter offers the recall statuses, and finds the post under "Đã thu hồi".
    const options = await page.locator('#post-filter option').evaluateAll((els: any[]) => els.map((e) => e.value as string));
    expect(options).toEqual(expect.arrayContaining(['recalling', 'recalled']));
    await page.locator('#post-filter').selectOption('recalled');
    await page.locator(`.post-card[data-post-id="${failedId}"]`).waitFor({ state: 'detached' });
    expect(await page.locator('.post-card').count()).toBe(1);
    await screenshot(page, 'dashboard-honest-recalled-list.png');

    await card.getByRole('link').click();
    await page.getByRole('heading', { level: 1, name: 'Chi tiết bài đăng' }).waitFor();
    await page.locator('.tree-node[data-code="26734"] .badge', { hasText: 'Đã thu hồi' }).waitFor();
    // The Page list opens on the recalled Pages (not on "published", which is empty now).
    expect(await page.locator('#delivery-filter').inputValue()).toBe('recalled');
    await page.locator('.delivery[data-unit="26734"]', { hasText: 'Bài đã bị xóa khỏi Trang' }).waitFor();
    expect(await page.locator('.delivery').count()).toBe(3);
    const deliveryOptions = await page.locator('#delivery-filter option').evaluateAll((els: any[]) => els.map((e) => e.value as string));
    expect(deliveryOptions).toEqual(expect.arrayContaining(['', 'recalling', 'recalled', 'recall_failed']));
    // No "Xem bài" to a deleted Facebook post, in the tree or the list.
    expect(await page.getByRole('link', { name: /Xem bài/ }).count()).toBe(0);
    expect(await page.locator('a[href*="facebook.com"]').count()).toBe(0);
    const summary = await page.locator('.post-summary .bar__caption').innerText();
    expect(summary).toContain('Đã thu hồi');
    expect(summary).toContain('3 / 3 Trang');
    await screenshot(page, 'dashboard-honest-recalled-post.png', { fullPage: true });
    await page.close();
  });

  it('points a broken-token failure group to reconnecting, not to a retry that fails at once', async () => {
    const page = await openPage(browser.context, problems);
    await signInAsAdmin(page, `#/posts/${failedId}`);
    const group = page.locator('.failure', { hasText: 'Mã truy cập bị vô hiệu (đổi mật khẩu)' });
    await group.locator('.failure__count', { hasText: String(BROKEN.length) }).waitFor();
    expect(await group.getAttribute('data-action')).toBe('relink');
    expect(await group.getByRole('button', { name: 'Thử lại nhóm này' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Thử lại tất cả lỗi' }).count()).toBe(0);
    await group.getByText('hãy kết nối lại Trang trước', { exact: false }).waitFor();
    // Each affected unit has its own connect link.
    for (const c of BROKEN) await group.locator(`.relink-item[data-unit="${c}"]`).waitFor();
    await group.getByRole('button', { name: 'Tạo liên kết kết nối lại cho Phường Ngọc Hà' }).click();
    const url = await group.locator('.relink-item[data-unit="00008"] input.relink__url').inputValue();
    expect(url).toMatch(/^https?:\/\/.+/);
    // Asking anyway: the server requeues only reconnected Pages, and the view says what it left.
    await group.getByRole('button', { name: 'Đăng lại lên các Trang đã kết nối lại' }).click();
    await group.getByRole('button', { name: 'Xác nhận' }).click();
    const notice = page.locator('.notice:not([hidden])');
    await notice.waitFor();
    expect(await notice.innerText()).toContain(`Bỏ qua ${BROKEN.length} Trang cần kết nối lại trước`);
    await screenshot(page, 'dashboard-honest-relink.png', { fullPage: true });
    await page.close();
  });

  it('lists Pages needing attention with their parents, translated reasons and a relink action, in vi and en', async () => {
    const page = await openPage(browser.context, problems);
    await signInAsAdmin(page, '#/pages');
    await page.getByRole('heading', { level: 1, name: 'Trang cần xử lý' }).waitFor();
    const item = page.locator('.page-item[data-unit="00008"]');
    await item.waitFor();
    expect(await item.locator('.page-item__path').innerText()).toContain('Thành phố Hà Nội');
    const reason = item.locator('.page-item__reason');
    await reason.getByText('Mã truy cập bị vô hiệu (đổi mật khẩu)').waitFor();
    // The server's English detail is folded away, not shown as the reason.
    expect(await reason.locator('strong').innerText()).not.toMatch(/password|token/i);
    expect(await reason.locator('details').getAttribute('open')).toBeNull();
    await item.getByRole('button', { name: 'Tạo liên kết kết nối lại cho Phường Ngọc Hà' }).waitFor();
    // One date format per language: 02/12/2026 14:05.
    expect(await item.innerText()).toMatch(/Kiểm tra lúc \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/);
    await screenshot(page, 'dashboard-honest-pages-vi.png', { fullPage: true });

    await page.getByRole('button', { name: /Switch to English/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Pages needing attention' }).waitFor();
    const en = page.locator('.page-item[data-unit="00008"]');
    await en.locator('.page-item__reason').getByText('Token invalidated (password changed)').waitFor();
    expect(await en.locator('.page-item__path').innerText()).toContain('Thành phố Hà Nội');
    await en.getByRole('button', { name: 'Create a reconnect link for Phường Ngọc Hà' }).waitFor();
    expect(await en.innerText()).toMatch(/Checked \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}/);
    await screenshot(page, 'dashboard-honest-pages-en.png', { fullPage: true });
    // The language is kept in localStorage for the whole browser profile: back to Vietnamese for the next test.
    await page.getByRole('button', { name: 'Tiếng Việt' }).click();
    await page.getByRole('heading', { level: 1, name: 'Trang cần xử lý' }).waitFor();
    await page.close();
  });

  it('shows a missing post with the localized message only', async () => {
    const page = await openPage(browser.context, problems);
    await signInAsAdmin(page, '#/posts/00000000-0000-4000-8000-000000000000');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = await alert.innerText();
    expect(text).toContain('Không tìm thấy bài đăng này');
    expect(text).not.toMatch(/not found|post 0000/i);
    await page.getByRole('button', { name: /Switch to English/ }).click();
    const en = page.getByRole('alert');
    await en.filter({ hasText: 'This post was not found' }).waitFor();
    expect(await en.innerText()).not.toMatch(/Không|post 0000/);
    await page.getByRole('button', { name: 'Tiếng Việt' }).click();
    await page.close();
  });

  it('raised no script error', () => {
    // The 404 of the missing post is logged by the browser as a failed fetch; nothing else may be.
    expect(problems.filter((p) => !/status of 404/.test(p))).toEqual([]);
  });
});
