import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { UnavailableError } from '../errors/app-error';
import {
  buildJob,
  fanoutJobId,
  JOB,
  QUEUE,
  QUEUES,
  JOBS,
  type CatalogSettings,
  type JobData,
  type OneOffJobName,
  type QueueName,
} from './catalog';

/**
 * The producer side of the job catalog: one BullMQ Queue per catalog queue, and typed enqueue helpers
 * that validate each payload with its schema (a bad payload throws JobPayloadError: a bug, not input).
 */
export class Queues {
  readonly fanout: Queue;
  readonly deliveries: Queue;
  readonly webhooks: Queue;
  readonly maintenance: Queue;
  private readonly byName: Readonly<Record<QueueName, Queue>>;

  constructor(
    private readonly connection: Redis,
    private readonly settings: { prefix: string; catalog: CatalogSettings },
  ) {
    const open = (name: QueueName) =>
      new Queue(name, { connection, prefix: settings.prefix, streams: { events: { maxLen: QUEUES[name].eventsMaxLen } } });
    this.fanout = open(QUEUE.fanout);
    this.deliveries = open(QUEUE.deliveries);
    this.webhooks = open(QUEUE.webhooks);
    this.maintenance = open(QUEUE.maintenance);
    this.byName = { fanout: this.fanout, deliveries: this.deliveries, webhooks: this.webhooks, maintenance: this.maintenance };
  }

  /** Every queue of the catalog (queue board, metrics, error hooks). */
  all(): Queue[] {
    return Object.values(this.byName);
  }

  /** Adds one job of the catalog (`delay` in ms). Fails fast with UnavailableError while Redis is away. */
  async add<N extends OneOffJobName>(name: N, data: JobData<N>, opts: { delay?: number } = {}): Promise<void> {
    const job = buildJob(name, data, this.settings.catalog);
    await this.available(() => this.byName[JOBS[name].queue].add(job.name, job.data, { ...job.opts, ...opts }));
  }

  /**
   * Adds jobs of one catalog name in one round trip (deterministic ids make a repeated batch harmless).
   * `delayOf` gives the delay in ms of the `i`-th job (a spread post's planned slot); 0 or absent: runs as soon as possible.
   */
  async addBulk<N extends OneOffJobName>(
    name: N,
    items: readonly JobData<N>[],
    delayOf?: (data: JobData<N>, i: number) => number,
  ): Promise<void> {
    if (items.length === 0) return;
    const jobs = items.map((d, i) => {
      const job = buildJob(name, d, this.settings.catalog);
      const delay = delayOf ? delayOf(d, i) : 0;
      return delay > 0 ? { ...job, opts: { ...job.opts, delay } } : job;
    });
    await this.available(() => this.byName[JOBS[name].queue].addBulk(jobs), 30_000);
  }

  /**
   * Fails fast while Redis is not connected: BullMQ would otherwise wait for the connection, and an
   * API request would hang instead of answering (the store keeps the intent; the reconciler enqueues later).
   */
  private async available<T>(op: () => Promise<T>, timeoutMs = 5_000): Promise<T> {
    if (this.connection.status !== 'ready') await this.waitReady(Math.min(timeoutMs, 2_000));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new UnavailableError('queue backend (Redis) did not answer in time')), timeoutMs);
    });
    try {
      return await Promise.race([op(), timeout]);
    } catch (err) {
      if (err instanceof UnavailableError) throw err;
      throw new UnavailableError(`queue backend (Redis) unavailable: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private waitReady(ms: number): Promise<void> {
    if (this.connection.status === 'end' || this.connection.status === 'close') {
      return Promise.reject(new UnavailableError(`queue backend (Redis) unavailable: connection ${this.connection.status}`));
    }
    return new Promise((resolve, reject) => {
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.connection.off('ready', onReady);
        reject(new UnavailableError(`queue backend (Redis) unavailable: connection ${this.connection.status}`));
      }, ms);
      this.connection.once('ready', onReady);
    });
  }

  /**
   * Enqueues the post's fan-out, delayed until `publishAt` when that is in the future. Callers (approve,
   * reconciler) only ask for posts the store says still need it, so a job of that id that BullMQ already
   * failed ("job stalled more than allowable limit" after two workers died holding it, or 5 failed
   * attempts) is replaced: re-adding its id would be a silent no-op and the post would stay `approved`.
   */
  async scheduleFanout(postId: string, publishAt: Date | null): Promise<void> {
    const delay = publishAt ? Math.max(0, publishAt.getTime() - Date.now()) : 0;
    const job = buildJob(JOB.fanout, { postId }, this.settings.catalog);
    await this.available(async () => {
      if ((await this.fanout.getJobState(fanoutJobId(postId))) === 'failed') await this.fanout.remove(fanoutJobId(postId));
      return this.fanout.add(job.name, job.data, { ...job.opts, delay });
    });
  }

  /** Removes a not-yet-started fan-out; returns false if it is running (the worker then sees the cancel in the store). */
  async removeFanout(postId: string): Promise<boolean> {
    return (await this.available(() => this.fanout.remove(fanoutJobId(postId)))) === 1;
  }

  async counts() {
    const states = ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'waiting-children'] as const;
    // Redis down is a passing condition for the caller to retry (503), not a server bug.
    const [fanout, deliveries] = await this.available(() =>
      Promise.all([this.fanout.getJobCounts(...states), this.deliveries.getJobCounts(...states)]),
    );
    return { fanout, deliveries };
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((q) => q.close()));
  }
}
