import crypto from 'node:crypto';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Db } from '../../db/create-db';
import { transact } from '../../db/transact';
import type { DeliveryLedger } from '../delivery/delivery-ledger';
import type { PostRow, PostsTable } from '../../db/types';
import type { Updateable } from 'kysely';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors/app-error';
import type { Queues } from '../../queues/queues';
import { appendAudit } from '../governance/audit.service';
import { requestHash } from './idempotency';
import { hasNoNul, NO_NUL_MESSAGE } from '../shared/text';
import { requireRole, requireScope, type Principal } from '../auth/keys.service';
import { CANCELLABLE_POST_STATUSES, type PostStatus } from './post-status';
import { TargetSchema, type Target, type TargetService } from '../tree/target.service';

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'expected an http(s) URL' })
  .max(2048)
  .refine(hasNoNul, NO_NUL_MESSAGE);

/** The longest spread a post may ask for: one day. */
export const SPREAD_MAX_MINUTES = 1440;

export const CreatePostSchema = z
  .object({
    message: z.string().trim().min(1, 'must not be empty').max(63_206).refine(hasNoNul, NO_NUL_MESSAGE),
    link: httpUrl.optional(),
    photos: z.array(httpUrl).max(10).optional(),
    target: TargetSchema,
    publishAt: z.iso.datetime({ offset: true, error: 'expected an ISO-8601 date-time, e.g. 2026-12-01T08:00:00+07:00' }).optional(),
    /**
     * Spread the deliveries evenly over this many minutes from the moment the post goes out (on approval, or
     * at `publishAt`), root first, then provinces, then communes, instead of as fast as possible.
     */
    spread: z
      .object({ minutes: z.number().int().min(1).max(SPREAD_MAX_MINUTES) })
      .strict()
      .optional(),
    /** The id of a rejected post this one replaces (its author, or an editor/admin holding its target). */
    resubmitOf: z.string().trim().min(1).max(100).refine(hasNoNul, NO_NUL_MESSAGE).optional(),
  })
  .strict();
export type CreatePostInput = z.infer<typeof CreatePostSchema>;

/** Why an approver refuses a post or an edit; shown to its author. */
export const RejectSchema = z
  .object({ reason: z.string().trim().min(1, 'must not be empty').max(1000).refine(hasNoNul, NO_NUL_MESSAGE) })
  .strict();

export interface Rejection {
  by: string;
  at: string;
  reason: string;
}

/**
 * Told when a post starts waiting for approval or is rejected (the webhook dispatcher listens).
 * Called after the commit; it must not throw.
 */
export interface PostNotifier {
  pendingApproval(postId: string): void;
  rejected(postId: string): void;
}
const NO_NOTIFIER: PostNotifier = { pendingApproval: () => {}, rejected: () => {} };

/** Clock skew tolerated between a client's "now" and ours. */
const PUBLISH_AT_TOLERANCE_MS = 60_000;

export class PostsService {
  constructor(
    private readonly db: Db,
    private readonly ledger: DeliveryLedger,
    private readonly targets: TargetService,
    private readonly queues: Queues,
    private readonly log: Logger,
    private readonly notify: PostNotifier = NO_NOTIFIER,
    /** Length of one minute of a post's spread, in ms (SPREAD_MINUTE_MS). */
    private readonly spreadMinuteMs = 60_000,
  ) {}

  async create(p: Principal, input: CreatePostInput): Promise<PostRow> {
    return (await this.createOnce(p, input)).post;
  }

