import { UnrecoverableError, Worker } from 'bullmq';
import { testDatabases } from '../helpers/databases';
import { seedOrganisation, startTestStack, UNITS_TEXT, waitFor, type TestStack } from '../helpers/stack';
import type { ApiClient } from '../../src/cli/api-client';
import { createRedis } from '../../src/queues/redis';
import { deliveryJobId, fanoutJobId, QUEUE } from '../../src/queues/catalog';
import { startWorkers, type Workers } from '../../workers/create-workers';

/**
 * BullMQ can finish a job on its own while the store still says the work is open: a job that stalled
 * twice (two workers killed while holding it) is failed with "job stalled more than allowable limit"
 * without our processor ever running. The reliability suite's chained kill -9 found deliveries stuck
 * `publishing` that way; these tests pin the recovery for both queues.
 */
describe.each(testDatabases())('reconciler recovers jobs BullMQ failed on its own, on $name', (db) => {
  let s: TestStack;
  let workers: Workers | undefined;
  let editor: ApiClient;
  let approver: ApiClient;

  beforeAll(async () => {
    s = await startTestStack(db, 'reconcile', { workers: false });
    await seedOrganisation(s, UNITS_TEXT, { only: (c) => c === '00004' || c === '00008' });
    editor = s.admin.withKey((await s.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
    approver = s.admin.withKey((await s.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
  });
  afterAll(async () => {
    await workers?.close(5_000);
    await s?.dispose();
  });

  /** Fails every job of `queue` that is waiting now, as BullMQ does after a second stall (the processor never runs). */
  async function failWaitingJobs(queue: string, jobId: string): Promise<void> {
    const connection = createRedis(s.config.redisUrl, 'worker');
    const failer = new Worker(
      queue,
      async () => {
        throw new UnrecoverableError('job stalled more than allowable limit');
      },
      { connection, prefix: s.config.queue.prefix },
    );
    const q = queue === QUEUE.fanout ? s.deps.queues.fanout : s.deps.queues.deliveries;
    await waitFor(async () => (await q.getJobState(jobId)) === 'failed', 10_000);
    await failer.close();
    connection.disconnect();
  }

  const pageOf = async (unit: string) =>
    (await s.deps.store.db.selectFrom('pages').select('page_id').where('unit_code', '=', unit).executeTakeFirstOrThrow()).page_id;
  const finalPost = (id: string) =>
    waitFor(async () => {
      const p = await editor.getPost(id);
      return p.status === 'published' ? p : null;
    }, 30_000);

  it('a failed delivery job with an open row gets a new job round and is delivered once', async () => {
    const message = `Reconciler revives a delivery ${Date.now()}`;
    const post = await editor.createPost({ message, target: { unit: '00004', scope: 'self' } });
    await approver.approve(post.id);
    await s.deps.fanout.run(post.id, { get: () => 0, set: async () => {} }); // no workers yet: fan out by hand
    const row = await s.deps.store.db.selectFrom('deliveries').select(['id']).where('post_id', '=', post.id).executeTakeFirstOrThrow();
    await failWaitingJobs(QUEUE.deliveries, deliveryJobId(row.id));
    // Still queued in the store, and untouched for longer than the reconciler's staleness threshold.
    await s.deps.store.db
      .updateTable('deliveries')
      .set({ updated_at: new Date(Date.now() - 60_000).toISOString() })
      .where('id', '=', row.id)
      .execute();

    expect(await s.deps.reconciler.run()).toMatchObject({ deliveries: 1 });
    expect(await s.deps.queues.deliveries.getJobState(deliveryJobId(row.id, 1))).toBe('waiting');
    await s.deps.queues.fanout.remove(fanoutJobId(post.id)); // the approval's fan-out job is not needed any more

    workers = await startWorkers(s.deps);
    expect((await finalPost(post.id)).counts.published).toBe(1);
    expect(s.sim.postsOf(await pageOf('00004')).filter((p) => p.message === message)).toHaveLength(1);
  });

  it('a failed fan-out job of a post still approved is replaced, and the post is published', async () => {
    await workers?.close(5_000);
    workers = undefined;
    const message = `Reconciler revives a fan-out ${Date.now()}`;
    const post = await editor.createPost({ message, target: { unit: '00008', scope: 'self' } });
    await approver.approve(post.id);
    await failWaitingJobs(QUEUE.fanout, fanoutJobId(post.id));
    expect((await editor.getPost(post.id)).status).toBe('approved');

    // Before the fix the reconciler's re-add hit the failed id (kept 30 days) and the post stayed approved.
    await s.deps.reconciler.run();
    expect(await s.deps.queues.fanout.getJobState(fanoutJobId(post.id))).toBe('waiting');
    workers = await startWorkers(s.deps);
    expect((await finalPost(post.id)).counts.published).toBe(1);
    expect(s.sim.postsOf(await pageOf('00008')).filter((p) => p.message === message)).toHaveLength(1);
  });
});
