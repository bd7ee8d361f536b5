import type { ApiClient } from '../../../src/cli/api-client';
import { deliveryJobId } from '../../../src/queues/catalog';
import { testDatabases } from '../../helpers/databases';
import { seedOrganisation, startTestStack, waitFor, type TestStack } from '../../helpers/stack';

describe.each(testDatabases())('GET /v1/queues counts failures from the ledger, in the caller’s subtree, on $name', (db) => {
  let s: TestStack;
  let editor: ApiClient;
  let approver: ApiClient;
  const keyOf: Record<string, string> = {};

  beforeAll(async () => {
    // Two attempts: a Page whose two calls fail ends `failed`, and BullMQ keeps its job in the failed set.
    s = await startTestStack(db, 'qcounts', { env: { DELIVERY_ATTEMPTS: '2' } });
    await seedOrganisation(s);
    editor = s.admin.withKey((await s.admin.createKey({ name: 'editor', role: 'editor', unit: 'root' })).key);
    approver = s.admin.withKey((await s.admin.createKey({ name: 'approver', role: 'approver', unit: 'root' })).key);
    // Lai Châu (12) and Huế (46): small provinces.
    for (const unit of ['12', '46']) keyOf[unit] = (await s.admin.createKey({ name: `viewer ${unit}`, role: 'viewer', unit })).key;
  });
  afterAll(() => s?.dispose());

  const queues = async (key: string) => {
    const res = await s.app.inject({ method: 'GET', url: '/v1/queues', headers: { authorization: `Bearer ${key}` } });
    expect(res.statusCode).toBe(200);
    return res.json() as { fanout: Record<string, number>; deliveries: Record<string, number>; scope: { unit: string } };
  };
  const final = (id: string) =>
    waitFor(async () => {
      const p = await editor.getPost(id);
      return ['published', 'partially_failed', 'failed'].includes(p.status) ? p : null;
    }, 60_000);
  const failingPages = async (province: string, n: number) => {
    const units = await s.deps.targets.resolve({ unit: province, scope: 'subtree' });
    const hit = units.slice(1, 1 + n).map((u) => ({ code: u.code, pageId: u.pageId! }));
    // 500 code 2 before anything is created, twice: both attempts fail.
    s.sim.addFaults(hit.map((u) => ({ kind: 'error' as const, endpoint: 'feed' as const, pageId: u.pageId, code: 2, count: 2 })));
    return hit;
  };
  const deliveryIds = async (postId: string, codes: string[]) =>
    (
      await s.deps.store.db.selectFrom('deliveries').select('id').where('post_id', '=', postId).where('unit_code', 'in', codes).execute()
    ).map((r) => r.id);

  it('counts each viewer’s own failures; a delivery that failed then succeeded on retry is no longer counted', async () => {
    const hit12 = await failingPages('12', 2);
    await failingPages('46', 1);
    const p12 = await editor.createPost({ message: `Lỗi ở Lai Châu ${db.name}`, target: { unit: '12', scope: 'subtree' } });
    const p46 = await editor.createPost({ message: `Lỗi ở Huế ${db.name}`, target: { unit: '46', scope: 'subtree' } });
    await approver.approve(p12.id);
    await approver.approve(p46.id);
    expect((await final(p12.id)).counts).toMatchObject({ failed: 2 });
    expect((await final(p46.id)).counts).toMatchObject({ failed: 1 });

    const root = await queues(s.adminKey);
    expect(root.scope).toEqual({ unit: 'root' });
    expect(root.deliveries.failed).toBe(3);
    expect(Object.keys(root.deliveries)).toEqual(expect.arrayContaining(['waiting', 'active', 'delayed', 'failed']));
    expect(await queues(keyOf['12']!)).toMatchObject({ scope: { unit: '12' }, deliveries: { failed: 2 } });
    expect(await queues(keyOf['46']!)).toMatchObject({ scope: { unit: '46' }, deliveries: { failed: 1 } });
    // BullMQ holds the exhausted jobs in its failed set.
    const ids12 = await deliveryIds(
      p12.id,
      hit12.map((u) => u.code),
    );
    for (const id of ids12) expect(await s.deps.queues.deliveries.getJobState(deliveryJobId(id))).toBe('failed');

    // The faults are used up: the retry publishes both Pages of Lai Châu.
    expect((await editor.retry(p12.id)).requeued).toBe(2);
    expect((await final(p12.id)).status).toBe('published');
    // The old BullMQ jobs are still in the failed set, stale: they are not counted.
    for (const id of ids12) expect(await s.deps.queues.deliveries.getJobState(deliveryJobId(id))).toBe('failed');
    expect((await s.deps.queues.deliveries.getJobCounts('failed')).failed).toBeGreaterThanOrEqual(3);
    expect((await queues(s.adminKey)).deliveries.failed).toBe(1);
    expect((await queues(keyOf['12']!)).deliveries.failed).toBe(0);
    expect((await queues(keyOf['46']!)).deliveries.failed).toBe(1);
  }, 180_000);
});
