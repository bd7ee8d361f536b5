import type { Page } from 'playwright-core';
import { launchChromium, openPage, PHONE, screenshot, signIn, type ChromiumSession } from '../helpers/browser';
import { testDatabases } from '../helpers/databases';
import { seedOrganisation, SMALL_TREE_UNITS, startTestStack, waitFor, type TestStack } from '../helpers/stack';

/**
 * An editor's and an approver's day in a headless Chromium against the real stack (API → BullMQ →
 * workers → simulator): the editor composes a post on the tree (its preview checked against the API),
 * the approver finds it in "Chờ duyệt" and rejects it with a reason, the editor sees why, edits and
 * resubmits, the approver approves, the post reaches its Pages, the editor recalls it, and the
 * recalled post shows reason, who and when, with no link to a deleted Facebook post. A screenshot of
 * each step goes to test/artifacts/day-*.png.
 */

/** Its Page must be re-authorised: the preview counts it among the units the post cannot reach. */
const BROKEN = '00008';
/** The target the editor builds: Hà Nội's wards (level 2), except Hoàn Kiếm. */
const TARGET = { unit: '01', scope: 'subtree', levels: [2], exclude: ['00070'] };
const REACHED = ['00004', '00008', '00025'];

const EDITOR_NAME = 'Ban Tuyên giáo Hà Nội';
const APPROVER_NAME = 'Thường trực MTTQ Hà Nội';
const FIRST = 'Thông báo: Ngày hội Đại đoàn kết toàn dân tộc tổ chức ngày 18/11 tại các khu dân cư.';
const SECOND = 'Thông báo: Ngày hội Đại đoàn kết toàn dân tộc năm 2026 tổ chức ngày 18/11 tại tất cả khu dân cư. Kính mời bà con tham gia!';
const REJECT_REASON = 'Thiếu năm tổ chức và lời mời bà con; bổ sung rồi gửi lại.';
const RECALL_REASON = 'Đổi ngày tổ chức; sẽ đăng thông báo mới.';

/** The fields of GET /v1/posts/{id} this test reads. */
interface DayPost {
  id: string;
  status: string;
  message: string;
  link: string | null;
  target: unknown;
  counts: Record<string, number>;
  rejection: { by: string; at: string; reason: string } | null;
  recall: { by: string; at: string; reason: string } | null;
  resubmitOf: string | null;
  resubmittedAs: string | null;
}

