import crypto from 'node:crypto';
import { sql, type Expression, type ExpressionBuilder, type SqlBool, type UpdateObject } from 'kysely';
import type { PreparedSql } from '../../db/prepared';
import type { Db } from '../../db/create-db';
import type { Database } from '../../db/types';
import { WriteBatcher } from '../../db/write-batcher';
import { EventBus } from '../shared/events';
import { finalStatus, OPEN_DELIVERY_STATUSES, type DeliveryStatus } from '../posts/post-status';
import { applyCounts, COUNTED_COLUMNS, countingBatch, postCounts, type CountDeltas, type CountedRow } from './delivery-counts';
import { bumpJobRound, cancelQueued, errorColumns, insertForPost, now, requeueFailed, startEdit, startRecall } from './post-deliveries';
import { LedgerStatements, type LoadRow } from './ledger-statements';
import { Lease, type ClaimFor, type DeliveryError, type DeliveryRef, type LedgerDelivery, type LedgerSettings } from './lease';

export {
  Lease,
  LeaseExpiredError,
  type ClaimFor,
  type DeliveryError,
  type DeliveryRef,
  type LedgerDelivery,
  type LedgerSettings,
} from './lease';

/**
 * The ledger of deliveries: the only module that writes `deliveries`. Every per-row transition is a
 * conditional UPDATE, group-committed through one write batcher, and fenced: a row is acted on only
 * under a claim (token + lease), and a holder records only while the row still carries its token. So
 * a stale worker (a stalled job re-run elsewhere, a process frozen past its lock, a cancel racing a
 * send) can neither send over a newer claim nor overwrite a newer state.
 */
export class DeliveryLedger {
  /** Posts with a roll-up check pending in this process. */
  private readonly rollUps = new Map<string, Promise<void>>();
  private readonly writes: WriteBatcher<CountDeltas>;
  /** The hot statements, precompiled for this store's dialect. */
  private readonly sql: LedgerStatements;

  constructor(
    private readonly db: Db,
    private readonly events: EventBus = new EventBus(),
    readonly settings: LedgerSettings = { leaseMs: 30_000, takeoverMs: 45_000 },
    private readonly rollUpDelayMs = 100,
  ) {
    // Each batch folds its status changes into the post, level and node counters (delivery-counts.ts).
    this.writes = new WriteBatcher(db, 256, countingBatch);
    this.sql = new LedgerStatements(db);
  }

  async load(id: number): Promise<LedgerDelivery | undefined> {
    const r = (await this.sql.load.run<LoadRow>(this.db, [id])).rows[0];
    if (!r) return undefined;
    return {
      id: r.id,
      postId: r.post_id,
      unitCode: r.unit_code,
      status: r.status as DeliveryStatus,
      attempts: r.attempts,
      reason: r.reason,
      attemptStartedAt: r.attempt_started_at,
      claimToken: r.claim_token,
      leaseUntil: r.lease_until,
      publishedPageId: r.published_page_id,
      fbPostId: r.fb_post_id,
      editRevision: r.edit_revision,
      editStatus: r.edit_status,
      notBefore: r.not_before,
      postStatus: r.post_status,
      message: r.message,
      link: r.link,
      photos: JSON.parse(r.photos) as string[],
      page:
        r.page_id && r.token_status !== null
          ? {
              pageId: r.page_id,
              tokenCiphertext: r.token_ciphertext,
              tokenStatus: r.token_status ?? 'unknown',
              tokenStatusReason: r.token_status_reason,
              retired: r.page_retired_at !== null,
            }
          : null,
    };
  }

  /**
   * When another worker may take this row over: never while a lease is live, and only `takeoverMs`
   * after it ended. 0 when the row is free (no lease, or released by its holder). A row claimed
   * before leases existed (`publishing`, no claim token) counts its lease from its attempt's start.
   */
  takeoverAt(d: Pick<LedgerDelivery, 'status' | 'leaseUntil' | 'attemptStartedAt' | 'claimToken'>): number {
    const until = d.leaseUntil ?? (d.status === 'publishing' && d.claimToken === null ? d.attemptStartedAt : null);
    return until ? Date.parse(until) + this.settings.takeoverMs : 0;
  }

  /** One precompiled status change through the group commit, counted in its batch: true when it changed the row. */
  private held(statement: PreparedSql, parameters: readonly unknown[]): Promise<boolean> {
    return this.writes
      .submit(async (trx, deltas) => {
        const rows = (await statement.run<CountedRow>(trx, parameters)).rows;
        deltas.moved(rows);
        return rows.length;
      })
      .then((n) => n === 1);
  }

