import { DelayedError, type Job, type Worker } from 'bullmq';
import type { Logger } from 'pino';
import { pingStore, type Store } from '../src/db/create-db';
import { describeStoreError, isStoreUnavailable } from '../src/db/store-errors';

export interface StoreGuardOptions {
  /** How often a paused process asks the store whether it is back. */
  probeEveryMs?: number;
  /** How long a job that met an unavailable store waits before it can run again (plus jitter). */
  retryDelayMs?: number;
  /** At most one "still down" log line this often. */
  logEveryMs?: number;
}

type Processor<D> = (job: Job<D>, token?: string) => Promise<string>;

/**
 * Keeps this process's workers from spending jobs while the store (PostgreSQL or SQLite) is away.
 *
 * - A job whose processor fails because the store is unreachable, locked or cannot write is put back
 *   with `moveToDelayed` + `DelayedError`: BullMQ counts no attempt. Whatever the ledger already says
 *   stays true (a delivery whose create went out stays `publishing` and its next run reads the Page
 *   back), so nothing is lost or sent twice.
 * - The first such failure pauses every attached worker (no new jobs are fetched) and starts a probe;
 *   when the store answers again the workers resume by themselves.
 */
export class StoreGuard {
  private readonly workers: Array<Worker<any>> = [];
  private downSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastLog = 0;
  private closed = false;
  private readonly probeEveryMs: number;
  private readonly retryDelayMs: number;
  private readonly logEveryMs: number;
  /** Jobs put back because of the store since start (for logs and tests). */
  requeued = 0;

  constructor(
    private readonly store: Store,
    private readonly log: Pick<Logger, 'warn' | 'info'>,
    opts: StoreGuardOptions = {},
  ) {
    this.probeEveryMs = opts.probeEveryMs ?? 1_000;
    this.retryDelayMs = opts.retryDelayMs ?? 5_000;
    this.logEveryMs = opts.logEveryMs ?? 10_000;
  }

  get down(): boolean {
    return this.downSince !== undefined;
  }

  /** Workers to pause while the store is down. */
  attach(...workers: Array<Worker<any>>): void {
    this.workers.push(...workers);
    if (this.down) for (const w of workers) w.pause(true).catch(() => undefined);
  }

  /**
   * Wraps a processor. `onUnavailable: 'delay'` (default) puts the job back without spending an
   * attempt; `'skip'` completes it with a note (for job-scheduler runs: the next run comes anyway).
   */
  wrap<D>(processor: Processor<D>, onUnavailable: (job: Job<D>) => 'delay' | 'skip' = () => 'delay'): Processor<D> {
    return async (job, token) => {
      try {
        return await processor(job, token);
      } catch (err) {
        if (err instanceof DelayedError || !isStoreUnavailable(err)) throw err;
        this.reportDown(err, job.name);
        if (onUnavailable(job) === 'skip') return 'skipped:store_unavailable';
        if (!token) throw err;
        try {
          await job.moveToDelayed(Date.now() + this.retryDelayMs + Math.floor(Math.random() * 1_000), token);
        } catch {
          throw err; // could not put it back (lock lost, Redis away): BullMQ's own retry handles it
        }
        this.requeued++;
        throw new DelayedError();
      }
    };
  }

  /** Marks the store down (if it was not), pauses the workers and starts probing. */
  reportDown(err: unknown, op: string): void {
    if (this.closed) return;
    if (this.down) {
      if (Date.now() - this.lastLog >= this.logEveryMs) {
        this.lastLog = Date.now();
        this.log.warn(
          { ...describeStoreError(err, op), downMs: Date.now() - this.downSince! },
          'store still unavailable; workers stay paused',
        );
      }
      return;
    }
    this.downSince = Date.now();
    this.lastLog = Date.now();
    this.log.warn(
      describeStoreError(err, op),
      "store unavailable: pausing this process's workers (jobs are put back unspent) until it answers",
    );
    // pause(true): stop fetching now; jobs already running finish or are put back by wrap().
    for (const w of this.workers) w.pause(true).catch(() => undefined);
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.probe(), this.probeEveryMs);
    this.timer.unref();
  }

  private async probe(): Promise<void> {
    if (this.closed || !this.down) return;
    try {
      await Promise.race([
        pingStore(this.store),
        new Promise((_, reject) =>
          setTimeout(() => reject(Object.assign(new Error('store ping timed out'), { code: 'ETIMEDOUT' })), 5_000).unref(),
        ),
      ]);
    } catch (err) {
      if (Date.now() - this.lastLog >= this.logEveryMs) {
        this.lastLog = Date.now();
        this.log.warn(
          { ...describeStoreError(err, 'probe'), downMs: Date.now() - this.downSince! },
          'store still unavailable; workers stay paused',
        );
      }
      this.schedule();
      return;
    }
    const downMs = Date.now() - this.downSince!;
    this.downSince = undefined;
    this.log.info({ downMs, requeued: this.requeued }, 'store answers again: resuming workers');
    for (const w of this.workers) if (!w.closing) w.resume().catch(() => undefined);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
