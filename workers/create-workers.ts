import { Worker, type Job } from 'bullmq';
import type { Deps } from '../src/deps';
import { createRedis } from '../src/queues/redis';
import { JOB, QUEUE, type DeliveryJobData, type FanoutJobData } from '../src/queues/queues';
import { processDelivery } from './processors/delivery.processor';
import { processFanout } from './processors/fanout.processor';
import { StoreGuard } from './store-guard';
import { startWebhookWorker, type WebhookWorker } from './webhook-worker';
import { checkTokensBeforeFanout, ensureGovernanceSchedulers, routeChangeJob, startGovernanceWorker } from './governance-workers';

export const RECONCILE_SCHEDULER_ID = 'reconcile';
const RECONCILE_JOB = 'maintenance.reconcile';
export const RECONCILE_EVERY_MS = 20_000;
/** How often each worker process checks that the reconcile scheduler still exists in Redis. */
const WATCHDOG_EVERY_MS = 10_000;

export interface Workers {
  fanout: Worker<FanoutJobData>;
  deliveries: Worker<DeliveryJobData>;
  webhooks: WebhookWorker;
  /** Pauses these workers while the store is unavailable and puts back the jobs that met the outage. */
  storeGuard: StoreGuard;
  /** Stops taking jobs and waits for active ones (up to `timeoutMs`, then forces; forced jobs stall and are retried elsewhere). */
  close(timeoutMs?: number): Promise<void>;
}

/** Starts the fan-out and delivery workers of this process. */
export async function startWorkers(deps: Deps, opts: { concurrency?: number } = {}): Promise<Workers> {
  const { config, log } = deps;
  const connection = createRedis(config.redisUrl, 'worker');
  connection.on('error', (err) => log.warn({ err: err.message }, 'worker redis error'));
  // WORKER_LOCK_MS: how long a dead worker's job stays locked before the stalled check hands it to another worker.
  const common = { connection, prefix: config.queue.prefix, lockDuration: config.queue.lockMs, stalledInterval: config.queue.lockMs };
  const cipher = deps.cipher();
  const guard = new StoreGuard(deps.store, log);

  const fanout = new Worker<FanoutJobData>(
    QUEUE.fanout,
    // A reconcile run that meets a store outage is skipped (the scheduler runs it again); anything else is put back unspent.
    guard.wrap(async (job: Job<FanoutJobData>, token?: string) => {
      if (job.name === RECONCILE_JOB) return JSON.stringify(await deps.reconciler.run());
      await checkTokensBeforeFanout(job, deps);
      return processFanout(job, token, deps.fanout);
    }, (job) => (job.name === RECONCILE_JOB ? 'skip' : 'delay')),
    { ...common, concurrency: 2, removeOnComplete: { age: 7 * 24 * 3600, count: 5_000 }, removeOnFail: { age: 30 * 24 * 3600 } },
  );
  const deliveries = new Worker<DeliveryJobData>(
    QUEUE.deliveries,
    guard.wrap<DeliveryJobData>((job, token) =>
      routeChangeJob(job, token, deps, cipher) ??
      processDelivery(job, token, {
        deliveries: deps.deliveries,
        publisher: deps.publisher,
        cipher,
        pacer: deps.pacer,
        pauseQueue: (ms) => deps.queues.deliveries.rateLimit(ms),
        // An earlier attempt may still be in flight until its timeout; then Graph may list it late.
        readbackDelayMs: config.graph.timeoutMs + config.queue.readbackDelayMs,
        log,
      })),
    {
      ...common,
      // A limiter must exist for queue.rateLimit() (app-level throttle) to pause fetching; this one never binds.
      limiter: { max: 100_000, duration: 1_000 },
      // While paused, wake every 5 s (not BullMQ's 30 s) so a lifted pause resumes promptly.
      maximumRateLimitDelay: 5_000,
      concurrency: opts.concurrency ?? config.queue.concurrency,
      // Completed jobs are kept an hour: a deterministic id re-added meanwhile is ignored; later the store still says "published".
      removeOnComplete: { age: 3600, count: 50_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  );
  for (const w of [fanout, deliveries]) {
    w.on('error', (err) => log.error({ err: err.message, queue: w.name }, 'worker error'));
    w.on('failed', (job, err) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) log.warn({ queue: w.name, jobId: job.id, err: err.message }, 'job failed for good');
    });
  }
  const webhooks = startWebhookWorker(deps, connection);
  // A job whose lock could not be renewed may be running elsewhere: stop this copy.
  deliveries.on('lockRenewalFailed', (ids) => ids.forEach((id) => deliveries.cancelJob(id, 'lock renewal failed')));

  const ensureScheduler = () => deps.queues.fanout.upsertJobScheduler(RECONCILE_SCHEDULER_ID, { every: RECONCILE_EVERY_MS }, { name: RECONCILE_JOB, data: { postId: '' } });
  await ensureScheduler();
  await deps.reconciler.run().catch((err: Error) => log.warn({ err: err.message }, 'start-up reconcile failed'));
  // The scheduler lives in Redis: if Redis restarts empty it is gone with every job. Each worker
  // notices within WATCHDOG_EVERY_MS, recreates it and reconciles at once (idempotent if several do).
  const watchdog = setInterval(() => {
    void (async () => {
      if (await deps.queues.fanout.getJobScheduler(RECONCILE_SCHEDULER_ID)) return;
      log.warn('reconcile scheduler missing (Redis lost its data?): recreating it and reconciling now');
      await ensureScheduler();
      await ensureGovernanceSchedulers(deps);
      await deps.reconciler.run();
    })().catch((err: Error) => log.warn({ err: err.message }, 'reconcile watchdog failed'));
  }, WATCHDOG_EVERY_MS);
  watchdog.unref();
  const governance = await startGovernanceWorker(deps, connection);
  guard.attach(fanout, deliveries, webhooks.worker, governance);

  return {
    fanout,
    deliveries,
    webhooks,
    storeGuard: guard,
    async close(timeoutMs = 25_000) {
      clearInterval(watchdog);
      guard.close();
      // Webhooks close after the deliveries, so events of the last in-flight deliveries are still sent.
      const graceful = Promise.all([fanout.close(), deliveries.close(), governance.close()]).then(() => webhooks.close());
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
      if ((await Promise.race([graceful, timer])) === 'timeout') {
        log.warn('workers did not finish in time; forcing close (active jobs will be retried)');
        await Promise.all([fanout.close(true), deliveries.close(true), governance.close(true), webhooks.close(true)]);
      }
      connection.disconnect();
    },
  };
}