  /**
   * `Idempotency-Key`: the same key (per API key) with the same body returns the post it created the
   * first time (`replayed`); with another body it is a 409. The post and the key are written in one
   * transaction, so a retried request after a lost answer never creates a second post.
   */
  async createOnce(p: Principal, input: CreatePostInput, idempotencyKey?: string): Promise<{ post: PostRow; replayed: boolean }> {
    const hash = idempotencyKey === undefined ? '' : requestHash(input);
    const replay = async () => {
      if (idempotencyKey === undefined) return undefined;
      const seen = await this.db
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('key_id', '=', p.keyId)
        .where('idem_key', '=', idempotencyKey)
        .executeTakeFirst();
      if (!seen) return undefined;
      if (seen.request_hash !== hash) {
        throw new ConflictError('Idempotency-Key was already used with a different request body', { postId: seen.post_id });
      }
      return {
        post: await this.db.selectFrom('posts').selectAll().where('id', '=', seen.post_id).executeTakeFirstOrThrow(),
        replayed: true,
      };
    };
    const earlier = await replay();
    if (earlier) return earlier;
    const row = await this.prepare(p, input);
    const resubmitted = input.resubmitOf === undefined ? undefined : await this.checkResubmission(p, input.resubmitOf);
    row.resubmit_of = resubmitted?.id ?? null;
    try {
      await transact(this.db, async (trx) => {
        await trx.insertInto('posts').values(row).execute();
        if (idempotencyKey !== undefined) {
          await trx
            .insertInto('idempotency_keys')
            .values({ key_id: p.keyId, idem_key: idempotencyKey, request_hash: hash, post_id: row.id, created_at: row.created_at })
            .execute();
        }
        await appendAudit(trx, {
          actor: p,
          action: 'post.create',
          subject: { type: 'post', id: row.id, path: await this.targetPath(trx, row.target_unit_id!) },
          details: {
            target: input.target,
            publishAt: row.publish_at,
            spreadMinutes: row.spread_minutes,
            idempotencyKey: idempotencyKey ?? null,
            resubmitOf: row.resubmit_of,
            ...(resubmitted ? { rejectedBy: resubmitted.rejected_by, rejectionReason: resubmitted.rejection_reason } : {}),
          },
        });
      });
    } catch (err) {
      // A concurrent request with the same key won the insert: answer as its replay.
      const raced = await replay();
      if (raced) return raced;
      // A concurrent resubmission of the same rejected post won (posts.resubmit_of is unique).
      if (input.resubmitOf !== undefined) await this.checkResubmission(p, input.resubmitOf);
      throw err;
    }
    this.notify.pendingApproval(row.id);
    return { post: row, replayed: false };
  }

  /**
   * A rejected post may be resubmitted once, by its author or by an editor/admin whose scope holds its
   * target. The new post is an ordinary submission; the old one stays rejected and points to it.
   */
  private async checkResubmission(p: Principal, oldId: string): Promise<PostRow & { target_path: string }> {
    let old: PostRow & { target_path: string };
    try {
      old = await this.load(p, oldId);
    } catch (err) {
      if (err instanceof NotFoundError) throw new ValidationError(`resubmitOf: post ${oldId} not found`, { field: 'resubmitOf' });
      throw err;
    }
    if (old.created_by !== p.keyId) requireScope(p, old.target_path, old.target_unit_code);
    if (old.status !== 'rejected') {
      throw new ConflictError(`resubmitOf: post ${oldId} is ${old.status}; only a rejected post can be resubmitted`, {
        field: 'resubmitOf',
        status: old.status,
      });
    }
    const newer = await this.db.selectFrom('posts').select('id').where('resubmit_of', '=', oldId).executeTakeFirst();
    if (newer) {
      throw new ConflictError(`resubmitOf: post ${oldId} was already resubmitted as ${newer.id}`, {
        field: 'resubmitOf',
        resubmittedAs: newer.id,
      });
    }
    return old;
  }

  private async targetPath(db: Db, unitId: number): Promise<string> {
    return (await db.selectFrom('units').select('path').where('id', '=', unitId).executeTakeFirstOrThrow()).path;
  }

