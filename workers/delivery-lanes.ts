import type { Worker } from 'bullmq';

/** Most jobs one BullMQ Worker of the deliveries queue runs at once (see DeliveryLanes). */
export const LANE_CONCURRENCY = 25;

/** How many lanes carry `concurrency` deliveries in flight. */
export function laneCount(concurrency: number): number {
  return Math.max(1, Math.ceil(concurrency / LANE_CONCURRENCY));
}

/** `total` spread over `lanes` as evenly as possible, at least 1 each. */
export function splitConcurrency(total: number, lanes: number): number[] {
  const base = Math.floor(total / lanes);
  const extra = total - base * lanes;
  return Array.from({ length: lanes }, (_, i) => Math.max(1, base + (i < extra ? 1 : 0)));
}

/**
 * The deliveries queue's workers in one process: `WORKER_CONCURRENCY` spread over several BullMQ
 * Workers ("lanes") of at most LANE_CONCURRENCY jobs each, rather than one Worker of them all.
 *
 * Why: a BullMQ Worker starts running jobs only after it has fetched up to its concurrency, one job per
 * Redis round trip, in sequence (Worker.mainLoop). At 500 that is 500 round trips before the first job
 * of a fan-out runs, and while the API shares the event loop with 50 dashboards polling, each round
 * trip waits a whole loop turn: a fan-out approved during that load sent 1 delivery in 10 s (measured
 * with `npm run bench:api`). Lanes fetch side by side, so the ramp takes LANE_CONCURRENCY round
 * trips. Several Workers on one queue are what several worker processes already are: every guarantee
 * (fenced claims, retries, the reconciler) holds per job, whichever lane runs it.
 */
export class DeliveryLanes {
  readonly lanes: Worker[];

  constructor(concurrency: number, make: (laneConcurrency: number) => Worker) {
    this.lanes = splitConcurrency(concurrency, laneCount(concurrency)).map((c) => make(c));
  }

  /** Deliveries in flight at most, over all lanes. */
  get concurrency(): number {
    return this.lanes.reduce((n, w) => n + w.concurrency, 0);
  }

  /** Spreads a new total over the same lanes (at least one job per lane). */
  set concurrency(total: number) {
    splitConcurrency(total, this.lanes.length).forEach((c, i) => (this.lanes[i]!.concurrency = c));
  }

  async close(force = false): Promise<void> {
    await Promise.all(this.lanes.map((w) => w.close(force)));
  }
}
