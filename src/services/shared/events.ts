import { EventEmitter } from 'node:events';
import type { DeliveryCounts, DeliveryStatus, PostStatus } from '../posts/post-status';

/** Domain events raised in this process (metrics, webhooks and live views subscribe). */
export type LantoaEvent =
  | {
      type: 'delivery.finished';
      postId: string;
      deliveryId: number;
      unitCode: string;
      pageId: string | null;
      status: Extract<DeliveryStatus, 'published' | 'failed' | 'cancelled'>;
      reason: string | null;
      error: { code: number | null; subcode: number | null; message: string } | null;
    }
  | { type: 'delivery.retrying'; postId: string; deliveryId: number; unitCode: string; reason: string; throttled: boolean }
  | {
      type: 'post.finished';
      postId: string;
      status: Extract<PostStatus, 'published' | 'partially_failed' | 'failed'>;
      counts: DeliveryCounts;
    }
  | { type: 'fanout.done'; postId: string; total: number; queued: number; durationMs: number };

type Handler<T extends LantoaEvent['type']> = (e: Extract<LantoaEvent, { type: T }>) => void;

/**
 * In-process event bus. Handlers run synchronously and must not throw into the emitter's caller:
 * a failing subscriber (metrics, webhook enqueue) never fails a delivery.
 */
export class EventBus {
  private readonly ee = new EventEmitter().setMaxListeners(50);

  emit(e: LantoaEvent): void {
    for (const h of this.ee.listeners(e.type)) {
      try {
        (h as (e: LantoaEvent) => void)(e);
      } catch {
        /* subscribers handle their own errors */
      }
    }
  }

  on<T extends LantoaEvent['type']>(type: T, handler: Handler<T>): () => void {
    this.ee.on(type, handler as (e: LantoaEvent) => void);
    return () => this.ee.off(type, handler as (e: LantoaEvent) => void);
  }
}