  private submit(
    id: number,
    where: (eb: ExpressionBuilder<Database, 'deliveries'>) => Expression<SqlBool>,
    set: UpdateObject<Database, 'deliveries'>,
  ): Promise<boolean> {
    return this.writes
      .submit(async (trx, deltas) => {
        if (set.status === undefined) {
          const res = await trx
            .updateTable('deliveries')
            .set({ ...set, updated_at: now() })
            .where('id', '=', id)
            .where(where)
            .executeTakeFirst();
          return Number(res.numUpdatedRows);
        }
        // A status change: `prev_status` takes the old status (SET reads the row as it was), RETURNING tells the counters.
        const rows = await trx
          .updateTable('deliveries')
          .set({ ...set, prev_status: sql<string>`status`, updated_at: now() })
          .where('id', '=', id)
          .where(where)
          .returning(COUNTED_COLUMNS)
          .execute();
        deltas.moved(rows);
        return rows.length;
      })
      .then((n) => n === 1);
  }

  /**
   * Claims the row for one attempt of `what`, if it is in the state `d` was read in (same claim
   * token) and no lease on it is live or recently ended. Returns the lease, or null when another
   * worker claimed it first or the row moved on.
   */
  async claim(d: LedgerDelivery, what: ClaimFor): Promise<Lease | null> {
    const token = crypto.randomUUID();
    // The deadline is taken before the write: it ends no later than the lease_until others compare against.
    const deadline = Lease.deadlineFor(this.settings.leaseMs);
    const leaseUntil = new Date(Date.now() + this.settings.leaseMs).toISOString();
    const cutoff = new Date(Date.now() - this.settings.takeoverMs).toISOString();
    if (what.kind === 'publish') {
      // The hot path: one precompiled statement, same conditions as the builder form below.
      const at = now();
      const attempt = what.countAttempt ? 1 : 0;
      const ok = await (d.claimToken === null
        ? this.held(this.sql.claimPublishFree, [token, leaseUntil, at, attempt, at, d.id, cutoff])
        : this.held(this.sql.claimPublishHeld, [token, leaseUntil, at, attempt, at, d.id, d.claimToken, cutoff]));
      return ok ? new Lease(d.id, token, deadline) : null;
    }
    // Recall and edit claims (rarer): the query builder.
    const set: UpdateObject<Database, 'deliveries'> = { claim_token: token, lease_until: leaseUntil };
    const ok = await this.submit(
      d.id,
      (eb) =>
        eb.and([
          d.claimToken === null ? eb('claim_token', 'is', null) : eb('claim_token', '=', d.claimToken),
          eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', cutoff)]),
          ...(what.kind === 'recall'
            ? [eb('status', '=', 'recalling')]
            : [eb('status', '=', 'published'), eb('edit_revision', '=', what.revision), eb('edit_status', '=', 'pending')]),
        ]),
      set,
    );
    return ok ? new Lease(d.id, token, deadline) : null;
  }

  /** A held transition: only while the row carries this lease's token; the lease ends with it. */
  private settle(
    lease: Lease,
    from: DeliveryStatus | readonly DeliveryStatus[],
    set: UpdateObject<Database, 'deliveries'>,
    extra?: { editRevision: number },
  ): Promise<boolean> {
    return this.submit(
      lease.deliveryId,
      (eb) =>
        eb.and([
          eb('claim_token', '=', lease.token),
          typeof from === 'string' ? eb('status', '=', from) : eb('status', 'in', from),
          ...(extra ? [eb('edit_revision', '=', extra.editRevision), eb('edit_status', '=', 'pending')] : []),
        ]),
      { ...set, lease_until: null },
    );
  }

  /** Ends the lease without changing the row (a recall or edit to be retried later). */
  release(lease: Lease): Promise<boolean> {
    return this.submit(lease.deliveryId, (eb) => eb.and([eb('claim_token', '=', lease.token)]), { lease_until: null });
  }

  async markPublished(
    d: DeliveryRef,
    lease: Lease,
    fbPostId: string | null,
    permalink: string | null,
    reason: string | null = null,
  ): Promise<boolean> {
    const ok = await this.held(this.sql.published, [fbPostId, permalink, now(), reason, now(), lease.deliveryId, lease.token]);
    if (ok) this.finished(d, 'published', reason, null);
    return ok;
  }

  async markFailed(d: DeliveryRef, lease: Lease, reason: string, error: DeliveryError | null): Promise<boolean> {
    const e = errorColumns(error);
    const ok = await this.held(this.sql.closed, [
      'failed',
      reason,
      e.error_code,
      e.error_subcode,
      e.error_message,
      now(),
      lease.deliveryId,
      lease.token,
    ]);
    if (ok) this.finished(d, 'failed', reason, error);
    return ok;
  }

