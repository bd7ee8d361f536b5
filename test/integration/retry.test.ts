import { testDatabases } from '../helpers/databases';
import { seedOrganisation, startTestStack, waitFor, type TestStack } from '../helpers/stack';
import type { ApiClient } from '../../src/cli/api-client';

describe.each(testDatabases())('revoked tokens, replacement and retry on $name', (db) => {
  let s: TestStack;
  let editor: ApiClient;
  let approver: ApiClient;
  let pages: Array<{ unitCode: string; pageId: string; token: string }>;

  beforeAll(async () => {
    s = await startTestStack(db, 'retry');
    pages = (await seedOrganisation(s)).pages;
    editor = s.admin.withKey((await s.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
    approver = s.admin.withKey((await s.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
  });
  afterAll(() => s.dispose());

  const final = (id: string) =>
    waitFor(async () => {
      const p = await editor.getPost(id);
      return ['published', 'partially_failed', 'failed'].includes(p.status) ? p : null;
    }, 60_000);
  const feedCalls = () => s.sim.stats().byEndpoint.feed ?? 0;

  it('a revoked Page costs one Graph call per post, shows needs_reauth, and one retry delivers the rest after the token is replaced', async () => {
    const units = (await s.deps.targets.resolve({ unit: '01', scope: 'subtree' })).map((u) => pages.find((p) => p.unitCode === u.code)!);
    const revoked = [units[1]!, units[4]!, units[7]!];
    for (const r of revoked) s.sim.invalidateToken(r.pageId, 460);

    const before1 = feedCalls();
    const p1 = await editor.createPost({ message: 'Bài 1 khi token bị thu hồi', target: { unit: '01', scope: 'subtree' } });
    await approver.approve(p1.id);
    const done1 = await final(p1.id);
    expect(done1.status).toBe('partially_failed');
    expect(done1.counts).toMatchObject({ published: units.length - 3, failed: 3 });
    expect(feedCalls() - before1).toBe(units.length); // exactly one call for each revoked Page
    const failed = (await editor.deliveries(p1.id, { status: 'failed' })).items;
    expect(failed.map((d) => d.unitCode).sort()).toEqual(revoked.map((r) => r.unitCode).sort());
    for (const d of failed) expect(d).toMatchObject({ reason: 'password_changed', attempts: 1, error: { code: 190, subcode: 460 } });
    const unit = await s.app.inject({
      method: 'GET',
      url: `/v1/units/${revoked[0]!.unitCode}`,
      headers: { authorization: `Bearer ${s.adminKey}` },
    });
    expect(unit.json().page).toMatchObject({ tokenStatus: 'needs_reauth', tokenStatusReason: expect.stringContaining('password_changed') });

    // A second post costs no call at all for the revoked Pages.
    const before2 = feedCalls();
    const p2 = await editor.createPost({ message: 'Bài 2 khi token bị thu hồi', target: { unit: '01', scope: 'subtree' } });
    await approver.approve(p2.id);
    const done2 = await final(p2.id);
    expect(done2.counts).toMatchObject({ published: units.length - 3, failed: 3 });
    expect(feedCalls() - before2).toBe(units.length - 3);
    for (const d of (await editor.deliveries(p2.id, { status: 'failed' })).items) {
      expect(d).toMatchObject({ reason: 'needs_reauth', attempts: 0 });
    }

    // Retry refuses when nothing matches, and does nothing to published Pages.
    await expect(editor.retry(p1.id, ['bad_image'])).rejects.toThrow('409');

    // Before the Pages are relinked a retry cannot work: nothing is requeued, and the answer says why.
    const groups = (
      await s.app.inject({ method: 'GET', url: `/v1/posts/${p1.id}/failures`, headers: { authorization: `Bearer ${s.adminKey}` } })
    ).json();
    expect(groups.items).toEqual([expect.objectContaining({ reason: 'password_changed', count: 3, action: 'relink' })]);
    const beforeRetry = feedCalls();
    expect(await editor.retry(p1.id)).toEqual({
      id: p1.id,
      status: 'partially_failed',
      requeued: 0,
      skipped: { needs_relink: 3, permanent: 0 },
    });
    expect(await editor.retry(p2.id, ['needs_reauth'])).toMatchObject({ requeued: 0, skipped: { needs_relink: 3 } });
    expect(feedCalls()).toBe(beforeRetry);
    expect((await editor.getPost(p1.id)).counts).toMatchObject({ failed: 3, queued: 0 });

    // New tokens (the Page owner reconnected); PUT clears needs_reauth; one retry call per post delivers the rest.
    for (const r of revoked) {
      const fresh = `EAAGnew${r.pageId}xyz`;
      s.sim.seedPages([{ id: r.pageId, token: fresh }]);
      await s.admin.putPage(r.unitCode, r.pageId, fresh);
    }
    expect(await editor.retry(p1.id)).toEqual({ id: p1.id, status: 'publishing', requeued: 3, skipped: { needs_relink: 0, permanent: 0 } });
    expect((await editor.retry(p2.id, ['needs_reauth'])).requeued).toBe(3);
    for (const id of [p1.id, p2.id]) {
      const done = await final(id);
      expect(done.status).toBe('published');
      expect(done.counts).toMatchObject({ published: units.length, failed: 0 });
    }
    const visible = s.sim.visibleCounts();
    for (const u of units) expect(visible.get(u.pageId)).toBe(2); // both posts, once each
  });

  it('retry is honest: a content refusal is never retried, a token failure only once its Page was relinked after it', async () => {
    const units = (await s.deps.targets.resolve({ unit: '79', scope: 'subtree' })).map((u) => pages.find((p) => p.unitCode === u.code)!);
    const [relinked, stillBroken, refused] = [units[1]!, units[2]!, units[3]!];
    s.sim.invalidateToken(relinked.pageId, 463);
    s.sim.invalidateToken(stillBroken.pageId, 460);
    s.sim.addFaults([{ kind: 'error', endpoint: 'feed', pageId: refused.pageId, code: 324, count: 10 }]);
    const post = await editor.createPost({ message: 'Bài thử thử lại trung thực', target: { unit: '79', scope: 'subtree' } });
    await approver.approve(post.id);
    expect((await final(post.id)).counts).toMatchObject({ published: units.length - 3, failed: 3 });
    const groups = (
      await s.app.inject({ method: 'GET', url: `/v1/posts/${post.id}/failures`, headers: { authorization: `Bearer ${s.adminKey}` } })
    ).json();
    const actions = Object.fromEntries(groups.items.map((g: { reason: string; action: string }) => [g.reason, g.action]));
    expect(actions).toEqual({ token_expired: 'relink', password_changed: 'relink', bad_image: 'none' });

    // Only one of the two broken Pages is relinked.
    const fresh = `EAAGnew${relinked.pageId}honest`;
    s.sim.seedPages([{ id: relinked.pageId, token: fresh }]);
    await s.admin.putPage(relinked.unitCode, relinked.pageId, fresh);
    expect(await editor.retry(post.id)).toEqual({
      id: post.id,
      status: 'publishing',
      requeued: 1,
      skipped: { needs_relink: 1, permanent: 1 },
    });
    const done = await final(post.id);
    expect(done).toMatchObject({ status: 'partially_failed', counts: { published: units.length - 2, failed: 2 } });
    const failed = (await editor.deliveries(post.id, { status: 'failed' })).items.map((d) => d.unitCode).sort();
    expect(failed).toEqual([stillBroken.unitCode, refused.unitCode].sort());
    expect(s.sim.visibleCounts().get(relinked.pageId)).toBe(1);
    const audit = (
      await s.app.inject({
        method: 'GET',
        url: `/v1/audit?subject=${post.id}&action=post.retry`,
        headers: { authorization: `Bearer ${s.adminKey}` },
      })
    ).json();
    expect(audit.items[0].details).toMatchObject({ requeued: 1, skipped: { needs_relink: 1, permanent: 1 } });

    // Nothing left that a retry can fix: 200, nothing requeued, the post unchanged.
    expect(await editor.retry(post.id)).toEqual({
      id: post.id,
      status: 'partially_failed',
      requeued: 0,
      skipped: { needs_relink: 1, permanent: 1 },
    });
  });

  it('viewers may not retry; unknown post → 404', async () => {
    const viewer = s.admin.withKey((await s.admin.createKey({ name: 'v', role: 'viewer', unit: 'root' })).key);
    await expect(viewer.retry('00000000-0000-4000-8000-000000000000')).rejects.toThrow('403');
    await expect(editor.retry('00000000-0000-4000-8000-000000000000')).rejects.toThrow('404');
  });
});
