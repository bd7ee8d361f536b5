import { testDatabases } from './../helpers/databases';
import { seedOrganisation, startTestStack, waitFor, type TestStack } from '../helpers/stack';
import type { ApiClient } from '../../src/cli/api-client';

/**
 * Provinces kept in the target, the seven largest of the 2025-07 tree: Hồ Chí Minh (169 units), Thanh Hóa (167),
 * Phú Thọ (149), Gia Lai (136), Nghệ An (131), Ninh Bình (130) and Hà Nội (127) + root = 1,010 Pages.
 */
const KEEP = new Set(['79', '38', '25', '52', '40', '37', '01']);

describe.each(testDatabases())('approved post → every Page of its target, end to end on $name', (db) => {
  let s: TestStack;
  let editor: ApiClient;
  let approver: ApiClient;
  let pageOf: Map<string, string>;

  beforeAll(async () => {
    s = await startTestStack(db, 'e2e');
    const { pages } = await seedOrganisation(s);
    pageOf = new Map(pages.map((p) => [p.unitCode, p.pageId]));
    editor = s.admin.withKey((await s.admin.createKey({ name: 'editor', role: 'editor', unit: 'root' })).key);
    approver = s.admin.withKey((await s.admin.createKey({ name: 'approver', role: 'approver', unit: 'root' })).key);
  });
  afterAll(() => s.dispose());

  const finalPost = (id: string) =>
    waitFor(async () => {
      const p = await editor.getPost(id);
      return ['published', 'partially_failed', 'failed', 'cancelled'].includes(p.status) ? p : null;
    }, 120_000);

  it('publishes exactly one visible post on each of ≥1,000 targeted Pages and none elsewhere', async () => {
    const provinces = (await s.deps.store.db.selectFrom('units').select('code').where('level', '=', 1).execute()).map((u) => u.code);
    const exclude = provinces.filter((c) => !KEEP.has(c));
    const target = { unit: 'root', scope: 'subtree', exclude };
    const targeted = await s.deps.targets.resolve(target as never);
    expect(targeted.length).toBe(1 + 169 + 167 + 149 + 136 + 131 + 130 + 127);

    const post = await editor.createPost({
      message: 'Thông báo: họp Ủy ban MTTQ các cấp ngày 15/12',
      link: 'https://mattran.org.vn/tin-tuc',
      target,
    });
    expect(post.status).toBe('pending_approval');
    const approved = await approver.approve(post.id);
    expect(approved.status).toBe('approved');
    const done = await finalPost(post.id);

    expect(done.status).toBe('published');
    expect(done.total).toBe(targeted.length);
    expect(done.counts).toEqual({
      queued: 0,
      publishing: 0,
      published: targeted.length,
      failed: 0,
      skipped: 0,
      cancelled: 0,
      recalling: 0,
      recalled: 0,
      recall_failed: 0,
    });
    expect(done.approvedBy).not.toBe(done.createdBy);

    const visible = s.sim.visibleCounts();
    const targetedPages = new Set(targeted.map((u) => pageOf.get(u.code)!));
    for (const pageId of targetedPages) expect(visible.get(pageId) ?? 0).toBe(1);
    const elsewhere = [...visible.entries()].filter(([pageId, n]) => n > 0 && !targetedPages.has(pageId));
    expect(elsewhere).toEqual([]);

    // The per-Page status is queryable, with the Facebook post id and permalink.
    const list = await editor.deliveries(post.id, { unit: '38', limit: 5 });
    expect(list.items).toHaveLength(5);
    for (const d of list.items) {
      expect(d).toMatchObject({ status: 'published', attempts: 1, error: null });
      expect(d.fbPostId).toMatch(new RegExp(`^${d.pageId}_\\d+$`));
      expect(d.permalink).toMatch(/^https:\/\/www\.facebook\.com\//);
    }
    expect(list.nextCursor).toEqual(expect.any(String));
    const next = await editor.deliveries(post.id, { unit: '38', limit: 5, cursor: list.nextCursor! });
    expect(next.items[0]!.unitCode).not.toBe(list.items[4]!.unitCode);
  });

  it('records units without a Page as skipped (no_page) and still finishes', async () => {
    await s.deps.store.db.deleteFrom('pages').where('unit_code', '=', '00004').execute();
    const post = await editor.createPost({ message: 'Kiểm tra đơn vị chưa có Trang', target: { unit: '01', scope: 'subtree' } });
    await approver.approve(post.id);
    const done = await finalPost(post.id);
    expect(done.status).toBe('published');
    expect(done.counts.skipped).toBe(1);
    const skipped = await editor.deliveries(post.id, { status: 'skipped' });
    expect(skipped.items).toEqual([expect.objectContaining({ unitCode: '00004', status: 'skipped', reason: 'no_page', pageId: null })]);
  });

  it('publishes a scheduled post no earlier than publishAt', async () => {
    const publishAt = new Date(Date.now() + 4_000);
    const post = await editor.createPost({
      message: 'Bài hẹn giờ',
      target: { unit: '01', scope: 'self' },
      publishAt: publishAt.toISOString(),
    });
    const approved = await approver.approve(post.id);
    expect(approved.status).toBe('scheduled');
    expect((await editor.getPost(post.id)).counts.published).toBe(0);
    const done = await finalPost(post.id);
    expect(done.status).toBe('published');
    expect(new Date(done.startedAt!).getTime()).toBeGreaterThanOrEqual(publishAt.getTime());
    const posts = s.sim.postsOf(pageOf.get('01')!).filter((p) => p.message === 'Bài hẹn giờ');
    expect(posts).toHaveLength(1);
    expect(posts[0]!.createdAt).toBeGreaterThanOrEqual(publishAt.getTime());
  });

  it('a cancelled scheduled post reaches no Page', async () => {
    const publishAt = new Date(Date.now() + 2_500);
    const post = await editor.createPost({
      message: 'Bài sẽ bị hủy',
      target: { unit: '01', scope: 'subtree' },
      publishAt: publishAt.toISOString(),
    });
    await approver.approve(post.id);
    expect((await editor.cancel(post.id)).status).toBe('cancelled');
    await new Promise((r) => setTimeout(r, publishAt.getTime() - Date.now() + 2_000));
    const view = await editor.getPost(post.id);
    expect(view.status).toBe('cancelled');
    expect(view.counts.published).toBe(0);
    const anywhere = [...pageOf.values()].flatMap((id) => s.sim.postsOf(id)).filter((p) => p.message === 'Bài sẽ bị hủy');
    expect(anywhere).toEqual([]);
  });
});
