import { Worker, type Job } from 'bullmq';
import type { Deps } from '../src/deps';
import { assertNever, dispatchName, JOB, JobNotRunError, JOBS, parseJobData, QUEUE, QUEUES } from '../src/queues/catalog';
import { createRedis } from '../src/queues/redis';
import { processDelivery, type DeliveryDeps } from './processors/delivery.processor';
import { processEdit } from './processors/edit.processor';
import { processFanout } from './processors/fanout.processor';
import type { ChangeDeps } from './processors/change-job';
import { pageWriteDeps } from './processors/page-write-policy';
import { processRecall } from './processors/recall.processor';
import { DeliveryLanes } from './delivery-lanes';
import { StoreGuard } from './store-guard';
import { startWebhookWorker, type WebhookWorker } from './webhook-worker';
import { checkTokensBeforeFanout, ensureMaintenanceSchedulers, RetiredSchedulers, startMaintenanceWorker } from './maintenance-worker';

/** How often each worker process checks that the reconcile scheduler still exists in Redis. */
const WATCHDOG_EVERY_MS = 10_000;

export interface Workers {
  fanout: Worker;
  /** The deliveries queue's Workers (WORKER_CONCURRENCY spread over lanes; see delivery-lanes.ts). */
  deliveries: DeliveryLanes;
  maintenance: Worker;
  webhooks: WebhookWorker;
  /** Pauses these workers while the store is unavailable and puts back the jobs that met the outage. */
  storeGuard: StoreGuard;
  /** Stops taking jobs and waits for active ones (up to `timeoutMs`, then forces; forced jobs stall and are retried elsewhere). */
  close(timeoutMs?: number): Promise<void>;
}

/** The fan-out queue's jobs, by catalog name. */
async function dispatchFanout(job: Job, token: string | undefined, deps: Deps): Promise<string> {
  const name = dispatchName(QUEUE.fanout, job);
  switch (name) {
    case JOB.fanout:
      await checkTokensBeforeFanout(parseJobData(name, job), deps);
      return processFanout(job, token, deps.fanout);
    case 'maintenance.reconcile':
      // Retired here (it runs on the maintenance queue now): a job of an older deploy's scheduler.
      return JSON.stringify(await deps.reconciler.run());
    default:
      return assertNever(name);
  }
}

/** The deliveries queue's jobs: publishing, and recall and edit, which share its workers, retries and throttling. */
async function dispatchDelivery(
  job: Job,
  token: string | undefined,
  deps: { publish: DeliveryDeps; change: ChangeDeps; app: Deps },
): Promise<string> {
  const name = dispatchName(QUEUE.deliveries, job);
  switch (name) {
    case JOB.publish:
      return processDelivery(job, token, deps.publish);
    case JOB.recall:
      return processRecall(job, token, { ...deps.change, recalls: deps.app.recalls });
    case JOB.edit:
      return processEdit(job, token, { ...deps.change, edits: deps.app.edits });
    default:
      return assertNever(name);
  }
}

