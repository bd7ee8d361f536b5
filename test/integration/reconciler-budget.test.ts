import { testDatabases } from '../helpers/databases';
import { childCodes, seedOrganisation, startTestStack, UNITS_TEXT, type TestStack } from '../helpers/stack';
import type { ApiClient } from '../../src/cli/api-client';
import { deliveryJobId } from '../../src/queues/catalog';
import { ReconcilerService } from '../../src/services/delivery/reconciler.service';

/**
 * A backlog is not a loss: the reconciler reads at most a budget of job states per run while every job it
 * reads is live, and goes on from there on the next run; a run that meets dead jobs reads on, so after
 * Redis lost every job one run re-adds them all. Here the budget is 4 job states, read 2 at a time, on a
 * province of 20 communes whose delivery jobs wait (no workers run).
 */
describe.each(testDatabases())('reconciler read budget, on $name', (db) => {
  let s: TestStack;
  let editor: ApiClient;
  let approver: ApiClient;
  let reconciler: ReconcilerService;
  const communes = childCodes(UNITS_TEXT, '08').slice(0, 20);

  beforeAll(async () => {
    s = await startTestStack(db, 'reconcile-budget', { workers: false });
    await seedOrganisation(s, UNITS_TEXT, { only: (c) => c === '08' || communes.includes(c) });
    editor = s.admin.withKey((await s.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
    approver = s.admin.withKey((await s.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
    reconciler = new ReconcilerService(s.deps.store.db, s.deps.queues, s.deps.ledger, s.deps.log, 4, 2);
  });
  afterAll(() => s?.dispose());

  /** A post whose 20 delivery jobs are waiting, its rows untouched for a minute (stale for the reconciler). */
  async function backlog(): Promise<Array<{ id: number; job_round: number }>> {
    const post = await editor.createPost({ message: `hàng đợi ${Date.now()}`, target: { unit: '08', scope: 'subtree', levels: [2] } });
    await approver.approve(post.id);
    await s.deps.fanout.run(post.id, { get: () => 0, set: async () => {} });
    const old = new Date(Date.now() - 60_000).toISOString();
    await s.deps.store.db.updateTable('deliveries').set({ updated_at: old }).where('post_id', '=', post.id).execute();
    return s.deps.store.db
      .selectFrom('deliveries')
      .select(['id', 'job_round'])
      .where('post_id', '=', post.id)
      .where('status', '=', 'queued')
      .orderBy('id')
      .execute();
  }
  const removeJob = async (r: { id: number; job_round: number }) =>
    (await s.deps.queues.deliveries.getJob(deliveryJobId(r.id, r.job_round)))!.remove();
  const rounds = async (ids: number[]) =>
    (await s.deps.store.db.selectFrom('deliveries').select(['id', 'job_round']).where('id', 'in', ids).orderBy('id').execute()).map(
      (r) => r.job_round,
    );

  it('stops after its budget while every job is live, and finds a lost job later in the backlog on a later run', async () => {
    const rows = await backlog();
    expect(rows).toHaveLength(20);
    const lost = rows[15]!;
    await removeJob(lost);
    // Run 1 reads 4 live jobs and stops; the lost one (16th) is found on the run that reaches it.
    expect((await reconciler.run()).deliveries).toBe(0);
    expect(await rounds([lost.id])).toEqual([0]);
    let runs = 1;
    let found = 0;
    while (!found && runs < 10) {
      found = (await reconciler.run()).deliveries;
      runs++;
    }
    expect(found).toBe(1);
    expect(runs).toBe(4); // 4 + 4 + 4 live, then the chunk with the lost one
    expect(await rounds([lost.id])).toEqual([1]);
    expect(await s.deps.queues.deliveries.getJobState(deliveryJobId(lost.id, 1))).toBe('waiting');
    // Every other job was live: none got a new round.
    expect((await rounds(rows.filter((r) => r !== lost).map((r) => r.id))).every((r) => r === 0)).toBe(true);
  });

  it('re-adds every job in one run when Redis lost them all', async () => {
    await s.deps.queues.deliveries.obliterate({ force: true });
    const rows = await backlog();
    for (const r of rows) await removeJob(r);
    // The first post's lost delivery was re-added just now (a fresh updated_at): age it with the others.
    await s.deps.store.db
      .updateTable('deliveries')
      .set({ updated_at: new Date(Date.now() - 60_000).toISOString() })
      .execute();
    const before = await s.deps.store.db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 'queued')
      .executeTakeFirstOrThrow();
    // Every job of both posts is gone: one run, started where the last one stopped, goes round and re-adds all 40.
    const out = await reconciler.run();
    expect(out.deliveries).toBe(40);
    expect(Number(before.n)).toBe(40);
    for (const r of rows) expect(await s.deps.queues.deliveries.getJobState(deliveryJobId(r.id, 1))).toBe('waiting');
  });
});
