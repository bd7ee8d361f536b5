import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DeliveryJobData, Queues } from './queues';

/**
 * Recall and edit work per delivery runs on the `deliveries` queue, next to publishing, so it shares
 * its workers, retry/backoff settings and throttle handling. Job names and ids are deterministic:
 * re-adding an existing job is a no-op, so every enqueue can be repeated safely.
 */
export const CHANGE_JOB = { recall: 'delivery.recall', edit: 'delivery.edit' } as const;

export interface ChangeJobData extends DeliveryJobData {
  /** Edit jobs: the post revision to apply. Recall jobs: the recall round. */
  revision: number;
}

/** One recall job per delivery and recall round (a retried recall gets new jobs: the old ones may sit in `failed`). */
export const recallJobId = (deliveryId: number, round: number) => `rcl-${deliveryId}-r${round}`;
export const editJobId = (deliveryId: number, revision: number) => `edt-${deliveryId}-v${revision}`;

/** Maintenance queue of governance: the token-health sweep and the recall/edit reconciler. */
export const GOVERNANCE_QUEUE = 'governance';
export const GOVERNANCE_JOB = { tokenSweep: 'pages.checkTokens', checkNewTokens: 'pages.checkNewTokens', reconcileChanges: 'maintenance.reconcileChanges' } as const;
export interface GovernanceJobData {
  /** Token sweep checkpoint: last unit code checked. */
  after?: string;
}

export class ChangeJobs {
  readonly governance: Queue<GovernanceJobData>;

  constructor(
    private readonly queues: Queues,
    connection: Redis,
    private readonly settings: { prefix: string; attempts: number; backoffMs: number },
  ) {
    this.governance = new Queue<GovernanceJobData>(GOVERNANCE_QUEUE, { connection, prefix: settings.prefix, streams: { events: { maxLen: 1_000 } } });
  }

  private opts(jobId: string, lifo: boolean): JobsOptions {
    return { jobId, attempts: this.settings.attempts, backoff: { type: 'exponential', delay: this.settings.backoffMs, jitter: 0.5 }, lifo };
  }

  /** Recalls jump the queue (`lifo`): a wrong post must come down before the backlog of new ones goes out. */
  async addRecalls(items: ChangeJobData[]): Promise<void> {
    if (!items.length) return;
    await this.queues.deliveries.addBulk(items.map((d) => ({ name: CHANGE_JOB.recall, data: d, opts: this.opts(recallJobId(d.deliveryId, d.revision), true) })));
  }

  async addEdits(items: ChangeJobData[]): Promise<void> {
    if (!items.length) return;
    await this.queues.deliveries.addBulk(items.map((d) => ({ name: CHANGE_JOB.edit, data: d, opts: this.opts(editJobId(d.deliveryId, d.revision), false) })));
  }

  /** After Pages were linked: check the tokens never checked yet, now rather than at the next sweep. */
  async requestNewTokenCheck(): Promise<void> {
    await this.governance.add(GOVERNANCE_JOB.checkNewTokens, {}, { jobId: `check-new-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`, attempts: 3, backoff: { type: 'exponential', delay: 5_000 }, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } });
  }

  async close(): Promise<void> {
    await this.governance.close();
  }
}