  /** Validates a submission and builds its row (nothing is written). */
  private async prepare(p: Principal, input: CreatePostInput): Promise<PostRow> {
    requireRole(p, ['editor', 'admin'], 'create posts');
    const publishAt = input.publishAt ? new Date(input.publishAt) : null;
    if (publishAt && publishAt.getTime() < Date.now() - PUBLISH_AT_TOLERANCE_MS) {
      throw new ValidationError('publishAt: must be in the future (omit it to publish on approval)', { field: 'publishAt' });
    }
    const checked = await this.targets.check(input.target);
    const { id: unitId, path } = checked;
    requireScope(p, path, input.target.unit);
    if (!(await this.targets.reachesAnyUnit(input.target, checked))) {
      throw new ValidationError('target: resolves to no unit (check levels and exclude)', { field: 'target' });
    }
    const now = new Date().toISOString();
    const row: PostRow = {
      id: crypto.randomUUID(),
      message: input.message,
      link: input.link ?? null,
      photos: JSON.stringify(input.photos ?? []),
      target: JSON.stringify(input.target),
      target_unit_code: input.target.unit,
      target_unit_id: unitId,
      publish_at: publishAt ? publishAt.toISOString() : null,
      status: 'pending_approval',
      created_by: p.keyId,
      approved_by: null,
      cancelled_by: null,
      total: 0,
      created_at: now,
      updated_at: now,
      approved_at: null,
      started_at: null,
      completed_at: null,
      recalled_by: null,
      recalled_at: null,
      recall_reason: null,
      recall_round: 0,
      rejected_by: null,
      rejected_at: null,
      rejection_reason: null,
      resubmit_of: null,
      spread_minutes: input.spread?.minutes ?? null,
      // A scheduled post's window is known now (publishAt is never changed); the fan-out writes the real start.
      spread_ends_at:
        publishAt && input.spread ? new Date(publishAt.getTime() + input.spread.minutes * this.spreadMinuteMs).toISOString() : null,
    };
    return row;
  }

  /** Loads a post the principal may see: its target lies inside the principal's subtree or contains the principal's unit. */
  async load(p: Principal, id: string): Promise<PostRow & { target_path: string }> {
    const post = await this.db
      .selectFrom('posts')
      .innerJoin('units', 'units.id', 'posts.target_unit_id')
      .selectAll('posts')
      .select('units.path as target_path')
      .where('posts.id', '=', id)
      .executeTakeFirst();
    if (!post || !(post.target_path.startsWith(p.unitPath) || p.unitPath.startsWith(post.target_path))) {
      throw new NotFoundError(`post ${id}`);
    }
    return post;
  }

  /**
   * Four eyes: a different key approves. The approval is written to the store first (the store is
   * the ledger); if Redis is unreachable the post stays `approved`/`scheduled` and the reconciler
   * enqueues its fan-out when Redis is back, so an approval is never lost.
   */
  async approve(p: Principal, id: string): Promise<{ id: string; status: PostStatus; publishAt: string | null }> {
    const post = await this.pendingForDecision(p, id, 'approve');
    const target = JSON.parse(post.target) as Target;
    await this.targets.check(target); // the tree may have changed since submission
    const now = new Date();
    const publishAt = post.publish_at ? new Date(post.publish_at) : null;
    const status: PostStatus = publishAt && publishAt.getTime() > now.getTime() ? 'scheduled' : 'approved';
    const approved = await this.decide(p, post, {
      set: { status, approved_by: p.keyId, approved_at: now.toISOString(), updated_at: now.toISOString() },
      action: 'post.approve',
      details: { status, author: post.created_by },
    });
    if (!approved) throw new ConflictError('post changed while approving; reload it');
    try {
      await this.queues.scheduleFanout(id, publishAt);
    } catch (err) {
      this.log.warn(
        { postId: id, err: (err as Error).message },
        'fan-out not enqueued (Redis unavailable?); the reconciler will enqueue it',
      );
    }
    return { id, status, publishAt: post.publish_at };
  }