describe("an editor's and an approver's day in the dashboard (chromium)", () => {
  let s: TestStack;
  let editorKey: string;
  let approverKey: string;
  let browser: ChromiumSession;
  let ed: Page;
  let ap: Page;
  let firstId: string;
  let secondId: string;
  let pageOf: Map<string, string>;
  const problems: string[] = [];

  const shot = (page: Page, name: string) => screenshot(page, `day-${name}.png`, { fullPage: true });

  /** The API as the editor sees it. */
  async function asEditor<T>(method: string, url: string, body?: unknown): Promise<T> {
    const res = await fetch(`${s.apiUrl}${url}`, {
      method,
      headers: { authorization: `Bearer ${editorKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    expect(res.status).toBeLessThan(300);
    return (await res.json()) as T;
  }
  const getPost = (id: string) => asEditor<DayPost>('GET', `/v1/posts/${id}`);
  const apiPreview = (target: unknown) => asEditor<Record<string, unknown>>('POST', '/v1/targets/preview', { target });

  const stat = (page: Page, scope: string, id: string) => page.locator(`${scope} .stat[data-count="${id}"] dd`).innerText();

  beforeAll(async () => {
    s = await startTestStack(testDatabases()[0]!, 'dash-day', {
      simulator: { latency: { kind: 'fixed', ms: 5 } },
      env: { WORKER_CONCURRENCY: '2' },
    });
    const { pages } = await seedOrganisation(s, SMALL_TREE_UNITS);
    pageOf = new Map(pages.map((p) => [p.unitCode, p.pageId]));
    s.sim.invalidateToken(pageOf.get(BROKEN)!, 460);
    await s.deps.store.db
      .updateTable('pages')
      .set({ token_status: 'needs_reauth', token_status_reason: 'password_changed', token_checked_at: new Date().toISOString() })
      .where('unit_code', '=', BROKEN)
      .execute();
    editorKey = (await s.admin.createKey({ name: EDITOR_NAME, role: 'editor', unit: '01' })).key;
    approverKey = (await s.admin.createKey({ name: APPROVER_NAME, role: 'approver', unit: '01' })).key;
    browser = await launchChromium({ locale: 'vi-VN' });
    // Two tabs: each keeps its own key (sessionStorage is per tab).
    ed = await openPage(browser.context, problems);
    ap = await openPage(browser.context, problems);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await s?.dispose();
  });

  it('the editor composes a post on the tree; the preview matches the API; a bad field is shown next to it', async () => {
    await signIn(ed, s.apiUrl, editorKey);
    // An editor composes and never sees the approvals inbox.
    await expect(ed.getByRole('link', { name: 'Chờ duyệt' }).count()).resolves.toBe(0);
    await ed.getByRole('link', { name: 'Soạn bài' }).click();
    await ed.getByRole('heading', { level: 1, name: 'Soạn bài' }).waitFor();
    await ed.getByLabel('Nội dung bài').fill(FIRST);

    // Photos: add one, remove it again.
    await ed.getByRole('button', { name: 'Thêm ảnh' }).click();
    await ed.getByLabel('Địa chỉ ảnh 1').fill('https://example.org/a.jpg');
    await ed.getByRole('button', { name: 'Bỏ ảnh 1' }).click();
    expect(await ed.locator('.photo-row').count()).toBe(0);

    // The picker searches the key's branch only: Hồ Chí Minh's ward is not found, Hà Nội is (without diacritics too).
    const unitSearch = ed.getByLabel('Tìm đơn vị');
    await unitSearch.fill('sai gon');
    await ed.locator('#compose-unit').press('Enter');
    await ed.locator('.picker', { hasText: 'Không có đơn vị nào khớp.' }).first().waitFor();
    await unitSearch.fill('ha noi');
    await ed.locator('#compose-unit').press('Enter');
    await ed.getByRole('button', { name: 'Chọn Thành phố Hà Nội (01)' }).click();
    await ed.locator('#compose-target-chosen', { hasText: 'Thành phố Hà Nội (01)' }).waitFor();

    // Levels: the wards only. Exclusion: Hoàn Kiếm, found by code.
    await ed.locator('#compose-levels input[data-level="2"]').check();
    await ed.getByText('Thêm đơn vị cần trừ').click();
    await ed.locator('#compose-exclude').fill('00070');
    await ed.locator('#compose-exclude').press('Enter');
    await ed.getByRole('button', { name: 'Trừ Phường Hoàn Kiếm (00070)' }).click();
    await ed.locator('#compose-excluded [data-code="00070"]').waitFor();

    // The live preview agrees with what the API says for that target.
    const expected = await apiPreview(TARGET);
    expect(expected).toMatchObject({ units: REACHED.length, pages: REACHED.length, withoutHealthyPage: 1, byLevel: { '2': 3 } });
    await waitFor(async () => (await stat(ed, '#compose-preview', 'units')) === String(expected.units), 10_000);
    expect(await stat(ed, '#compose-preview', 'pages')).toBe(String(expected.pages));
    expect(await stat(ed, '#compose-preview', 'withoutHealthyPage')).toBe(String(expected.withoutHealthyPage));
    expect(await ed.locator('#compose-preview tr[data-level="2"] td').nth(1).innerText()).toBe('3');
    expect(await ed.locator('#compose-preview tr[data-level="1"]').count()).toBe(0);

    // A bad link: the 400 names the field and the message appears next to it; nothing is created.
    await ed.getByLabel('Đường dẫn (không bắt buộc)').fill('not a link');
    await ed.getByRole('button', { name: 'Gửi duyệt' }).click();
    await ed.locator('#compose-link-error:not([hidden])').waitFor();
    expect(await ed.getByLabel('Đường dẫn (không bắt buộc)').getAttribute('aria-invalid')).toBe('true');
    expect((await asEditor<{ items: unknown[] }>('GET', '/v1/posts')).items).toHaveLength(0);
    await shot(ed, '1-compose');

    expect(await ed.locator('#compose-link-error').innerText()).toBe('Đường dẫn phải là một địa chỉ bắt đầu bằng http:// hoặc https://.');

    // A time already past: told next to the schedule.
    await ed.getByLabel('Đường dẫn (không bắt buộc)').fill('https://mattran.org.vn/');
    await ed.getByLabel('Hẹn giờ').check();
    await ed.locator('#compose-when').fill('2020-01-01T08:00');
    await ed.getByRole('button', { name: 'Gửi duyệt' }).click();
    await ed.locator('#compose-when-error', { hasText: 'Thời điểm đăng không hợp lệ hoặc đã qua.' }).waitFor();
    expect(await ed.locator('#compose-link-error').isHidden()).toBe(true);
    expect((await asEditor<{ items: unknown[] }>('GET', '/v1/posts')).items).toHaveLength(0);

    await ed.getByLabel('Ngay khi được duyệt').check();
    const sent = ed.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/v1/posts'));
    await ed.getByRole('button', { name: 'Gửi duyệt' }).click();
    // A double click or a retry after a lost answer cannot make a second post.
    expect((await sent).headers()['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    await ed.getByRole('heading', { level: 1, name: 'Chi tiết bài đăng' }).waitFor();
    firstId = /#\/posts\/([0-9a-f-]{36})$/.exec(ed.url())![1]!;
    const post = await getPost(firstId);
    expect(post).toMatchObject({ status: 'pending_approval', message: FIRST, link: 'https://mattran.org.vn/', target: TARGET });
    // Four eyes: the author sees that it waits, never an approve button.
    await ed.locator('.post-summary .badge', { hasText: 'Chờ duyệt' }).waitFor();
    await ed.getByText('Bài của bạn đang chờ một khóa phê duyệt khác duyệt.').waitFor();
    expect(await ed.getByRole('button', { name: 'Duyệt' }).count()).toBe(0);
    await shot(ed, '2-submitted');
  });

  it('the approver finds it in "Chờ duyệt" with its reach and rejects it with a reason', async () => {
    await signIn(ap, s.apiUrl, approverKey);
    expect(await ap.getByRole('link', { name: 'Soạn bài' }).count()).toBe(0);
    const nav = ap.getByRole('link', { name: /Chờ duyệt/ });
    await nav.locator('.nav__count[data-count="1"]').waitFor();
    await nav.click();
    await ap.getByRole('heading', { level: 1, name: 'Chờ duyệt' }).waitFor();
    const item = ap.locator(`.approval[data-post-id="${firstId}"]`);
    await item.waitFor();
    expect(await item.innerText()).toContain(FIRST);
    expect(await item.innerText()).toContain(EDITOR_NAME);
    expect(await stat(ap, `.approval[data-post-id="${firstId}"]`, 'pages')).toBe(String(REACHED.length));
    expect(await stat(ap, `.approval[data-post-id="${firstId}"]`, 'withoutHealthyPage')).toBe('1');

    await item.getByRole('button', { name: 'Từ chối', exact: true }).click();
    // A reason is required.
    await item.getByRole('button', { name: 'Từ chối bài' }).click();
    await item.getByText('Hãy ghi lý do từ chối.').waitFor();
    await item.getByLabel('Lý do từ chối').fill(REJECT_REASON);
    await shot(ap, '3-inbox');
    await item.getByRole('button', { name: 'Từ chối bài' }).click();
    await item.getByText('Đã từ chối.').waitFor();
    await nav.locator('.nav__count[hidden]').waitFor({ state: 'attached' });
    const rejected = await getPost(firstId);
    expect(rejected.status).toBe('rejected');
    expect(rejected.rejection).toMatchObject({ reason: REJECT_REASON });
    await shot(ap, '4-rejected-inbox');
  });

  it('the editor sees the rejection (reason, who, when), edits and resubmits', async () => {
    await ed.reload();
    const panel = ed.locator('.outcome--rejected');
    await panel.waitFor();
    await ed.locator('.post-summary .badge', { hasText: 'Bị từ chối' }).waitFor();
    expect(await panel.locator('.outcome__reason').innerText()).toBe(REJECT_REASON);
    expect(await panel.locator('.outcome__by').innerText()).toBe(APPROVER_NAME);
    expect(await panel.locator('.outcome__at').getAttribute('datetime')).toBe((await getPost(firstId)).rejection!.at);
    await shot(ed, '5-rejection-seen');

    await panel.getByRole('link', { name: 'Sửa và gửi lại' }).click();
    await ed.getByRole('heading', { level: 1, name: 'Sửa và gửi lại' }).waitFor();
    const message = ed.getByLabel('Nội dung bài');
    await waitFor(async () => (await message.inputValue()) === FIRST, 10_000);
    await ed.locator('.rejection', { hasText: REJECT_REASON }).waitFor();
    // Prefilled: target, levels, exclusion, link; the preview shows the same reach.
    await ed.locator('#compose-target-chosen', { hasText: 'Thành phố Hà Nội (01)' }).waitFor();
    await ed.locator('#compose-excluded [data-code="00070"]').waitFor();
    expect(await ed.locator('#compose-levels input[data-level="2"]').isChecked()).toBe(true);
    expect(await ed.getByLabel('Đường dẫn (không bắt buộc)').inputValue()).toBe('https://mattran.org.vn/');
    await waitFor(async () => (await stat(ed, '#compose-preview', 'pages')) === String(REACHED.length), 10_000);
    await message.fill(SECOND);
    await shot(ed, '6-resubmit');
    await ed.getByRole('button', { name: 'Gửi lại để duyệt' }).click();
    await waitFor(async () => /#\/posts\/[0-9a-f-]{36}$/.test(ed.url()) && !ed.url().endsWith(firstId), 10_000);
    secondId = /#\/posts\/([0-9a-f-]{36})$/.exec(ed.url())![1]!;
    const second = await getPost(secondId);
    expect(second).toMatchObject({ status: 'pending_approval', message: SECOND, resubmitOf: firstId, target: TARGET });
    expect((await getPost(firstId)).resubmittedAs).toBe(secondId);
    // Linked both ways.
    await ed.getByRole('link', { name: 'Xem bài bị từ chối' }).click();
    await ed.locator('.outcome--rejected').getByRole('link', { name: 'Xem bài gửi lại' }).click();
    await waitFor(async () => ed.url().endsWith(secondId), 10_000);
  });

  it('the approver opens the resubmitted post from the inbox, approves it there, and it reaches its Pages', async () => {
    await ap.getByRole('button', { name: 'Làm mới' }).click();
    const item = ap.locator(`.approval[data-post-id="${secondId}"]`);
    await item.waitFor();
    await item.locator('.badge', { hasText: 'Bài gửi lại' }).waitFor();
    expect(await ap.locator(`.approval[data-post-id="${firstId}"]`).count()).toBe(0);
    await item.getByRole('link', { name: SECOND }).click();
    await ap.getByRole('heading', { level: 1, name: 'Chi tiết bài đăng' }).waitFor();
    // The post detail shows the approver its reach and the decision.
    await waitFor(async () => (await ap.locator('.approval__preview .stat[data-count="pages"] dd').count()) === 1, 10_000);
    expect(await stat(ap, '.approval__preview', 'pages')).toBe(String(REACHED.length));
    expect(await stat(ap, '.approval__preview', 'withoutHealthyPage')).toBe('1');
    await ap.getByRole('button', { name: 'Duyệt', exact: true }).click();
    await ap.locator('.post-summary .badge', { hasText: /Đã duyệt|Đang đăng|Đăng một phần/ }).waitFor();
    expect(await ap.getByRole('button', { name: 'Duyệt', exact: true }).count()).toBe(0);
    await ap.getByRole('link', { name: /Chờ duyệt/ }).click();
    await ap.getByRole('heading', { level: 1, name: 'Chờ duyệt' }).waitFor();

    const done = await waitFor(async () => {
      const p = await getPost(secondId);
      return ['published', 'partially_failed', 'failed'].includes(p.status) && p;
    }, 60_000);
    // The broken Page could not be reached; every other targeted Page has the post, the others nothing.
    expect(done.status).toBe('partially_failed');
    expect(done.counts).toMatchObject({ published: REACHED.length - 1, failed: 1 });
    for (const code of REACHED.filter((c) => c !== BROKEN)) {
      expect(s.sim.postsOf(pageOf.get(code)!).map((p) => p.message)).toEqual([SECOND]);
    }
    for (const code of ['01', '00070', '79', '26734', '26737']) expect(s.sim.postsOf(pageOf.get(code)!)).toEqual([]);

    await ed.locator('.progress[data-percent="100"]').first().waitFor({ timeout: 30_000 });
    await ed.locator('.tree-node[data-code="00004"] .badge', { hasText: 'Đã đăng' }).waitFor({ timeout: 30_000 });
    expect(await ed.getByRole('link', { name: 'Xem bài trên Trang Facebook của Phường Ba Đình' }).count()).toBe(1);
    await shot(ed, '7-published');
  });

  it('an edit of the published post reaches the inbox with before and after, and is rejected with a reason', async () => {
    const edit = await asEditor<{ revision: number }>('PATCH', `/v1/posts/${secondId}`, { message: `${SECOND} (sửa)` });
    await ap.getByRole('button', { name: 'Làm mới' }).click();
    const item = ap.locator(`.approval[data-kind="edit"][data-post-id="${secondId}"]`);
    await item.waitFor();
    expect(await item.locator('.edit-diff').innerText()).toContain(`${SECOND} (sửa)`);
    await item.getByRole('button', { name: 'Từ chối', exact: true }).click();
    await item.getByLabel('Lý do từ chối').fill('Không cần sửa.');
    await item.getByRole('button', { name: 'Từ chối bài' }).click();
    await item.getByText('Đã từ chối.').waitFor();
    const edits = await asEditor<{ items: Array<{ revision: number; status: string }> }>('GET', `/v1/posts/${secondId}/edits`);
    expect(edits.items.find((e) => e.revision === edit.revision)?.status).toBe('rejected');
    // The Pages keep the approved message.
    expect(s.sim.postsOf(pageOf.get('00004')!).map((p) => p.message)).toEqual([SECOND]);
  });

  it('the editor recalls it; the recalled view shows reason, who and when, with no link to a deleted post', async () => {
    await ed.getByRole('button', { name: 'Thu hồi bài' }).click();
    await ed.getByLabel('Lý do thu hồi').fill(RECALL_REASON);
    await ed.getByRole('button', { name: 'Thu hồi khỏi mọi Trang' }).click();
    await waitFor(async () => (await getPost(secondId)).status === 'recalled', 60_000);
    // Deleted on Facebook (the simulator keeps the deleted post, marked).
    for (const code of REACHED.filter((c) => c !== BROKEN)) {
      expect(s.sim.postsOf(pageOf.get(code)!).map((p) => [p.message, p.isDeleted])).toEqual([[SECOND, true]]);
    }

    const recall = (await getPost(secondId)).recall!;
    await ed.reload();
    const panel = ed.locator('.outcome--recalled');
    await panel.waitFor();
    await ed.locator('.post-summary .badge.badge--recalled', { hasText: 'Đã thu hồi' }).waitFor();
    expect(await panel.locator('.outcome__reason').innerText()).toBe(RECALL_REASON);
    expect(await panel.locator('.outcome__by').innerText()).toBe(EDITOR_NAME);
    expect(await panel.locator('.outcome__at').getAttribute('datetime')).toBe(recall.at);
    // The badge is styled (not the browser's default inline text).
    // Through a locator, retried: the live view may re-render the summary between finding the badge and reading it.
    const badge = ed.locator('.post-summary .badge--recalled').first();
    const readColor = () =>
      badge.evaluate(
        (el) =>
          (el.ownerDocument.defaultView as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el)
            .backgroundColor,
      );
    const color = await waitFor(() => readColor().catch(() => null), 10_000);
    expect(color).not.toBe('rgba(0, 0, 0, 0)');

    // No "Xem bài" link to a deleted Facebook post anywhere: tree (every ward open) and Page list.
    await ed.locator('.tree-node[data-code="00004"] .badge', { hasText: 'Đã thu hồi' }).waitFor({ timeout: 30_000 });
    await shot(ed, '8-recalled');
    // The same in English.
    await ed.getByRole('button', { name: /Switch to English/ }).click();
    await ed.locator('.outcome--recalled', { hasText: 'The post was recalled from the Pages' }).waitFor();
    await ed.locator('.post-summary .badge--recalled', { hasText: 'Recalled' }).waitFor();
    expect(await ed.locator('.outcome--recalled .outcome__reason').innerText()).toBe(RECALL_REASON);
    await shot(ed, '9-recalled-en');
    await ed.getByRole('button', { name: 'Tiếng Việt' }).click();
    await ed.locator('.outcome--recalled', { hasText: 'Bài đã được thu hồi khỏi các Trang' }).waitFor();
    expect(await ed.getByRole('link', { name: /^Xem bài trên/ }).count()).toBe(0);
    expect(await ed.locator('a[href*="facebook.com"]').count()).toBe(0);
  });

  it('the composer and the inbox are readable at 375 px wide (no sideways scrolling)', async () => {
    const overflow = async (page: Page) => Number(await page.evaluate('document.documentElement.scrollWidth'));
    await ed.setViewportSize(PHONE);
    await ed.goto(`${s.apiUrl}/dashboard/#/compose`);
    await ed.getByRole('heading', { level: 1, name: 'Soạn bài' }).waitFor();
    await ed.locator('#compose-preview[data-state="ready"]').waitFor();
    await ed.getByRole('button', { name: 'Thêm ảnh' }).click();
    await ed.getByText('Thêm đơn vị cần trừ').click();
    expect(await overflow(ed)).toBeLessThanOrEqual(PHONE.width);
    await shot(ed, '10-mobile-compose');
    await asEditor('POST', '/v1/posts', { message: FIRST, target: TARGET });
    await ap.setViewportSize(PHONE);
    await ap.getByRole('button', { name: 'Làm mới' }).click();
    const item = ap.locator('.approval[data-kind="post"]');
    await item.waitFor();
    expect(await overflow(ap)).toBeLessThanOrEqual(PHONE.width);
    await shot(ap, '11-mobile-inbox');
    // Approved from the inbox this time; the nav count goes back to none.
    await item.getByRole('button', { name: 'Duyệt', exact: true }).click();
    await item.getByText('Đã duyệt.').waitFor();
    await ap.locator('.nav__count[hidden]').waitFor({ state: 'attached' });
  });

  it('a viewer sees neither the composer nor the inbox, and is told so if it opens them', async () => {
    const viewerKey = (await s.admin.createKey({ name: 'Văn phòng Hà Nội', role: 'viewer', unit: '01' })).key;
    const page = await openPage(browser.context, problems);
    await signIn(page, s.apiUrl, viewerKey);
    expect(await page.getByRole('link', { name: 'Soạn bài' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: /Chờ duyệt/ }).count()).toBe(0);
    await page.goto(`${s.apiUrl}/dashboard/#/compose`);
    await page.getByText('Chỉ khóa biên tập hoặc quản trị mới soạn được bài.').waitFor();
    expect(await page.locator('form.compose').count()).toBe(0);
    await page.goto(`${s.apiUrl}/dashboard/#/approvals`);
    await page.getByText('Chỉ khóa phê duyệt hoặc quản trị mới duyệt được bài.').waitFor();
    await page.close();
  });

  it('raised no script error and no content-security-policy violation', () => {
    // Expected failed fetches, which the browser logs: the bad link and the past time (400) at compose.
    expect(problems.filter((p) => !/status of 400/.test(p))).toEqual([]);
  });
});