/** Starts the fan-out, delivery, maintenance and webhook workers of this process. */
export async function startWorkers(deps: Deps, opts: { concurrency?: number } = {}): Promise<Workers> {
  const { config, log } = deps;
  const connection = createRedis(config.redisUrl, 'worker');
  connection.on('error', (err) => log.warn({ err: err.message }, 'worker redis error'));
  // WORKER_LOCK_MS: how long a dead worker's job stays locked before the stalled check hands it to another worker.
  const common = { connection, prefix: config.queue.prefix, lockDuration: config.queue.lockMs, stalledInterval: config.queue.lockMs };
  const cipher = deps.cipher();
  const guard = new StoreGuard(deps.store, log);

  // A job that meets a store outage is put back unspent (the guard also pauses the workers until the store answers).
  const fanout = new Worker(
    QUEUE.fanout,
    guard.wrap((job, token) => dispatchFanout(job, token, deps)),
    { ...common, concurrency: 2, ...QUEUES.fanout.retention },
  );
  const deliveryDeps = {
    app: deps,
    publish: {
      ...pageWriteDeps(deps),
      ledger: deps.ledger,
      publisher: deps.publisher,
      cipher,
      // An earlier attempt may still be in flight until its timeout; then Graph may list it late.
      readbackDelayMs: config.graph.timeoutMs + config.queue.readbackDelayMs,
    },
    change: { ...pageWriteDeps(deps), ledger: deps.ledger, graph: deps.graph, cipher },
  };
  const processDeliveryJob = guard.wrap((job, token) => dispatchDelivery(job, token, deliveryDeps));
  const deliveries = new DeliveryLanes(opts.concurrency ?? config.queue.concurrency, (concurrency) => {
    const lane = new Worker(QUEUE.deliveries, processDeliveryJob, {
      ...common,
      // A limiter must exist for queue.rateLimit() (app-level throttle) to pause fetching; this one never binds.
      limiter: { max: 100_000, duration: 1_000 },
      // While paused, wake every 5 s (not BullMQ's 30 s) so a lifted pause resumes promptly.
      maximumRateLimitDelay: 5_000,
      concurrency,
      ...QUEUES.deliveries.retention,
    });
    // A job whose lock could not be renewed may be running elsewhere: stop this copy.
    lane.on('lockRenewalFailed', (ids) => ids.forEach((id) => lane.cancelJob(id, 'lock renewal failed')));
    return lane;
  });
  for (const w of [fanout, ...deliveries.lanes]) {
    w.on('error', (err) => log.error({ err: err.message, queue: w.name }, 'worker error'));
    w.on('failed', (job, err) => {
      if (job && (job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof JobNotRunError)) {
        log.warn({ queue: w.name, jobName: job.name, jobId: job.id, err: err.message }, 'job failed for good');
      }
    });
  }
  const webhooks = startWebhookWorker(deps, connection);

  // Upgrade path: schedulers an older deploy created where their jobs no longer run.
  const retired = new RetiredSchedulers(deps);
  await retired.removeAll({ reissueStranded: true });
  const maintenance = await startMaintenanceWorker(deps, common);
  await deps.reconciler.run().catch((err: Error) => log.warn({ err: err.message }, 'start-up reconcile failed'));
  // The schedulers live in Redis: if Redis restarts empty they are gone with every job. Each worker
  // notices within WATCHDOG_EVERY_MS, recreates them and reconciles at once (idempotent if several do).
  const watchdog = setInterval(() => {
    void (async () => {
      // An older process still running during a rolling deploy may recreate a retired scheduler.
      await retired.removeAll();
      if (await deps.queues.maintenance.getJobScheduler(JOBS[JOB.reconcile].scheduler.id)) return;
      log.warn('reconcile scheduler missing (Redis lost its data?): recreating the maintenance schedulers and reconciling now');
      await ensureMaintenanceSchedulers(deps);
      await deps.reconciler.run();
    })().catch((err: Error) => log.warn({ err: err.message }, 'reconcile watchdog failed'));
  }, WATCHDOG_EVERY_MS);
  watchdog.unref();
  guard.attach(fanout, ...deliveries.lanes, webhooks.worker, maintenance);

  return {
    fanout,
    deliveries,
    maintenance,
    webhooks,
    storeGuard: guard,
    async close(timeoutMs = 25_000) {
      clearInterval(watchdog);
      guard.close();
      // Webhooks close after the deliveries, so events of the last in-flight deliveries are still sent.
      const graceful = Promise.all([fanout.close(), deliveries.close(), maintenance.close()]).then(() => webhooks.close());
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
      if ((await Promise.race([graceful, timer])) === 'timeout') {
        log.warn('workers did not finish in time; forcing close (active jobs will be retried)');
        await Promise.all([fanout.close(true), deliveries.close(true), maintenance.close(true), webhooks.close(true)]);
      }
      await retired.close();
      connection.disconnect();
    },
  };
}
