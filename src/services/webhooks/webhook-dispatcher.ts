import type { Logger } from 'pino';
import type { Db } from '../../db/create-db';
import { JOB, type WebhookEventBody } from '../../queues/catalog';
import type { Queues } from '../../queues/queues';
import type { EventBus, LantoaEvent } from '../shared/events';
import type { PostNotifier } from '../posts/posts.service';
import type { ActiveHook, WebhooksService } from './webhooks.service';

type PostFinished = Extract<LantoaEvent, { type: 'post.finished' }>;
type DeliveryFinished = Extract<LantoaEvent, { type: 'delivery.finished' }>;

/**
 * Turns domain events into webhook jobs: `post.finished` → `post.published | post.partially_failed |
 * post.failed`, a failed `delivery.finished` → `delivery.failed`. A webhook receives an event only when
 * its subject (the post's target unit, the delivery's unit) lies in the subtree of the key that
 * registered it. Runs in the worker processes, where these events are raised; the API process uses it
 * as the posts service's `PostNotifier` for `post.pending_approval` (a submission, so approvers can be
 * told) and `post.rejected`.
 *
 * Enqueueing happens after the ledger write and is not part of it: if Redis is down at that moment the
 * event is logged and lost (the ledger and `GET /v1/posts/{id}` stay authoritative).
 */
export class WebhookDispatcher implements PostNotifier {
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly hooks: WebhooksService,
    private readonly queue: Queues,
    private readonly log: Logger,
  ) {}

  /** Subscribes to the bus; returns the unsubscribe function. */
  start(events: EventBus): () => void {
    const offs = [
      events.on('post.finished', (e) => this.track(this.onPostFinished(e))),
      events.on('delivery.finished', (e) => {
        if (e.status === 'failed') this.track(this.onDeliveryFailed(e));
      }),
    ];
    return () => offs.forEach((off) => off());
  }

  /** Waits for enqueues already started (shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.inflight]);
  }

  private track(p: Promise<void>): void {
    const tracked = p
      .catch((err: Error) => this.log.warn({ err: err.message }, 'webhook event could not be enqueued'))
      .finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
  }

  private async onPostFinished(e: PostFinished): Promise<void> {
    const type = `post.${e.status}`;
    const listening = await this.listening(type);
    if (listening.length === 0) return;
    const post = await this.db
      .selectFrom('posts')
      .innerJoin('units', 'units.id', 'posts.target_unit_id')
      .select(['posts.id', 'posts.target_unit_code', 'posts.total', 'posts.completed_at', 'units.path'])
      .where('posts.id', '=', e.postId)
      .executeTakeFirst();
    if (!post) return;
    await this.enqueue(listening, post.path, {
      id: `evt_post_${e.postId}_${e.status}`,
      type,
      createdAt: post.completed_at ?? new Date().toISOString(),
      data: { post: { id: e.postId, status: e.status, targetUnit: post.target_unit_code, total: post.total, counts: e.counts } },
    });
  }

  pendingApproval(postId: string): void {
    this.track(this.onPostReview(postId, 'post.pending_approval'));
  }

  rejected(postId: string): void {
    this.track(this.onPostReview(postId, 'post.rejected'));
  }

  /** Payload like the other post events, plus who submitted it, the target and when it is to go out (and the rejection). */
  private async onPostReview(postId: string, type: 'post.pending_approval' | 'post.rejected'): Promise<void> {
    const listening = await this.listening(type);
    if (listening.length === 0) return;
    const post = await this.db
      .selectFrom('posts')
      .innerJoin('units', 'units.id', 'posts.target_unit_id')
      .select([
        'posts.id',
        'posts.status',
        'posts.target',
        'posts.target_unit_code',
        'posts.created_by',
        'posts.created_at',
        'posts.publish_at',
        'posts.resubmit_of',
        'posts.rejected_by',
        'posts.rejected_at',
        'posts.rejection_reason',
        'units.path',
      ])
      .where('posts.id', '=', postId)
      .executeTakeFirst();
    if (!post) return;
    const rejected = type === 'post.rejected';
    await this.enqueue(listening, post.path, {
      id: `evt_post_${postId}_${rejected ? 'rejected' : 'pending_approval'}`,
      type,
      createdAt: (rejected ? post.rejected_at : post.created_at) ?? new Date().toISOString(),
      data: {
        post: {
          id: post.id,
          status: rejected ? 'rejected' : 'pending_approval',
          targetUnit: post.target_unit_code,
          target: JSON.parse(post.target) as unknown,
          createdBy: post.created_by,
          publishAt: post.publish_at,
          resubmitOf: post.resubmit_of,
          ...(rejected ? { rejection: { by: post.rejected_by, at: post.rejected_at, reason: post.rejection_reason } } : {}),
        },
      },
    });
  }

  private async onDeliveryFailed(e: DeliveryFinished): Promise<void> {
    const listening = await this.listening('delivery.failed');
    if (listening.length === 0) return;
    const unit = await this.db
      .selectFrom('deliveries')
      .innerJoin('units', 'units.id', 'deliveries.unit_id')
      .select('units.path')
      .where('deliveries.id', '=', e.deliveryId)
      .executeTakeFirst();
    if (!unit) return;
    await this.enqueue(listening, unit.path, {
      id: `evt_dlv_${e.deliveryId}_failed`,
      type: 'delivery.failed',
      createdAt: new Date().toISOString(),
      data: { postId: e.postId, delivery: { id: e.deliveryId, unitCode: e.unitCode, pageId: e.pageId, reason: e.reason, error: e.error } },
    });
  }

  private async listening(type: string): Promise<ActiveHook[]> {
    return (await this.hooks.activeHooks()).filter((h) => h.events.has(type));
  }

  /** One job per webhook whose key's subtree contains `subjectPath`. */
  private async enqueue(hooks: ActiveHook[], subjectPath: string, event: WebhookEventBody): Promise<void> {
    const inScope = hooks.filter((h) => subjectPath.startsWith(h.unitPath));
    await this.queue.addBulk(
      JOB.webhook,
      inScope.map((h) => ({ webhookId: h.id, event })),
    );
  }
}
