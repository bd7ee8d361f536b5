import { Queue, type Job } from 'bullmq';
import { testDatabases } from '../helpers/databases';
import { seedOrganisation, startTestStack, UNITS_TEXT, waitFor, type TestStack } from '../helpers/stack';
import { deliveryJobId, fanoutJobId, JOB, QUEUE } from '../../src/queues/catalog';
import { startWorkers, type Workers } from '../../workers/create-workers';

/**
 * Dispatch goes by the job catalog: a job name a queue does not know fails for good without running,
 * and never falls through to publishing. Also the upgrade from a deploy whose reconcile scheduler rode
 * the fan-out queue and whose maintenance schedulers lived in a `governance` queue.
 */
describe.each(testDatabases())('job catalog dispatch on $name', (db) => {
  let s: TestStack;
  let workers: Workers | undefined;

  beforeAll(async () => {
    s = await startTestStack(db, 'catalog', { workers: false });
    await seedOrganisation(s, UNITS_TEXT, { only: (c) => c === '00004' || c === '00008' });
  });
  afterEach(async () => {
    await workers?.close(5_000);
    workers = undefined;
  });
  afterAll(() => s?.dispose());

  /** The job once it is in `state` (read after the state, so it carries what that transition wrote). */
  const jobIn = (q: Queue, id: string, state: 'failed' | 'completed') =>
    waitFor(async () => ((await q.getJobState(id)) === state ? q.getJob(id) : null), 20_000);

  it('fails an unknown job name on the deliveries queue for good, without calling Graph, and a job whose data does not parse', async () => {
    const editor = s.admin.withKey((await s.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
    const approver = s.admin.withKey((await s.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
    const post = await editor.createPost({ message: `Unknown job name ${Date.now()}`, target: { unit: '00004', scope: 'self' } });
    await approver.approve(post.id);
    await s.deps.queues.fanout.remove(fanoutJobId(post.id));
    await s.deps.fanout.run(post.id, { get: () => 0, set: async () => {} }); // no workers yet: fan out by hand
    const row = await s.deps.store.db
      .selectFrom('deliveries')
      .select(['id', 'page_id'])
      .where('post_id', '=', post.id)
      .executeTakeFirstOrThrow();
    // Only the job with a name not in the catalog is left for this delivery: a publish payload under another name.
    await s.deps.queues.deliveries.remove(deliveryJobId(row.id));
    await s.deps.queues.deliveries.add(
      'delivery.unknownVerb',
      { deliveryId: row.id, postId: post.id },
      { jobId: 'unknown-1', attempts: 5 },
    );
    await s.deps.queues.deliveries.add(JOB.publish, { deliveryId: 'lost', postId: post.id }, { jobId: 'bad-data-1', attempts: 5 });
    // Keeps the reconciler (at worker start and every 20 s) from giving the row a job of its own meanwhile: it skips
    // rows touched lately, and the fan-out it re-runs for the active post delays the row's job to its slot an hour ahead.
    const hourAhead = new Date(Date.now() + 3_600_000).toISOString();
    await s.deps.store.db
      .updateTable('deliveries')
      .set({ updated_at: hourAhead, not_before: hourAhead })
      .where('id', '=', row.id)
      .execute();
    const requestsBefore = s.sim.stats().requests;

    workers = await startWorkers(s.deps);
    const unknown: Job = (await jobIn(s.deps.queues.deliveries, 'unknown-1', 'failed'))!;
    expect(unknown.failedReason).toBe(
      `unknown job name "delivery.unknownVerb" on queue ${QUEUE.deliveries} (job unknown-1): not in the job catalog, not run`,
    );
    expect(unknown.attemptsMade).toBe(1); // UnrecoverableError: no retries
    const bad: Job = (await jobIn(s.deps.queues.deliveries, 'bad-data-1', 'failed'))!;
    expect(bad.failedReason).toMatch(
      /^job data missing or invalid for delivery\.publish job bad-data-1 \(Redis lost it\?\): deliveryId: .*the reconciler re-enqueues/,
    );
    expect(bad.attemptsMade).toBe(1);

    expect(s.sim.stats().requests).toBe(requestsBefore);
    expect(s.sim.postsOf(row.page_id!)).toHaveLength(0);
    const after = await s.deps.store.db
      .selectFrom('deliveries')
      .select(['status', 'attempts'])
      .where('id', '=', row.id)
      .executeTakeFirstOrThrow();
    expect(after).toMatchObject({ status: 'queued', attempts: 0 });
    await s.deps.posts.cancel(await s.deps.keys.authenticate(s.adminKey), post.id);
  });

  it('removes the schedulers an older deploy left on the fan-out and governance queues, and runs their maintenance on its own queue', async () => {
    const { fanout, maintenance } = s.deps.queues;
    const governance = new Queue('governance', { connection: s.deps.redis, prefix: s.config.queue.prefix });
    try {
      await fanout.upsertJobScheduler('reconcile', { every: 20_000 }, { name: 'maintenance.reconcile', data: { postId: '' } });
      await governance.upsertJobScheduler('reconcile-changes', { every: 15_000 }, { name: 'maintenance.reconcileChanges', data: {} });
      await governance.upsertJobScheduler('token-sweep', { every: 3_600_000 }, { name: 'pages.checkTokens', data: {} });
      await governance.add('pages.checkNewTokens', {}, { jobId: 'check-new-old', delay: 60_000 });
      // A job the old scheduler already produced, taken by a worker of the new deploy.
      await fanout.add('maintenance.reconcile', { postId: '' }, { jobId: 'old-reconcile-1' });

      workers = await startWorkers(s.deps);
      expect(await fanout.getJobScheduler('reconcile')).toBeFalsy();
      expect(await governance.getJobSchedulers()).toEqual([]);
      expect(await governance.getJobCountByTypes('waiting', 'delayed', 'prioritized')).toBe(0);
      const names = (await maintenance.getJobSchedulers()).map((j) => [j.key, j.name]).sort();
      expect(names).toEqual([
        ['reconcile', 'maintenance.reconcile'],
        ['reconcile-changes', 'maintenance.reconcileChanges'],
      ]); // no FB app here: no token sweep
      const old = (await jobIn(fanout, 'old-reconcile-1', 'completed'))!;
      expect(JSON.parse(old.returnvalue as string)).toMatchObject({ fanouts: expect.any(Number), deliveries: expect.any(Number) });
    } finally {
      await governance.close();
    }
  });
});
