import { UnrecoverableError, Worker } from 'bullmq';
import { testDatabases } from '../helpers/databases';
import { seedOrganisation, startTestStack, UNITS_TEXT, waitFor, type TestStack } from '../helpers/stack';
import { createRedis } from '../../src/queues/redis';
import { deliveryJobId, QUEUE } from '../../src/queues/queues';
import { RECONCILE_SCHEDULER_ID, startWorkers, type Workers } from '../../workers/create-workers';

/** What the reliability suite found; each case failed before its fix (see README, Reliability). */
describe.each(testDatabases())('reconciler recovers what BullMQ forgot or finished on its own, on $name', (db) => {
  let s: TestStack;
  let workers: Workers | undefined;

  beforeAll(async () => {
    s = await startTestStack(db, 'reconcile', { workers: false, env: { RECONCILE_INTERVAL_MS: '1000' } });
    await seedOrganisation(s, UNITS_TEXT, { only: (c) => c === '001' });
  });
  afterAll(async () => {
    await workers?.close(5_000);
    await s?.dispose();
  });

  it('revives a delivery whose job BullMQ failed while its row is still open, then delivers it once', async () => {
    const editor = s.admin.withKey((await s.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
    const approver = s.admin.withKey((await s.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
    const message = `Reconciler revival ${Date.now()}`;
    const post = await editor.createPost({ message, target: { unit: '001', scope: 'self' } });
    await approver.approve(post.id);
    // No workers yet: run the fan-out by hand (rows written, one delivery job enqueued).
    await s.deps.fanout.run(post.id, { get: () => 0, set: async () => {} });
    const row = await s.deps.store.db.selectFrom('deliveries').select(['id']).where('post_id', '=', post.id).executeTakeFirstOrThrow();
    const jobId = deliveryJobId(row.id);

    // BullMQ fails the job without calling our processor, as it does for "job stalled more than allowable limit".
    const connection = createRedis(s.config.redisUrl, 'worker');
    const failer = new Worker(QUEUE.deliveries, async () => {
      throw new UnrecoverableError('job stalled more than allowable limit');
    }, { connection, prefix: s.config.queue.prefix });
    await waitFor(async () => (await s.deps.queues.deliveries.getJobState(jobId)) === 'failed', 10_000);
    await failer.close();
    connection.disconnect();
    // The row is still open, and untouched for longer than the reconciler's staleness threshold.
    await s.deps.store.db.updateTable('deliveries').set({ updated_at: new Date(Date.now() - 60_000).toISOString() }).where('id', '=', row.id).execute();
    expect((await s.deps.store.db.selectFrom('deliveries').select('status').where('id', '=', row.id).executeTakeFirstOrThrow()).status).toBe('queued');

    // Before the fix the re-add was a no-op (the failed job kept its id) and the delivery never ran.
    expect(await s.deps.reconciler.run()).toMatchObject({ deliveries: 1 });
    expect(await s.deps.queues.deliveries.getJobState(jobId)).toBe('waiting');

    workers = await startWorkers(s.deps);
    const done = await waitFor(async () => {
      const p = await editor.getPost(post.id);
      return p.status === 'published' ? p : null;
    }, 30_000);
    expect(done.counts.published).toBe(1);
    const pageId = (await s.deps.store.db.selectFrom('pages').select('page_id').where('unit_code', '=', '001').executeTakeFirstOrThrow()).page_id;
    expect(s.sim.postsOf(pageId).filter((p) => p.message === message)).toHaveLength(1);
  });

  it('re-creates the reconcile job scheduler when Redis has lost it (e.g. restarted empty)', async () => {
    workers ??= await startWorkers(s.deps);
    expect(await s.deps.queues.fanout.getJobScheduler(RECONCILE_SCHEDULER_ID)).toBeTruthy();
    await s.deps.queues.fanout.removeJobScheduler(RECONCILE_SCHEDULER_ID);
    expect(await s.deps.queues.fanout.getJobScheduler(RECONCILE_SCHEDULER_ID)).toBeFalsy();
    // RECONCILE_INTERVAL_MS is 1 s here; the ceiling is generous, nothing asserts timing.
    await waitFor(async () => Boolean(await s.deps.queues.fanout.getJobScheduler(RECONCILE_SCHEDULER_ID)), 20_000);
  });
});
