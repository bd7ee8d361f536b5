import crypto from 'node:crypto';
import type { ApiClient } from '../../../src/cli/api-client';
import { testDatabases } from '../../helpers/databases';
import { allDeliveries, visibleCopies, waitForStatus } from '../../helpers/governance';
import { seedOrganisation, startTestStack, UNITS_TEXT, waitFor, type TestStack } from '../../helpers/stack';

/**
 * Recall and edit go through the same Page-write failure policy as publishing: an app-level throttle
 * pauses the whole queue and spends no attempt, and the usage headers of a successful delete or edit
 * stretch or block that Page's pacing.
 */
describe.each(testDatabases())('recall and edit under throttles and high usage, on $name', (db) => {
  let s: TestStack;
  let editor: ApiClient;
  let approver: ApiClient;
  const pageOf = new Map<string, string>();
  const only = new Set(['root', '01', '00004', '00008', '00070']);

  beforeAll(async () => {
    s = await startTestStack(db, 'chgthrottle');
    const { pages } = await seedOrganisation(s, UNITS_TEXT, { only: (c) => only.has(c) });
    for (const p of pages) pageOf.set(p.unitCode, p.pageId);
    editor = s.admin.withKey((await s.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
    approver = s.admin.withKey((await s.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
  });
  afterAll(() => s?.dispose());

  async function published(label: string): Promise<{ id: string; message: string }> {
    const message = `[${db.name}] ${label} ${crypto.randomBytes(3).toString('hex')}`;
    const post = await editor.createPost({ message, target: { unit: '01', scope: 'subtree' } });
    await approver.approve(post.id);
    expect((await waitForStatus(editor, post.id)).status).toBe('published');
    return { id: post.id, message };
  }

  const paused = () => waitFor(async () => ((await s.deps.queues.deliveries.getRateLimitTtl(100_000)) > 60_000 ? true : null), 20_000);

  it('an app-level throttle (code 4) on a DELETE pauses the whole queue, leaves the copy recalling, and the recall finishes after the pause', async () => {
    const { id, message } = await published('Thu hồi khi ứng dụng bị giới hạn');
    const first = pageOf.get('00004')!;
    s.sim.addFaults([{ kind: 'error', endpoint: 'delete', pageId: first, code: 4, count: 1 }]);
    await approver.recall(id, 'Kiểm tra giới hạn ứng dụng');
    expect(await paused()).toBe(true);
    const row = (await allDeliveries(editor, id)).find((d) => d.unitCode === '00004')!;
    expect(row).toMatchObject({ status: 'recalling' });
    await s.deps.queues.deliveries.removeRateLimitKey();
    const done = await waitForStatus(editor, id, ['recalled']);
    // 4 of the 127 units of 01 have a Page; the others were skipped at publish.
    expect(done.counts).toMatchObject({ recalled: 4, skipped: 123, recall_failed: 0 });
    for (const code of ['01', '00004', '00008', '00070']) expect(visibleCopies(s, pageOf.get(code)!, message)).toBe(0);
  });

  it('an app-level throttle on an edit pauses the queue too, and the edit is applied after the pause', async () => {
    const { id } = await published('Sửa khi ứng dụng bị giới hạn');
    s.sim.addFaults([{ kind: 'error', endpoint: 'edit', pageId: pageOf.get('00008')!, code: 4, count: 1 }]);
    const edit = await editor.editPost(id, `Nội dung đã sửa ${crypto.randomBytes(3).toString('hex')}`);
    await approver.approveEdit(id, edit.revision);
    expect(await paused()).toBe(true);
    await s.deps.queues.deliveries.removeRateLimitKey();
    const applied = await waitFor(async () => {
      const rows = await s.deps.store.db
        .selectFrom('deliveries')
        .select('edit_status')
        .where('post_id', '=', id)
        .where('status', '=', 'published')
        .execute();
      return rows.length > 0 && rows.every((r) => r.edit_status === 'applied') ? rows : null;
    }, 30_000);
    expect(applied.length).toBe(4);
  });

  it('reads the usage headers of successful deletes and edits: ≥ 80 % stretches the Page’s spacing, 100 % blocks it', async () => {
    const { id } = await published('Sửa và thu hồi khi Trang gần hết hạn mức');
    const hot = pageOf.get('00070')!;
    const full = pageOf.get('00008')!;
    s.sim.setUsagePercent(hot, 90);
    const edit = await editor.editPost(id, `Sửa lần nữa ${crypto.randomBytes(3).toString('hex')}`);
    await approver.approveEdit(id, edit.revision);
    expect(await waitFor(async () => ((await s.deps.pacer.slowdown(hot)) > 1 ? true : null), 20_000)).toBe(true);
    expect(await s.deps.pacer.slowdown(hot)).toBeCloseTo(4, 1); // 2^((90-80)/5)
    // A Page at 100 % after a successful delete is held until it regains.
    s.sim.setUsagePercent(full, 100, 7);
    await s.deps.pacer.unblockPage(full);
    await approver.recall(id, 'Kiểm tra hạn mức Trang');
    expect(await waitFor(async () => ((await s.deps.pacer.blockedFor(full)) > 6 * 60_000 ? true : null), 20_000)).toBe(true);
  });
});
