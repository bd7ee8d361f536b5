import type { Queue } from 'bullmq';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GraphRequestInfo } from '../graph/graph-client';

/** BullMQ states reported as `lantoa_queue_jobs{queue,state}`. */
const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed', 'completed'] as const;

/**
 * prom-client's defaults include three gauges named `*_total`, which `promtool check metrics` rejects
 * (the suffix is reserved for counters). The same numbers are in `nodejs_active_{handles,requests,resources}`
 * by type, so these are dropped rather than shipping an exposition that does not lint.
 */
const NON_CONFORMING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Distinct values a free-text-ish label (a delivery reason) may take before new ones become `other`. */
const MAX_REASON_VALUES = 200;
const REASON_RE = /^[a-z][a-z0-9_]{0,63}$/;

/** How long a scrape waits for Redis before reporting the queues as unreadable. */
const QUEUE_READ_TIMEOUT_MS = 2_000;

/**
 * The process's Prometheus registry (one per process, never prom-client's global one, so several
 * stacks can live in one test process). Every metric is named `lantoa_*` except the process defaults.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly deliveries: Counter<'status' | 'reason'>;
  readonly retries: Counter<'reason' | 'throttled'>;
  readonly throttles: Counter<'reason'>;
  readonly graphDuration: Histogram<'endpoint' | 'outcome'>;
  readonly fanoutDuration: Histogram;
  readonly fanoutSize: Histogram;
  readonly postsFinished: Counter<'status'>;
  readonly postDuration: Histogram<'status'>;
  readonly webhookDeliveries: Counter<'event' | 'outcome'>;
  readonly queueJobs: Gauge<'queue' | 'state'>;
  readonly queueUp: Gauge;
  private readonly queues: Queue[] = [];
  private readonly reasons = new Set<string>();
  private queueRead: { at: number; counts: Promise<Array<readonly [string, Record<string, number>]> | null> } | undefined;

  constructor(opts: { defaults?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaults !== false) {
      collectDefaultMetrics({ register: this.registry });
      for (const name of NON_CONFORMING_DEFAULTS) this.registry.removeSingleMetric(name);
    }
    this.deliveries = new Counter({
      name: 'lantoa_deliveries_total',
      help: 'Deliveries that reached a final status, by status and reason (reason "none" when there is none).',
      labelNames: ['status', 'reason'],
      registers,
    });
    this.retries = new Counter({
      name: 'lantoa_delivery_retries_total',
      help: 'Delivery attempts put back for a later try, by reason; throttled="true" when Graph throttled (the attempt is refunded).',
      labelNames: ['reason', 'throttled'],
      registers,
    });
    this.throttles = new Counter({
      name: 'lantoa_throttle_events_total',
      help: 'Graph throttling events that delayed a delivery, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.graphDuration = new Histogram({
      name: 'lantoa_graph_request_duration_seconds',
      help: 'Duration of Graph API requests, by endpoint and outcome (ok, graph_error, http_error, timeout, network_error).',
      labelNames: ['endpoint', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.fanoutDuration = new Histogram({
      name: 'lantoa_fanout_duration_seconds',
      help: 'Time one fan-out took to write every delivery row of a post and enqueue its jobs.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.fanoutSize = new Histogram({
      name: 'lantoa_fanout_deliveries',
      help: 'Deliveries (Pages) per fanned-out post.',
      buckets: [1, 10, 100, 1_000, 5_000, 11_000, 20_000],
      registers,
    });
    this.postsFinished = new Counter({
      name: 'lantoa_posts_finished_total',
      help: 'Posts that reached a final status (published, partially_failed, failed).',
      labelNames: ['status'],
      registers,
    });
    this.postDuration = new Histogram({
      name: 'lantoa_post_duration_seconds',
      help: "Time from the start of a post's fan-out to its final status (every Page done).",
      labelNames: ['status'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1_800, 3_600, 7_200, 21_600],
      registers,
    });
    this.webhookDeliveries = new Counter({
      name: 'lantoa_webhook_deliveries_total',
      help: 'Webhook POST attempts, by event and outcome (delivered, retrying, failed).',
      labelNames: ['event', 'outcome'],
      registers,
    });

    // Both gauges are collected concurrently on a scrape: they share one read of the counts.
    const read = () => this.readQueueCounts();
    this.queueUp = new Gauge({
      name: 'lantoa_queue_up',
      help: '1 when the scrape could read the BullMQ job counts from Redis, else 0.',
      registers,
      async collect() {
        this.set((await read()) ? 1 : 0);
      },
    });
    this.queueJobs = new Gauge({
      name: 'lantoa_queue_jobs',
      help: 'BullMQ jobs per queue and state, read from Redis at scrape time.',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        this.reset();
        for (const [queue, counts] of (await read()) ?? []) for (const state of JOB_STATES) this.set({ queue, state }, counts[state] ?? 0);
      },
    });
  }

  /** One Redis read per scrape (reused for a second); null when Redis did not answer. */
  private readQueueCounts(): Promise<Array<readonly [string, Record<string, number>]> | null> {
    if (this.queueRead && Date.now() - this.queueRead.at < 1_000) return this.queueRead.counts;
    const counts = Promise.all(
      this.queues.map(async (q) => [q.name, await withTimeout(q.getJobCounts(...JOB_STATES), QUEUE_READ_TIMEOUT_MS)] as const),
    ).catch(() => null);
    this.queueRead = { at: Date.now(), counts };
    return counts;
  }

  /** Queues whose depth is reported on scrape. */
  trackQueues(queues: Queue[]): void {
    this.queues.push(...queues);
  }

  /** The GraphClient observer. */
  observeGraph(info: GraphRequestInfo): void {
    this.graphDuration.observe({ endpoint: info.endpoint, outcome: info.outcome }, info.durationMs / 1000);
  }

  /** A bounded label for reasons: unknown shapes and values past the cap become `other`. */
  reasonLabel(reason: string | null): string {
    if (reason === null) return 'none';
    if (!REASON_RE.test(reason)) return 'other';
    if (!this.reasons.has(reason)) {
      if (this.reasons.size >= MAX_REASON_VALUES) return 'other';
      this.reasons.add(reason);
    }
    return reason;
  }

  /** The text exposition and its content type. */
  async expose(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);
}
