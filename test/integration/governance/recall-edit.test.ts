import crypto from 'node:crypto';
import type { ApiClient } from '../../../src/cli/api-client';
import { testDatabases } from '../../helpers/databases';
import { allDeliveries, subtreeCodes, visibleCopies, waitForStatus } from '../../helpers/governance';
import { seedOrganisation, startTestStack, UNITS_TEXT, waitFor, type TestStack } from '../../helpers/stack';

let seq = 0;

describe.each(testDatabases())('recall and edit of published posts, on $name', (db) => {
  let s: TestStack;
  let editor: ApiClient;
  let approver: ApiClient;
  let approverId: string;
  let editorId: string;
  let editorKey: string;
  const pageOf = new Map<string, string>();
  const tokenOf = new Map<string, string>();

  beforeAll(async () => {
    s = await startTestStack(db, 'recall');
    const hanoi = subtreeCodes(UNITS_TEXT, '01');
    const { pages } = await seedOrganisation(s, UNITS_TEXT, { only: (c) => c === 'root' || hanoi.has(c) });
    for (const p of pages) {
      pageOf.set(p.unitCode, p.pageId);
      tokenOf.set(p.unitCode, p.token);
    }
    const e = await s.admin.createKey({ name: 'editor', role: 'editor', unit: '01' });
    const a = await s.admin.createKey({ name: 'approver', role: 'approver', unit: '01' });
    editor = s.admin.withKey(e.key);
    approver = s.admin.withKey(a.key);
    editorId = e.id;
    editorKey = e.key;
    approverId = a.id;
  });
  afterAll(() => s?.dispose());

  async function publish(unit: string, label: string): Promise<{ id: string; message: string; units: string[] }> {
    const message = `[${db.name} #${++seq}] ${label} ${crypto.randomBytes(3).toString('hex')}`;
    const post = await editor.createPost({ message, target: { unit, scope: 'subtree' } });
    await approver.approve(post.id);
    const done = await waitForStatus(editor, post.id);
    expect(done.status).toBe('published');
    const units = (await s.deps.targets.resolve({ unit, scope: 'subtree' })).map((u) => u.code);
    for (const u of units) expect(visibleCopies(s, pageOf.get(u)!, message)).toBe(1);
    return { id: post.id, message, units };
  }

  it('deletes the post from every Page through the queue, counts an already deleted copy as done, and records who and why', async () => {
    const { id, message, units } = await publish('01', 'Bài cần thu hồi');
    // One copy was removed on Facebook already (the DELETE will answer 100/33), and Graph fails a few deletes transiently.
    const first = (await allDeliveries(editor, id)).find((d) => d.unitCode === units[1])!;
    await s.deps.graph.deletePost(first.fbPostId as string, tokenOf.get(units[1]!)!);
    s.sim.addFaults([{ kind: 'error', endpoint: 'delete', code: 2, count: 3 }]);

    const res = await approver.recall(id, 'Sai số liệu, thu hồi theo yêu cầu của Ban Thường trực');
    expect(res).toMatchObject({ id, status: 'recalling', queued: units.length });
    const done = await waitForStatus(editor, id, ['recalled']);
    expect(done.counts).toMatchObject({ recalled: units.length, recalling: 0, recall_failed: 0, published: 0 });
    expect(done.recall).toEqual({
      by: approverId,
      at: expect.any(String),
      reason: 'Sai số liệu, thu hồi theo yêu cầu của Ban Thường trực',
    });
    for (const u of units) expect(visibleCopies(s, pageOf.get(u)!, message)).toBe(0);
    const rows = await allDeliveries(editor, id);
    expect(rows.every((d) => d.status === 'recalled')).toBe(true);
    expect(rows.find((d) => d.unitCode === units[1])!.reason).toBe('already_deleted');
    expect(rows.filter((d) => d.reason === 'recalled')).toHaveLength(units.length - 1);
    // Deleted from Facebook: no link to it, in the deliveries list nor in the tree, whose counts say recalled.
    expect(rows.every((d) => d.permalink === null && typeof d.fbPostId === 'string')).toBe(true);
    const tree = (
      await s.app.inject({ method: 'GET', url: `/v1/posts/${id}/tree`, headers: { authorization: `Bearer ${editorKey}` } })
    ).json();
    expect(tree.node.counts).toMatchObject({ recalled: units.length, published: 0, recalling: 0, recall_failed: 0, total: units.length });
    for (const n of [tree.node, ...tree.children]) {
      expect(n.delivery === null || n.delivery.permalink === null).toBe(true);
      expect(n.pages.every((pg: { permalink: string | null }) => pg.permalink === null)).toBe(true);
    }
    expect(tree.children.length).toBeGreaterThan(0);
    const levels = (
      await s.app.inject({ method: 'GET', url: `/v1/posts/${id}/levels`, headers: { authorization: `Bearer ${editorKey}` } })
    ).json();
    expect(levels.levels.reduce((n: number, l: { counts: { recalled: number } }) => n + l.counts.recalled, 0)).toBe(units.length);
    // The live stream carries the recall counts and ends: recalled is final.
    const stream = await fetch(`${s.apiUrl}/v1/posts/${id}/events`, { headers: { authorization: `Bearer ${editorKey}` } });
    const blocks = (await stream.text()).split('\n\n').filter((b) => b.startsWith('event:'));
    expect(blocks[blocks.length - 1]).toMatch(/^event: end/);
    const progress = JSON.parse(
      blocks
        .find((b) => b.startsWith('event: progress'))!
        .split('\n')[1]!
        .slice('data: '.length),
    );
    expect(progress).toMatchObject({ id, status: 'recalled', counts: { recalled: units.length, recalling: 0, recall_failed: 0 } });

    const audit = await editor.audit({ subject: id });
    expect(audit.items.map((e) => e.action)).toEqual(['post.create', 'post.approve', 'post.recall', 'post.recall_finished']);
    const recall = audit.items[2]!;
    expect(recall.actor).toEqual({ keyId: approverId, name: 'approver' });
    expect(recall.details).toMatchObject({ reason: 'Sai số liệu, thu hồi theo yêu cầu của Ban Thường trực', toDelete: units.length });
    expect(audit.items[3]!.details).toMatchObject({ recalled: units.length, recallFailed: 0 });
  });

  it('marks a Page with a broken token recall_failed with the reason, and a second recall after relinking deletes it', async () => {
    const { id, message, units } = await publish('01', 'Bài thu hồi có Trang hỏng');
    const broken = units[0]!;
    s.sim.invalidateToken(pageOf.get(broken)!, 460);
    await approver.recall(id, 'Thu hồi lần 1');
    const first = await waitForStatus(editor, id, ['recalled']);
    expect(first.counts).toMatchObject({ recalled: units.length - 1, recall_failed: 1 });
    const failed = (await allDeliveries(editor, id)).find((d) => d.unitCode === broken)!;
    expect(failed).toMatchObject({
      status: 'recall_failed',
      reason: 'password_changed',
      error: expect.objectContaining({ code: 190, subcode: 460 }),
    });
    expect(visibleCopies(s, pageOf.get(broken)!, message)).toBe(1);
    const page = await s.deps.store.db.selectFrom('pages').selectAll().where('unit_code', '=', broken).executeTakeFirstOrThrow();
    expect(page.token_status).toBe('needs_reauth');

    // The operator reconnects the Page, then recalls again: only the failed copy is retried.
    const fresh = `EAAG${crypto.randomBytes(30).toString('base64url')}`;
    s.sim.seedPages([{ id: pageOf.get(broken)!, token: fresh }]);
    const put = await s.app.inject({
      method: 'PUT',
      url: `/v1/units/${broken}/page`,
      headers: { authorization: `Bearer ${s.adminKey}` },
      payload: { pageId: pageOf.get(broken)!, accessToken: fresh },
    });
    expect(put.statusCode).toBe(200);
    const again = await approver.recall(id, 'Thu hồi lần 2 sau khi kết nối lại');
    expect(again).toMatchObject({ status: 'recalling', queued: 1, recall: { reason: 'Thu hồi lần 1' } });
    const second = await waitForStatus(editor, id, ['recalled']);
    expect(second.counts).toMatchObject({ recalled: units.length, recall_failed: 0 });
    expect(visibleCopies(s, pageOf.get(broken)!, message)).toBe(0);
    const actions = (await editor.audit({ subject: id, action: 'post.recall' })).items.map((e) => e.details.reason);
    expect(actions).toEqual(['Thu hồi lần 1', 'Thu hồi lần 2 sau khi kết nối lại']);
  });

  it('recalled while publishing: what was not sent is cancelled, what was sent is deleted, nothing stays visible', async () => {
    // 400 ms a call: the 127 Pages of Hà Nội go out in about three rounds of 50, so the recall lands mid-way.
    s.sim.configure({ latency: { kind: 'fixed', ms: 400 } });
    try {
      const message = `[${db.name} #${++seq}] Bài thu hồi giữa chừng`;
      const post = await editor.createPost({ message, target: { unit: '01', scope: 'subtree' } });
      await approver.approve(post.id);
      await waitFor(async () => {
        const p = await editor.getPost(post.id);
        return p.counts.published >= 20 ? p : null;
      });
      await editor.recall(post.id, 'Đăng nhầm');
      const done = await waitForStatus(editor, post.id, ['recalled']);
      // The recall came mid-way: some copies had gone out, some had not.
      expect(done.counts.cancelled).toBeGreaterThan(0);
      expect(done.counts.recalled).toBeGreaterThanOrEqual(20);
      expect(done.counts.recalled + done.counts.cancelled).toBe(done.total);
      expect(done.counts.recall_failed + done.counts.published + done.counts.queued + done.counts.publishing).toBe(0);
      const units = await s.deps.targets.resolve({ unit: '01', scope: 'subtree' });
      const left = units.filter((u) => visibleCopies(s, pageOf.get(u.code)!, message) > 0).map((u) => u.code);
      expect(left).toEqual([]);
    } finally {
      s.sim.configure({ latency: { kind: 'fixed', ms: 0 } });
    }
  });

  it('refuses to recall a post that reached no Page, and answers 404 outside the caller’s branch', async () => {
    const pending = await editor.createPost({ message: `[${db.name}] chưa duyệt ${seq++}`, target: { unit: '00025', scope: 'self' } });
    const res = await s.app.inject({
      method: 'POST',
      url: `/v1/posts/${pending.id}/recall`,
      headers: { authorization: `Bearer ${s.adminKey}` },
      payload: { reason: 'không cần' },
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toContain('cancel it instead');
    const elsewhere = (
      await s.app.inject({
        method: 'POST',
        url: '/v1/posts',
        headers: { authorization: `Bearer ${s.adminKey}` },
        payload: { message: 'TP.HCM', target: { unit: '79', scope: 'self' } },
      })
    ).json();
    const outside = await s.app.inject({
      method: 'POST',
      url: `/v1/posts/${elsewhere.id}/recall`,
      headers: { authorization: `Bearer ${editorKey}` },
      payload: { reason: 'không phải của tôi' },
    });
    expect(outside.statusCode).toBe(404);
  });

  it('edits the message on every Page only after a different key approves the edit', async () => {
    const { id, message, units } = await publish('01', 'Bài cần sửa');
    const gone = units[units.length - 1]!;
    const goneRow = (await allDeliveries(editor, id)).find((d) => d.unitCode === gone)!;
    await s.deps.graph.deletePost(goneRow.fbPostId as string, tokenOf.get(gone)!);

    const first = await editor.editPost(id, `${message} (bản nháp sửa)`);
    expect(first).toMatchObject({ revision: 1, status: 'pending_approval' });
    const edit = await editor.editPost(id, `${message} (đã sửa)`);
    expect(edit).toMatchObject({ postId: id, revision: 2, status: 'pending_approval', previousMessage: message, requestedBy: editorId });
    const edits = await s.app.inject({ method: 'GET', url: `/v1/posts/${id}/edits`, headers: { authorization: `Bearer ${s.adminKey}` } });
    expect(edits.json().items.map((e: { revision: number; status: string }) => [e.revision, e.status])).toEqual([
      [2, 'pending_approval'],
      [1, 'superseded'],
    ]);
    // Nothing changes on the Pages before approval.
    expect(s.sim.postsOf(pageOf.get(units[0]!)!).some((p) => p.message === `${message} (đã sửa)`)).toBe(false);

    // An admin who asks for an edit cannot approve it either.
    const own = await s.app.inject({
      method: 'PATCH',
      url: `/v1/posts/${id}`,
      headers: { authorization: `Bearer ${s.adminKey}` },
      payload: { message: `${message} (admin)` },
    });
    expect(own.statusCode).toBe(202);
    const selfApprove = await s.app.inject({
      method: 'POST',
      url: `/v1/posts/${id}/edits/3/approve`,
      headers: { authorization: `Bearer ${s.adminKey}` },
    });
    expect(selfApprove.statusCode).toBe(403);
    expect(selfApprove.json().error.message).toBe('the author of an edit may not approve it');
    const approved = await approver.approveEdit(id, 3);
    expect(approved).toMatchObject({ revision: 3, status: 'applying' });

    const finished = await waitFor(async () => {
      const list = await s.app.inject({ method: 'GET', url: `/v1/posts/${id}/edits`, headers: { authorization: `Bearer ${s.adminKey}` } });
      const latest = list.json().items[0];
      return latest.status !== 'applying' ? latest : null;
    });
    expect(finished).toMatchObject({
      revision: 3,
      status: 'partially_failed',
      counts: { pending: 0, applied: units.length - 1, failed: 1 },
    });
    for (const u of units.filter((c) => c !== gone)) {
      const live = s.sim.postsOf(pageOf.get(u)!).filter((p) => !p.isDeleted);
      expect(live.map((p) => p.message)).toContain(`${message} (admin)`);
      expect(live.map((p) => p.message)).not.toContain(message);
    }
    expect((await editor.getPost(id)).message).toBe(`${message} (admin)`);
    const rows = await allDeliveries(editor, id);
    expect(rows.find((d) => d.unitCode === gone)!.edit).toEqual({ revision: 3, status: 'failed', error: 'post_gone' });
    expect(rows.find((d) => d.unitCode === units[0])!.edit).toEqual({ revision: 3, status: 'applied', error: null });
    const actions = (await editor.audit({ subject: id })).items.map((e) => e.action);
    expect(actions).toEqual([
      'post.create',
      'post.approve',
      'post.edit',
      'post.edit',
      'post.edit',
      'post.edit_approve',
      'post.edit_finished',
    ]);
  });

  it('refuses to edit a post that is not published', async () => {
    const pending = await editor.createPost({ message: `[${db.name}] chờ duyệt ${seq++}`, target: { unit: '00070', scope: 'self' } });
    const res = await s.app.inject({
      method: 'PATCH',
      url: `/v1/posts/${pending.id}`,
      headers: { authorization: `Bearer ${s.adminKey}` },
      payload: { message: 'khác' },
    });
    expect(res.statusCode).toBe(409);
  });
});
