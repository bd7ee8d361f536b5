import { sql, type UpdateObject } from 'kysely';
import type { Db } from '../db/create-db';
import { WriteBatcher } from '../db/write-batcher';
import { EventBus } from './events';
import type { Database } from '../db/types';
import { finalStatus, emptyCounts, OPEN_DELIVERY_STATUSES, type DeliveryStatus } from './post-status';

export interface DeliveryToSend {
  id: number;
  postId: string;
  unitCode: string;
  status: DeliveryStatus;
  attempts: number;
  reason: string | null;
  attemptStartedAt: string | null;
  postStatus: string;
  message: string;
  link: string | null;
  photos: string[];
  page: { pageId: string; tokenCiphertext: string; tokenStatus: string; tokenStatusReason: string | null } | null;
}

/** What transitions need to know about a delivery to report it. */
export type DeliveryRef = Pick<DeliveryToSend, 'id' | 'postId' | 'unitCode'> & { page?: { pageId: string } | null };

export interface DeliveryError {
  code: number | null;
  subcode: number | null;
  message: string;
}

/**
 * The ledger of deliveries. Every transition is a conditional UPDATE on the current status, so a
 * stale worker (a stalled job re-run elsewhere, a cancel racing a send) cannot overwrite a newer state.
 */
export class DeliveriesService {
  /** Posts with a roll-up check pending in this process. */
  private readonly rollUps = new Map<string, Promise<void>>();

  private readonly writes: WriteBatcher;

  constructor(
    private readonly db: Db,
    private readonly events: EventBus = new EventBus(),
    private readonly rollUpDelayMs = 100,
  ) {
    this.writes = new WriteBatcher(db);
  }

  /**
   * Debounced roll-up: the first delivery of a post to finish schedules one check `rollUpDelayMs`
   * later; deliveries finishing meanwhile join it; one finishing after the check started schedules
   * the next. So the last delivery to finish is always followed by a check, at a cost of one query
   * per window instead of one per delivery (10,807 → ~100 on a national post).
   */
  requestRollUp(postId: string): Promise<void> {
    const pending = this.rollUps.get(postId);
    if (pending) return pending;
    const check = new Promise<void>((resolve, reject) => {
      setTimeout(() => {
        this.rollUps.delete(postId);
        this.rollUp(postId).then(() => resolve(), reject);
      }, this.rollUpDelayMs);
    });
    this.rollUps.set(postId, check);
    return check;
  }

  async loadForSend(id: number): Promise<DeliveryToSend | undefined> {
    const r = await this.db
      .selectFrom('deliveries as d')
      .innerJoin('posts as p', 'p.id', 'd.post_id')
      .leftJoin('pages as g', 'g.unit_code', 'd.unit_code')
      .select([
        'd.id',
        'd.post_id',
        'd.unit_code',
        'd.status',
        'd.attempts',
        'd.reason',
        'd.attempt_started_at',
        'p.status as post_status',
        'p.message',
        'p.link',
        'p.photos',
        'g.page_id',
        'g.token_ciphertext',
        'g.token_status',
        'g.token_status_reason',
      ])
      .where('d.id', '=', id)
      .executeTakeFirst();
    if (!r) return undefined;
    return {
      id: r.id,
      postId: r.post_id,
      unitCode: r.unit_code,
      status: r.status as DeliveryStatus,
      attempts: r.attempts,
      reason: r.reason,
      attemptStartedAt: r.attempt_started_at,
      postStatus: r.post_status,
      message: r.message,
      link: r.link,
      photos: JSON.parse(r.photos) as string[],
      page:
        r.page_id && r.token_ciphertext
          ? { pageId: r.page_id, tokenCiphertext: r.token_ciphertext, tokenStatus: r.token_status ?? 'unknown', tokenStatusReason: r.token_status_reason }
          : null,
    };
  }

  private async transition(id: number, from: readonly DeliveryStatus[], set: UpdateObject<Database, 'deliveries'>): Promise<boolean> {
    const updated = await this.writes.submit(async (trx) => {
      const res = await trx
        .updateTable('deliveries')
        .set({ ...set, updated_at: new Date().toISOString() })
        .where('id', '=', id)
        .where('status', 'in', from)
        .executeTakeFirst();
      return Number(res.numUpdatedRows);
    });
    return updated === 1;
  }