  /**
   * Four eyes, the other way: an approver (or admin) holding the target refuses a pending post, with a
   * reason its author sees. Final: the author resubmits it as a new post (`resubmitOf`).
   */
  async reject(p: Principal, id: string, reason: string): Promise<{ id: string; status: 'rejected'; rejection: Rejection }> {
    const post = await this.pendingForDecision(p, id, 'reject');
    const at = new Date().toISOString();
    const rejected = await this.decide(p, post, {
      set: { status: 'rejected', rejected_by: p.keyId, rejected_at: at, rejection_reason: reason, updated_at: at, completed_at: at },
      action: 'post.reject',
      details: { reason, author: post.created_by },
    });
    if (!rejected) {
      // Another approver (or a cancel) got there first.
      const now = await this.db.selectFrom('posts').select('status').where('id', '=', id).executeTakeFirstOrThrow();
      throw new ConflictError(`post is ${now.status}, not pending_approval`, { status: now.status });
    }
    this.notify.rejected(id);
    return { id, status: 'rejected', rejection: { by: p.keyId, at, reason } };
  }

  /** Four eyes and scope for approving or rejecting: an approver or admin holding the target, never the author, of a pending post. */
  private async pendingForDecision(p: Principal, id: string, verb: 'approve' | 'reject'): Promise<PostRow & { target_path: string }> {
    requireRole(p, ['approver', 'admin'], `${verb} posts`);
    const post = await this.load(p, id);
    if (post.created_by === p.keyId) throw new ForbiddenError(`the author of a post may not ${verb} it`);
    requireScope(p, post.target_path, post.target_unit_code);
    if (post.status !== 'pending_approval') {
      throw new ConflictError(`post is ${post.status}, not pending_approval`, { status: post.status });
    }
    return post;
  }

  /** Moves a pending post on (approved, scheduled or rejected) and audits it, in one transaction; false if it was no longer pending. */
  private async decide(
    p: Principal,
    post: PostRow & { target_path: string },
    change: { set: Updateable<PostsTable>; action: 'post.approve' | 'post.reject'; details: Record<string, unknown> },
  ): Promise<boolean> {
    return transact(this.db, async (trx) => {
      const res = await trx
        .updateTable('posts')
        .set(change.set)
        .where('id', '=', post.id)
        .where('status', '=', 'pending_approval')
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return false;
      await appendAudit(trx, {
        actor: p,
        action: change.action,
        subject: { type: 'post', id: post.id, path: post.target_path },
        details: change.details,
      });
      return true;
    });
  }

  /** Cancels a post that has not finished; deliveries not yet sent become `cancelled`. */
  async cancel(p: Principal, id: string): Promise<{ id: string; status: 'cancelled' }> {
    requireRole(p, ['editor', 'approver', 'admin'], 'cancel posts');
    const post = await this.load(p, id);
    requireScope(p, post.target_path, post.target_unit_code);
    const now = new Date().toISOString();
    const changed = await transact(this.db, async (trx) => {
      const res = await trx
        .updateTable('posts')
        .set({ status: 'cancelled', cancelled_by: p.keyId, updated_at: now, completed_at: now })
        .where('id', '=', id)
        .where('status', 'in', CANCELLABLE_POST_STATUSES)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return false;
      await this.ledger.cancelQueued(trx, id, 'post_cancelled', now);
      await appendAudit(trx, {
        actor: p,
        action: 'post.cancel',
        subject: { type: 'post', id, path: post.target_path },
        details: { previousStatus: post.status },
      });
      return true;
    });
    if (!changed) {
      if (post.status === 'cancelled') return { id, status: 'cancelled' };
      throw new ConflictError(`post is ${post.status}; only unfinished posts can be cancelled`, { status: post.status });
    }
    // Best effort: a fan-out or delivery job that still runs finds the post cancelled in the store.
    await this.queues
      .removeFanout(id)
      .catch((err: Error) => this.log.warn({ postId: id, err: err.message }, 'could not remove fan-out job'));
    return { id, status: 'cancelled' };
  }
}
