import { Queue, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Deps } from '../src/deps';
import { systemActor } from '../src/services/governance/audit.service';
import {
  assertNever,
  dispatchName,
  JOB,
  JOBS,
  parseJobData,
  QUEUE,
  QUEUES,
  RETIRED_QUEUES,
  RETIRED_SCHEDULERS,
  schedulerOf,
  type FanoutJobData,
  type ScheduledJobName,
} from '../src/queues/catalog';

/**
 * Concurrency of the maintenance worker: one slot per kind of maintenance job, so a long token sweep
 * never holds up the delivery reconciler (which is what brings back work Redis forgot).
 */
const MAINTENANCE_CONCURRENCY = 5;

/** Before a post's first fan-out pass: re-check its stale Page tokens (never blocks the fan-out on failure). */
export async function checkTokensBeforeFanout(data: FanoutJobData, deps: Deps): Promise<void> {
  if (!deps.tokenHealth.enabled || data.enqueuedUpTo) return;
  await deps.tokenHealth
    .checkBeforeFanout(data.postId)
    .catch((err: Error) =>
      deps.log.warn({ postId: data.postId, err: err.message }, 'token check before fan-out failed; fanning out anyway'),
    );
}

/** The maintenance queue's jobs, by catalog name. */
async function dispatchMaintenance(job: Job, deps: Deps): Promise<string> {
  const name = dispatchName(QUEUE.maintenance, job);
  switch (name) {
    case JOB.reconcile:
      parseJobData(name, job);
      return JSON.stringify(await deps.reconciler.run());
    case JOB.reconcileChanges:
      parseJobData(name, job);
      return JSON.stringify({ recalls: await deps.recalls.reconcile(), edits: await deps.edits.reconcile() });
    case JOB.checkTokens:
    case JOB.checkNewTokens: {
      const data = parseJobData(name, job);
      const totals = await deps.tokenHealth.sweep({
        after: data.after,
        save: (after) => job.updateData({ after }),
        onlyUnchecked: name === JOB.checkNewTokens,
      });
      return JSON.stringify(totals);
    }
    case JOB.syncPages: {
      parseJobData(name, job);
      if (!(await deps.business.connected())) return 'no Business Manager connection';
      const res = await deps.business.sync(systemActor('page-sync'));
      return JSON.stringify({ ...res.pages, unmapped: res.pages.unmapped.length, withoutPage: res.units.withoutPage });
    }
    default:
      return assertNever(name);
  }
}

/**
 * The maintenance worker: the delivery reconciler, the recall/edit reconciler and the debug_token sweeps.
 * One small worker per process; the job schedulers make sure each run happens once, whichever process takes it.
 */
export async function startMaintenanceWorker(
  deps: Deps,
  common: { connection: ConnectionOptions; prefix: string; lockDuration: number; stalledInterval: number },
): Promise<Worker> {
  const worker = new Worker(QUEUE.maintenance, (job) => dispatchMaintenance(job, deps), {
    ...common,
    concurrency: MAINTENANCE_CONCURRENCY,
    ...QUEUES.maintenance.retention,
  });
  worker.on('error', (err) => deps.log.error({ err: err.message, queue: QUEUE.maintenance }, 'worker error'));
  worker.on('failed', (job, err) => {
    if (job && (job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError)) {
      deps.log.warn({ queue: QUEUE.maintenance, jobName: job.name, jobId: job.id, err: err.message }, 'maintenance job failed');
    }
  });
  await ensureMaintenanceSchedulers(deps);
  return worker;
}

/** (Re)creates the maintenance job schedulers; idempotent (also called when Redis lost its data). */
export async function ensureMaintenanceSchedulers(deps: Deps): Promise<void> {
  const { config, log } = deps;
  const upsert = async (name: ScheduledJobName) => {
    const s = schedulerOf(name, config.env);
    await deps.queues.maintenance.upsertJobScheduler(s.id, { every: s.every }, s.template);
  };
  await upsert(JOB.reconcile);
  await upsert(JOB.reconcileChanges);
  // The Business Manager sync needs the app (debug_token checked the stored token with it); it skips while none is stored.
  if (config.facebookApp) await upsert(JOB.syncPages);
  else await deps.queues.maintenance.removeJobScheduler(JOBS[JOB.syncPages].scheduler.id);
  if (deps.tokenHealth.enabled) {
    await upsert(JOB.checkTokens);
  } else {
    await deps.queues.maintenance.removeJobScheduler(JOBS[JOB.checkTokens].scheduler.id);
    log.info('token-health sweep disabled: set FB_APP_ID and FB_APP_SECRET to check Page tokens with debug_token');
  }
}

/**
 * Removes the job schedulers of older deploys (see RETIRED_SCHEDULERS): a deploy over a Redis that
 * still has them would otherwise run the reconciler twice as often and leave `governance` jobs unrun.
 */
export class RetiredSchedulers {
  private readonly queues: Record<string, Queue>;

  constructor(private readonly deps: Deps) {
    this.queues = { fanout: deps.queues.fanout };
    // The producer connection: fails fast while Redis is away (the watchdog calls this every tick).
    for (const name of RETIRED_QUEUES) this.queues[name] = new Queue(name, { connection: deps.redis, prefix: deps.config.queue.prefix });
  }

  /**
   * Idempotent. With `reissueStranded` (at start), jobs still waiting in a retired queue are dropped and,
   * if there were any, one new-token check is queued in their place (the only one-off job it held).
   */
  async removeAll(opts: { reissueStranded?: boolean } = {}): Promise<void> {
    for (const { queue, id } of RETIRED_SCHEDULERS) {
      if (await this.queues[queue]!.removeJobScheduler(id)) {
        this.deps.log.info({ queue, scheduler: id }, 'removed a job scheduler of an older deploy');
      }
    }
    if (!opts.reissueStranded) return;
    for (const name of RETIRED_QUEUES) {
      const q = this.queues[name]!;
      if ((await q.getJobCountByTypes('waiting', 'prioritized', 'delayed')) === 0) continue;
      await q.drain(true);
      if (this.deps.tokenHealth.enabled) await this.deps.queues.add(JOB.checkNewTokens, {});
      this.deps.log.info({ queue: name }, 'moved the waiting jobs of a retired queue to the maintenance queue');
    }
  }

  async close(): Promise<void> {
    await Promise.all(RETIRED_QUEUES.map((name) => this.queues[name]!.close()));
  }
}