  /** Claims the row for one send attempt. A row left `publishing` by a dead worker is re-claimed (the caller resolves its outcome first). */
  claim(id: number): Promise<boolean> {
    return this.transition(id, ['queued', 'publishing'], {
      status: 'publishing',
      attempts: sql<number>`attempts + 1`,
      attempt_started_at: new Date().toISOString(),
    });
  }

  async markPublished(d: DeliveryRef, fbPostId: string | null, permalink: string | null, reason: string | null = null): Promise<boolean> {
    const now = new Date().toISOString();
    const ok = await this.transition(d.id, ['queued', 'publishing'], {
      status: 'published',
      fb_post_id: fbPostId,
      permalink,
      published_at: now,
      reason,
      error_code: null,
      error_subcode: null,
      error_message: null,
    });
    if (ok) this.finished(d, 'published', reason, null);
    return ok;
  }

  async markFailed(d: DeliveryRef, reason: string, error: DeliveryError | null): Promise<boolean> {
    const ok = await this.transition(d.id, ['queued', 'publishing'], {
      status: 'failed',
      reason,
      error_code: error?.code ?? null,
      error_subcode: error?.subcode ?? null,
      error_message: error?.message ?? null,
    });
    if (ok) this.finished(d, 'failed', reason, error);
    return ok;
  }

  private finished(d: DeliveryRef, status: 'published' | 'failed' | 'cancelled', reason: string | null, error: DeliveryError | null): void {
    this.events.emit({ type: 'delivery.finished', postId: d.postId, deliveryId: d.id, unitCode: d.unitCode, pageId: d.page?.pageId ?? null, status, reason, error });
  }

  /**
   * Back to `queued` for a later attempt; `refundAttempt` when the attempt did not count (throttling).
   * `attemptStartedAt` puts back the start of an earlier attempt whose outcome is still unknown, so the
   * next read-back window keeps covering it.
   */
  async requeue(d: DeliveryRef, reason: string, error: DeliveryError | null, refundAttempt = false, attemptStartedAt: string | null = null): Promise<boolean> {
    const ok = await this.transition(d.id, ['publishing'], {
      status: 'queued',
      reason,
      error_code: error?.code ?? null,
      error_subcode: error?.subcode ?? null,
      error_message: error?.message ?? null,
      ...(refundAttempt ? { attempts: sql<number>`attempts - 1` } : {}),
      ...(attemptStartedAt ? { attempt_started_at: attemptStartedAt } : {}),
    });
    if (ok) this.events.emit({ type: 'delivery.retrying', postId: d.postId, deliveryId: d.id, unitCode: d.unitCode, reason, throttled: refundAttempt });
    return ok;
  }

  async markCancelled(d: DeliveryRef): Promise<boolean> {
    const ok = await this.transition(d.id, ['queued', 'publishing'], { status: 'cancelled', reason: 'post_cancelled' });
    if (ok) this.finished(d, 'cancelled', 'post_cancelled', null);
    return ok;
  }

  /** Marks the Page's token unusable so its other deliveries fail without calling Graph. */
  async markPageNeedsReauth(unitCode: string, reason: string): Promise<void> {
    const now = new Date().toISOString();
    await this.db.updateTable('pages').set({ token_status: 'needs_reauth', token_status_reason: reason, token_checked_at: now, updated_at: now }).where('unit_code', '=', unitCode).execute();
  }

  /** When no delivery of the post is open, rolls the post up to published / partially_failed / failed. */
  async rollUp(postId: string): Promise<string | null> {
    const open = await this.db.selectFrom('deliveries').select('id').where('post_id', '=', postId).where('status', 'in', OPEN_DELIVERY_STATUSES).limit(1).executeTakeFirst();
    if (open) return null;
    const rows = await this.db
      .selectFrom('deliveries')
      .select((eb) => ['status', eb.fn.countAll<number>().as('n')])
      .where('post_id', '=', postId)
      .groupBy('status')
      .execute();
    const counts = emptyCounts();
    for (const r of rows) counts[r.status as DeliveryStatus] = Number(r.n);
    const status = finalStatus(counts);
    const now = new Date().toISOString();
    const res = await this.db.updateTable('posts').set({ status, completed_at: now, updated_at: now }).where('id', '=', postId).where('status', '=', 'publishing').executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return null;
    this.events.emit({ type: 'post.finished', postId, status, counts });
    return status;
  }
}