  /**
   * Back to `queued` for a later attempt; `refundAttempt` when the attempt did not count (throttling).
   * `attemptStartedAt` moves the start of the read-back window: back to an earlier attempt whose outcome
   * is still unknown (so the window keeps covering it), or on to this attempt's last write (which may
   * reach Graph up to the request deadline after it was sent, so the next read-back waits from there).
   */
  async requeue(
    d: DeliveryRef,
    lease: Lease,
    reason: string,
    error: DeliveryError | null,
    refundAttempt = false,
    attemptStartedAt: string | null = null,
  ): Promise<boolean> {
    const e = errorColumns(error);
    const ok = await this.held(this.sql.requeue, [
      reason,
      e.error_code,
      e.error_subcode,
      e.error_message,
      refundAttempt ? 1 : 0,
      attemptStartedAt,
      now(),
      lease.deliveryId,
      lease.token,
    ]);
    if (ok) {
      this.events.emit({
        type: 'delivery.retrying',
        postId: d.postId,
        deliveryId: d.id,
        unitCode: d.unitCode,
        reason,
        throttled: refundAttempt,
      });
    }
    return ok;
  }

  async markCancelled(d: DeliveryRef, lease: Lease): Promise<boolean> {
    const ok = await this.held(this.sql.closed, ['cancelled', 'post_cancelled', null, null, null, now(), lease.deliveryId, lease.token]);
    if (ok) this.finished(d, 'cancelled', 'post_cancelled', null);
    return ok;
  }

  /** recalling → recalled (`recalled`, or `already_deleted` when Facebook no longer had it). */
  markRecalled(lease: Lease, reason: string): Promise<boolean> {
    return this.settle(lease, 'recalling', { status: 'recalled', reason, ...errorColumns(null) });
  }

  /** recalling → recall_failed: the post may still be on that Page; a new recall request retries it. */
  markRecallFailed(lease: Lease, reason: string, error: DeliveryError | null): Promise<boolean> {
    return this.settle(lease, 'recalling', { status: 'recall_failed', reason, ...errorColumns(error) });
  }

  markEditApplied(lease: Lease, revision: number): Promise<boolean> {
    return this.settle(lease, 'published', { edit_status: 'applied', edit_error: null }, { editRevision: revision });
  }

  markEditFailed(lease: Lease, revision: number, reason: string): Promise<boolean> {
    return this.settle(lease, 'published', { edit_status: 'failed', edit_error: reason }, { editRevision: revision });
  }

  private finished(d: DeliveryRef, status: 'published' | 'failed' | 'cancelled', reason: string | null, error: DeliveryError | null): void {
    this.events.emit({
      type: 'delivery.finished',
      postId: d.postId,
      deliveryId: d.id,
      unitCode: d.unitCode,
      pageId: d.page?.pageId ?? null,
      status,
      reason,
      error,
    });
  }

  // Whole-post transitions (delivery/post-deliveries.ts), inside the caller's transaction.
  readonly insertForPost = insertForPost;
  readonly cancelQueued = cancelQueued;
  readonly startRecall = startRecall;
  readonly startEdit = startEdit;
  readonly requeueFailed = requeueFailed;
  /** Writes the counter changes collected by the whole-post transitions above (pass them one `CountDeltas`), after the transaction's last write of `deliveries`. */
  readonly applyCounts = applyCounts;

  /** Reconciler: open deliveries whose job id is held by a dead job get a new job round (a new id). */
  bumpJobRound(ids: readonly number[]): Promise<void> {
    return bumpJobRound(this.db, ids);
  }

  /** Marks the Page's token unusable so its other deliveries fail without calling Graph. */
  async markPageNeedsReauth(pageId: string, reason: string): Promise<void> {
    const at = now();
    await this.db
      .updateTable('pages')
      .set({ token_status: 'needs_reauth', token_status_reason: reason, token_checked_at: at, updated_at: at })
      .where('page_id', '=', pageId)
      .execute();
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

  /** When no delivery of the post is open, rolls the post up to published / partially_failed / failed. */
  async rollUp(postId: string): Promise<string | null> {
    const counts = await this.countByStatus(postId);
    if (OPEN_DELIVERY_STATUSES.some((s) => counts[s] > 0)) return null;
    const status = finalStatus(counts);
    const at = now();
    const res = await this.db
      .updateTable('posts')
      .set({ status, completed_at: at, updated_at: at })
      .where('id', '=', postId)
      .where('status', '=', 'publishing')
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return null;
    this.events.emit({ type: 'post.finished', postId, status, counts });
    return status;
  }

  /** The post's counts as the ledger maintains them (no count over its deliveries). */
  countByStatus(postId: string): Promise<Record<DeliveryStatus, number>> {
    return postCounts(this.db, postId);
  }
}
