import type { ApiClient } from '../../../src/cli/api-client';
import { DeliveryLedger } from '../../../src/services/delivery/delivery-ledger';
import { repairCounts, verifyCounts } from '../../../src/services/delivery/delivery-counts';
import { EventBus } from '../../../src/services/shared/events';
import { startWorkers, type Workers } from '../../../workers/create-workers';
import { testDatabases } from '../../helpers/databases';
import { waitForStatus } from '../../helpers/governance';
import { childCodes, seedOrganisation, startTestStack, UNITS_TEXT_2025_03, waitFor, type TestStack } from '../../helpers/stack';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The ledger keeps delivery_counts in the transaction of every write; these runs compare them with a
 * full count (verifyCounts) after each kind of write: fan-outs with Graph faults and per-delivery
 * retries, a manual retry, an edit, a recall, a cancellation mid-fan-out and a holder that stops
 * (crash) and whose claim another worker takes over. The 2025-03 tree, for three levels under the root
 * (province → districts → communes): Lai Châu (12), 8 districts and 106 communes.
 */
describe.each(testDatabases())('maintained delivery counts, on $name', (db) => {
  let s: TestStack;
  let editor: ApiClient;
  let approver: ApiClient;
  let workers: Workers | undefined;
  const districts = childCodes(UNITS_TEXT_2025_03, '12');
  const communes = districts.flatMap((d) => childCodes(UNITS_TEXT_2025_03, d));
  const inside = new Set(['root', '12', ...districts, ...communes]);
  const pageOf = new Map<string, string>();
  let seq = 0;

  beforeAll(async () => {
    s = await startTestStack(db, 'counts', { workers: false, env: { DELIVERY_BACKOFF_MS: '100', DELIVERY_ATTEMPTS: '3' } });
    const { pages } = await seedOrganisation(s, UNITS_TEXT_2025_03, { only: (c) => inside.has(c) });
    for (const p of pages) pageOf.set(p.unitCode, p.pageId);
    editor = s.admin.withKey((await s.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
    approver = s.admin.withKey((await s.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
    workers = await startWorkers(s.deps);
  }, 120_000);
  afterAll(async () => {
    await workers?.close();
    await s?.dispose();
  });

  async function publish(target: Record<string, unknown>, label: string): Promise<string> {
    const post = await editor.createPost({ message: `[${db.name} #${++seq}] ${label} ${Date.now()}`, target });
    await approver.approve(post.id);
    return post.id;
  }

  /** The counters of every post agree with a full count, and the API's counts (root and a key over `district`, inside the target) with a count of the rows. */
  async function expectNoDrift(postId: string, district = districts[1]!) {
    expect(await verifyCounts(s.deps.store.db)).toEqual([]);
    const rows = await s.deps.store.db
      .selectFrom('deliveries as d')
      .innerJoin('units as u', 'u.id', 'd.unit_id')
      .select(['d.status', 'u.path'])
      .where('d.post_id', '=', postId)
      .execute();
    const count = (prefix: string) => {
      const c: Record<string, number> = {};
      for (const r of rows) if (r.path.startsWith(prefix)) c[r.status] = (c[r.status] ?? 0) + 1;
      return c;
    };
    const nonZero = (c: Record<string, number>) => Object.fromEntries(Object.entries(c).filter(([, n]) => n > 0));
    expect(nonZero((await editor.getPost(postId)).counts)).toEqual(count('/root/'));
    const dPath = (await s.deps.store.db.selectFrom('units').select('path').where('code', '=', district).executeTakeFirstOrThrow()).path;
    const scoped = s.admin.withKey((await s.admin.createKey({ name: `d${++seq}`, role: 'viewer', unit: district })).key);
    expect(nonZero((await scoped.getPost(postId)).counts)).toEqual(count(dPath));
  }

  it('after a fan-out with transient and permanent Graph failures, a manual retry, an edit and a recall', async () => {
    // Transient errors on a few Pages (retried by the delivery job), one Page that keeps failing past its attempts.
    const flaky = communes.slice(0, 5).map((c) => pageOf.get(c)!);
    const stuck = pageOf.get(communes[10]!)!;
    s.sim.addFaults([
      ...flaky.map((pageId) => ({ kind: 'error' as const, endpoint: 'feed' as const, pageId, code: 2, count: 1 })),
      { kind: 'error' as const, endpoint: 'feed' as const, pageId: stuck, code: 2, count: 100 },
    ]);
    const id = await publish({ unit: '12', scope: 'subtree' }, 'lỗi tạm thời');
    const done = await waitForStatus(editor, id);
    expect(done.status).toBe('partially_failed');
    expect(done.counts).toMatchObject({ published: inside.size - 2, failed: 1 });
    await expectNoDrift(id);

    s.sim.clearFaults();
    await editor.retry(id);
    expect((await waitForStatus(editor, id)).status).toBe('published');
    await expectNoDrift(id);

    const edit = await editor.editPost(id, `sửa ${Date.now()}`);
    await approver.approveEdit(id, edit.revision);
    await waitFor(async () => {
      const p = await s.app.inject({ method: 'GET', url: `/v1/posts/${id}/edits`, headers: { authorization: `Bearer ${s.adminKey}` } });
      return p.json().items[0].status !== 'applying' ? true : null;
    });
    await expectNoDrift(id);

    await approver.recall(id, 'thu hồi');
    const recalled = await waitForStatus(editor, id, ['recalled']);
    expect(recalled.counts.recalled).toBe(inside.size - 1);
    await expectNoDrift(id);
  }, 120_000);

  it('after a cancellation in the middle of a fan-out', async () => {
    // Slow Graph writes: the cancel lands while most deliveries are still queued.
    s.sim.addFaults([{ kind: 'delay' as const, endpoint: 'feed' as const, delayMs: 300 }]);
    const id = await publish({ unit: '12', scope: 'subtree' }, 'hủy giữa chừng');
    await waitFor(async () => ((await editor.getPost(id)).counts.published > 0 ? true : null), 30_000);
    await editor.cancel(id);
    await waitFor(async () => {
      const p = await editor.getPost(id);
      return p.counts.queued + p.counts.publishing === 0 ? p : null;
    }, 30_000);
    s.sim.clearFaults();
    const p = await editor.getPost(id);
    expect(p.status).toBe('cancelled');
    expect(p.counts.cancelled).toBeGreaterThan(0);
    await expectNoDrift(id);
  }, 120_000);

  it('after a holder stops mid-attempt and another worker takes its claim over', async () => {
    await workers!.close();
    workers = undefined;
    const settings = { leaseMs: 300, takeoverMs: 200 };
    const a = new DeliveryLedger(s.deps.store.db, new EventBus(), settings);
    const b = new DeliveryLedger(s.deps.store.db, new EventBus(), settings);
    const id = await publish({ unit: districts[0]!, scope: 'subtree' }, 'tiếp quản');
    await s.deps.fanout.run(id, { get: () => 0, set: async () => {} });
    const rows = await s.deps.store.db.selectFrom('deliveries').select('id').where('post_id', '=', id).orderBy('id').execute();
    // A claims three rows (queued → publishing) and "crashes": it never records.
    const held = [];
    for (const r of rows.slice(0, 3)) {
      held.push({ d: (await a.load(r.id))!, lease: (await a.claim((await a.load(r.id))!, { kind: 'publish', countAttempt: true }))! });
    }
    expect((await editor.getPost(id)).counts.publishing).toBe(3);
    await expectNoDrift(id, districts[0]);
    await sleep(settings.leaseMs + settings.takeoverMs + 50);
    // B takes them over (publishing → publishing: no count moves) and settles them; A's late writes are refused.
    for (const h of held) {
      const lease = (await b.claim((await b.load(h.d.id))!, { kind: 'publish', countAttempt: true }))!;
      expect(lease).not.toBeNull();
      expect(await b.markFailed(h.d, lease, 'transient_exhausted', null)).toBe(true);
      expect(await a.markPublished(h.d, h.lease, 'stale', null)).toBe(false);
    }
    // The rest through the workers (they come back after the "crash").
    workers = await startWorkers(s.deps);
    const done = await waitForStatus(editor, id);
    expect(done.counts.failed).toBe(3);
    await expectNoDrift(id, districts[0]);

    // Drift (a counter written outside the ledger) is found and repaired.
    await s.deps.store.db
      .updateTable('delivery_counts')
      .set({ n: 999 })
      .where('post_id', '=', id)
      .where('scope', '=', '')
      .where('status', '=', 'failed')
      .execute();
    const drift = await verifyCounts(s.deps.store.db, id);
    expect(drift.length).toBeGreaterThan(0);
    expect(drift.every((d) => d.scope === '' && d.status === 'failed' && d.actual === 999)).toBe(true);
    expect(await repairCounts(s.deps.store.db, id)).toEqual(drift);
    expect(await verifyCounts(s.deps.store.db)).toEqual([]);
  }, 120_000);
});
