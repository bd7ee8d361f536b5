import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Deps } from '../src/deps';
import { CHANGE_JOB, GOVERNANCE_JOB, GOVERNANCE_QUEUE, type ChangeJobData, type GovernanceJobData } from '../src/queues/change-jobs';
import type { DeliveryJobData, FanoutJobData } from '../src/queues/queues';
import type { TokenCipher } from '../src/security/token-cipher';
import { processEdit } from './processors/edit.processor';
import { processRecall } from './processors/recall.processor';
import { pageWriteDeps } from './processors/page-write-policy';

export const TOKEN_SWEEP_SCHEDULER_ID = 'token-sweep';
export const CHANGES_SCHEDULER_ID = 'reconcile-changes';
export const RECONCILE_CHANGES_EVERY_MS = 15_000;

/**
 * Recall and edit jobs share the `deliveries` queue (and so its workers, retry and throttling) with
 * publishing. Returns the job's promise, or undefined when the job is a publish job.
 */
export function routeChangeJob(job: Job<DeliveryJobData>, token: string | undefined, deps: Deps, cipher: TokenCipher): Promise<string> | undefined {
  const common = { ...pageWriteDeps(deps), ledger: deps.ledger, graph: deps.graph, cipher };
  if (job.name === CHANGE_JOB.recall) return processRecall(job as Job<ChangeJobData>, token, { ...common, recalls: deps.recalls });
  if (job.name === CHANGE_JOB.edit) return processEdit(job as Job<ChangeJobData>, token, { ...common, edits: deps.edits });
  return undefined;
}

/** Before a post's first fan-out pass: re-check its stale Page tokens (never blocks the fan-out on failure). */
export async function checkTokensBeforeFanout(job: Job<FanoutJobData>, deps: Deps): Promise<void> {
  if (!deps.tokenHealth.enabled || job.data.enqueuedUpTo) return;
  await deps.tokenHealth.checkBeforeFanout(job.data.postId).catch((err: Error) => deps.log.warn({ postId: job.data.postId, err: err.message }, 'token check before fan-out failed; fanning out anyway'));
}

/**
 * The governance worker: the scheduled debug_token sweep of every Page token and the recall/edit
 * reconciler (re-queues what the store says is unfinished). One small worker per process; the job
 * schedulers make sure each run happens once, whichever process takes it.
 */
export async function startGovernanceWorker(deps: Deps, connection: Redis): Promise<Worker<GovernanceJobData>> {
  const { config, log } = deps;
  const worker = new Worker<GovernanceJobData>(
    GOVERNANCE_QUEUE,
    async (job) => {
      if (job.name === GOVERNANCE_JOB.tokenSweep || job.name === GOVERNANCE_JOB.checkNewTokens) {
        const onlyUnchecked = job.name === GOVERNANCE_JOB.checkNewTokens;
        const totals = await deps.tokenHealth.sweep({ after: job.data.after, save: (after) => job.updateData({ after }), onlyUnchecked });
        return JSON.stringify(totals);
      }
      return JSON.stringify({ recalls: await deps.recalls.reconcile(), edits: await deps.edits.reconcile() });
    },
    { connection, prefix: config.queue.prefix, concurrency: 2, removeOnComplete: { count: 200 }, removeOnFail: { count: 500 } },
  );
  worker.on('error', (err) => log.error({ err: err.message, queue: GOVERNANCE_QUEUE }, 'worker error'));
  await ensureGovernanceSchedulers(deps);
  return worker;
}

/** (Re)creates the governance job schedulers; idempotent (also called when Redis lost its data). */
export async function ensureGovernanceSchedulers(deps: Deps): Promise<void> {
  const { config, log } = deps;
  const queue = deps.changeJobs.governance;
  await queue.upsertJobScheduler(CHANGES_SCHEDULER_ID, { every: RECONCILE_CHANGES_EVERY_MS }, { name: GOVERNANCE_JOB.reconcileChanges, data: {} });
  if (deps.tokenHealth.enabled) {
    await queue.upsertJobScheduler(TOKEN_SWEEP_SCHEDULER_ID, { every: config.tokenHealth.sweepEveryMs }, { name: GOVERNANCE_JOB.tokenSweep, data: {} });
  } else {
    await queue.removeJobScheduler(TOKEN_SWEEP_SCHEDULER_ID);
    log.info('token-health sweep disabled: set FB_APP_ID and FB_APP_SECRET to check Page tokens with debug_token');
  }
}
