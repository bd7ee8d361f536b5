import type { Logger } from 'pino';
import type { Db } from '../db/create-db';
import type { EventBus } from '../services/shared/events';
import type { Metrics } from './metrics';

/** Posts whose skipped deliveries this process already counted (a resumed fan-out emits `fanout.done` again). */
const COUNTED_POSTS_KEPT = 1_000;

/**
 * Turns domain events into metrics, so the processors never import prom-client. Counters are per
 * process: each worker process counts what it did, and Prometheus sums across instances.
 * Returns the unsubscribe function.
 */
export function subscribeMetrics(events: EventBus, metrics: Metrics, db: Db, log: Logger): () => void {
  const counted = new Set<string>();
  const warn = (what: string) => (err: Error) => log.warn({ err: err.message }, `metrics: ${what} failed`);

  const offs = [
    events.on('delivery.finished', (e) => {
      metrics.deliveries.inc({ status: e.status, reason: metrics.reasonLabel(e.reason) });
    }),
    events.on('delivery.retrying', (e) => {
      const reason = metrics.reasonLabel(e.reason);
      metrics.retries.inc({ reason, throttled: String(e.throttled) });
      if (e.throttled) metrics.throttles.inc({ reason });
    }),
    events.on('fanout.done', (e) => {
      metrics.fanoutDuration.observe(e.durationMs / 1000);
      metrics.fanoutSize.observe(e.total);
      if (counted.has(e.postId)) return;
      counted.add(e.postId);
      if (counted.size > COUNTED_POSTS_KEPT) counted.delete(counted.values().next().value!);
      // Units without a Page are settled as `skipped` when the rows are written, without a delivery event.
      void db
        .selectFrom('deliveries')
        .select((eb) => ['reason', eb.fn.countAll<number>().as('n')])
        .where('post_id', '=', e.postId)
        .where('status', '=', 'skipped')
        .groupBy('reason')
        .execute()
        .then((rows) =>
          rows.forEach((r) => metrics.deliveries.inc({ status: 'skipped', reason: metrics.reasonLabel(r.reason) }, Number(r.n))),
        )
        .catch(warn('counting skipped deliveries'));
    }),
    events.on('post.finished', (e) => {
      metrics.postsFinished.inc({ status: e.status });
      void db
        .selectFrom('posts')
        .select(['started_at', 'completed_at'])
        .where('id', '=', e.postId)
        .executeTakeFirst()
        .then((p) => {
          if (!p?.started_at || !p.completed_at) return;
          const seconds = (Date.parse(p.completed_at) - Date.parse(p.started_at)) / 1000;
          if (seconds >= 0) metrics.postDuration.observe({ status: e.status }, seconds);
        })
        .catch(warn('reading post timings'));
    }),
  ];
  return () => offs.forEach((off) => off());
}
