import { z } from 'zod';
import type { Logger } from 'pino';
import type { Db } from '../../db/create-db';
import { transact } from '../../db/transact';
import type { DeliveryLedger } from '../delivery/delivery-ledger';
import type { PostEditRow } from '../../db/types';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors/app-error';
import { JOB } from '../../queues/catalog';
import type { Queues } from '../../queues/queues';
import { appendAudit, systemActor } from './audit.service';
import { Debouncer } from '../shared/debounce';
import { requireRole, requireScope, type Principal } from '../auth/keys.service';
import type { PostsService } from '../posts/posts.service';
import { hasNoNul, NO_NUL_MESSAGE } from '../shared/text';
import { subtreeEnd } from '../tree/unit-paths';

export const EDIT_STATUSES = [
  'pending_approval',
  'applying',
  'applied',
  'partially_failed',
  'failed',
  'superseded',
  'cancelled',
  'rejected',
] as const;
export type EditStatus = (typeof EDIT_STATUSES)[number];

export const EditPostSchema = z
  .object({ message: z.string().trim().min(1, 'must not be empty').max(63_206).refine(hasNoNul, NO_NUL_MESSAGE) })
  .strict();

/** Only a post that is on Pages and no longer publishing can be edited. */
const EDITABLE = ['published', 'partially_failed'];
const CHUNK = 1_000;
const STALE_MS = 20_000;

export interface EditView {
  postId: string;
  revision: number;
  status: EditStatus;
  message: string;
  previousMessage: string;
  requestedBy: string;
  requestedAt: string;
  approvedBy: string | null;
  approvedAt: string | null;
  completedAt: string | null;
  /** Pages: still to edit, edited, could not be edited. */
  counts: { pending: number; applied: number; failed: number };
  /** Which approver rejected the edit, when and why (null unless rejected). */
  rejection: { by: string; at: string; reason: string } | null;
}

/**
 * Editing a published post's message: `request` records the new text (pending approval), a
 * different key `approve`s it, then one job per Page updates the post there (`POST /{post-id}`).
 */
export class EditsService {
  private readonly rollUps: Debouncer;

  constructor(
    private readonly db: Db,
    private readonly ledger: DeliveryLedger,
    private readonly posts: PostsService,
    private readonly jobs: Queues,
    private readonly log: Logger,
    rollUpDelayMs = 200,
  ) {
    this.rollUps = new Debouncer(rollUpDelayMs);
  }

  async request(p: Principal, postId: string, message: string): Promise<EditView> {
    requireRole(p, ['editor', 'admin'], 'edit posts');
    const post = await this.posts.load(p, postId);
    requireScope(p, post.target_path, post.target_unit_code);
    if (!EDITABLE.includes(post.status)) {
      throw new ConflictError(`post is ${post.status}; only published posts can be edited`, { status: post.status });
    }
    if (message === post.message) throw new ValidationError('message: is the same as the current message', { field: 'message' });
    const now = new Date().toISOString();
    const revision = await transact(this.db, async (trx) => {
      const edits = await trx.selectFrom('post_edits').select(['revision', 'status']).where('post_id', '=', postId).execute();
      if (edits.some((e) => e.status === 'applying')) {
        throw new ConflictError('an approved edit of this post is still being applied; try again when it has finished');
      }
      await trx
        .updateTable('post_edits')
        .set({ status: 'superseded', completed_at: now })
        .where('post_id', '=', postId)
        .where('status', '=', 'pending_approval')
        .execute();
      const rev = Math.max(0, ...edits.map((e) => e.revision)) + 1;
      await trx
        .insertInto('post_edits')
        .values({
          post_id: postId,
          revision: rev,
          message,
          previous_message: post.message,
          status: 'pending_approval',
          requested_by: p.keyId,
          requested_at: now,
          approved_by: null,
          approved_at: null,
          completed_at: null,
          applied: 0,
          failed: 0,
          rejected_by: null,
          rejected_at: null,
          rejection_reason: null,
        })
        .execute();
      await appendAudit(trx, {
        actor: p,
        action: 'post.edit',
        subject: { type: 'post', id: postId, path: post.target_path },
        details: { revision: rev, message, previousMessage: post.message },
      });
      return rev;
    });
    return this.view(await this.get(postId, revision));
  }

  /** Four eyes again: a key other than the one that asked for the edit approves it. */
  async approve(p: Principal, postId: string, revision: number): Promise<EditView> {
    requireRole(p, ['approver', 'admin'], 'approve edits');
    const post = await this.posts.load(p, postId);
    const edit = await this.get(postId, revision);
    if (edit.requested_by === p.keyId) throw new ForbiddenError('the author of an edit may not approve it');
    requireScope(p, post.target_path, post.target_unit_code);
    if (edit.status !== 'pending_approval') {
      throw new ConflictError(`edit ${revision} is ${edit.status}, not pending_approval`, { status: edit.status });
    }
    if (!EDITABLE.includes(post.status)) {
      throw new ConflictError(`post is ${post.status}; only published posts can be edited`, { status: post.status });
    }
    const now = new Date().toISOString();
    await transact(this.db, async (trx) => {
      const e = await trx
        .updateTable('post_edits')
        .set({ status: 'applying', approved_by: p.keyId, approved_at: now })
        .where('post_id', '=', postId)
        .where('revision', '=', revision)
        .where('status', '=', 'pending_approval')
        .executeTakeFirst();
      const u = await trx
        .updateTable('posts')
        .set({ message: edit.message, updated_at: now })
        .where('id', '=', postId)
        .where('status', 'in', EDITABLE)
        .executeTakeFirst();
      // Throwing rolls the transaction back: both rows must still be as checked above.
      if (Number(e.numUpdatedRows) !== 1 || Number(u.numUpdatedRows) !== 1) {
        throw new ConflictError('post or edit changed while approving; reload it');
      }
      await this.ledger.startEdit(trx, postId, revision);
      await appendAudit(trx, {
        actor: p,
        action: 'post.edit_approve',
        subject: { type: 'post', id: postId, path: post.target_path },
        details: { revision, requestedBy: edit.requested_by },
      });
    });
    await this.enqueue(postId, revision).catch((err: Error) =>
      this.log.warn({ postId, err: err.message }, 'edit jobs not enqueued (Redis unavailable?); the reconciler will enqueue them'),
    );
    this.requestRollUp(postId);
    return this.view(await this.get(postId, revision));
  }

  /** An approver refuses an edit (same four eyes and scope as approving); the Pages keep the current message. */
  async reject(p: Principal, postId: string, revision: number, reason: string): Promise<EditView> {
    requireRole(p, ['approver', 'admin'], 'reject edits');
    const post = await this.posts.load(p, postId);
    const edit = await this.get(postId, revision);
    if (edit.requested_by === p.keyId) throw new ForbiddenError('the author of an edit may not reject it');
    requireScope(p, post.target_path, post.target_unit_code);
    if (edit.status !== 'pending_approval') {
      throw new ConflictError(`edit ${revision} is ${edit.status}, not pending_approval`, { status: edit.status });
    }
    const now = new Date().toISOString();
    const done = await transact(this.db, async (trx) => {
      const res = await trx
        .updateTable('post_edits')
        .set({ status: 'rejected', rejected_by: p.keyId, rejected_at: now, rejection_reason: reason, completed_at: now })
        .where('post_id', '=', postId)
        .where('revision', '=', revision)
        .where('status', '=', 'pending_approval')
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return false;
      await appendAudit(trx, {
        actor: p,
        action: 'post.edit_reject',
        subject: { type: 'post', id: postId, path: post.target_path },
        details: { revision, reason, requestedBy: edit.requested_by },
      });
      return true;
    });
    const after = await this.get(postId, revision);
    if (!done) throw new ConflictError(`edit ${revision} is ${after.status}, not pending_approval`, { status: after.status });
    return this.view(after);
  }

  /** Pending edits of posts whose target lies in `path`'s subtree, not requested by `exceptKey` (the approvals inbox). */
  async pendingIn(path: string, exceptKey: string): Promise<PostEditRow[]> {
    return this.db
      .selectFrom('post_edits')
      .innerJoin('posts', 'posts.id', 'post_edits.post_id')
      .innerJoin('units', 'units.id', 'posts.target_unit_id')
      .selectAll('post_edits')
      .where('post_edits.status', '=', 'pending_approval')
      .where('post_edits.requested_by', '!=', exceptKey)
      .where('units.path', '>=', path)
      .where('units.path', '<', subtreeEnd(path))
      .orderBy('post_edits.requested_at', 'desc')
      .execute();
  }

  async list(p: Principal, postId: string): Promise<EditView[]> {
    await this.posts.load(p, postId);
    const rows = await this.db.selectFrom('post_edits').selectAll().where('post_id', '=', postId).orderBy('revision', 'desc').execute();
    return Promise.all(rows.map((r) => this.view(r)));
  }

  /** The text an edit job writes to the Pages. */
  async messageOf(postId: string, revision: number): Promise<string | undefined> {
    return (
      await this.db
        .selectFrom('post_edits')
        .select('message')
        .where('post_id', '=', postId)
        .where('revision', '=', revision)
        .executeTakeFirst()
    )?.message;
  }

  private async get(postId: string, revision: number): Promise<PostEditRow> {
    const row = await this.db
      .selectFrom('post_edits')
      .selectAll()
      .where('post_id', '=', postId)
      .where('revision', '=', revision)
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`edit ${revision} of post ${postId}`);
    return row;
  }

  private async liveCounts(postId: string, revision: number): Promise<EditView['counts']> {
    const rows = await this.db
      .selectFrom('deliveries')
      .select((eb) => ['edit_status', eb.fn.countAll<number>().as('n')])
      .where('post_id', '=', postId)
      .where('edit_revision', '=', revision)
      .groupBy('edit_status')
      .execute();
    const counts = { pending: 0, applied: 0, failed: 0 };
    for (const r of rows) {
      if (r.edit_status === 'pending' || r.edit_status === 'applied' || r.edit_status === 'failed') counts[r.edit_status] = Number(r.n);
    }
    return counts;
  }

  private async view(r: PostEditRow): Promise<EditView> {
    const counts =
      r.status === 'applying' ? await this.liveCounts(r.post_id, r.revision) : { pending: 0, applied: r.applied, failed: r.failed };
    return {
      postId: r.post_id,
      revision: r.revision,
      status: r.status as EditStatus,
      message: r.message,
      previousMessage: r.previous_message,
      requestedBy: r.requested_by,
      requestedAt: r.requested_at,
      approvedBy: r.approved_by,
      approvedAt: r.approved_at,
      completedAt: r.completed_at,
      counts,
      rejection: r.rejected_by && r.rejected_at ? { by: r.rejected_by, at: r.rejected_at, reason: r.rejection_reason ?? '' } : null,
    };
  }

  async enqueue(postId: string, revision: number, staleBefore?: string): Promise<number> {
    let last = 0;
    let queued = 0;
    for (;;) {
      let q = this.db
        .selectFrom('deliveries')
        .select('id')
        .where('post_id', '=', postId)
        .where('edit_revision', '=', revision)
        .where('edit_status', '=', 'pending')
        .where('id', '>', last);
      if (staleBefore) q = q.where('updated_at', '<', staleBefore);
      const rows = await q.orderBy('id').limit(CHUNK).execute();
      if (!rows.length) return queued;
      await this.jobs.addBulk(
        JOB.edit,
        rows.map((r) => ({ deliveryId: r.id, postId, revision })),
      );
      queued += rows.length;
      last = rows[rows.length - 1]!.id;
    }
  }

  requestRollUp(postId: string): void {
    this.rollUps
      .request(postId, () => this.rollUp(postId))
      .catch((err: Error) => this.log.warn({ postId, err: err.message }, 'edit roll-up failed; the reconciler will retry'));
  }

  /** Finishes the applying edit of a post once no Page is left to edit. */
  async rollUp(postId: string): Promise<EditStatus | null> {
    const edit = await this.db
      .selectFrom('post_edits')
      .selectAll()
      .where('post_id', '=', postId)
      .where('status', '=', 'applying')
      .executeTakeFirst();
    if (!edit) return null;
    const c = await this.liveCounts(postId, edit.revision);
    if (c.pending > 0) return null;
    const status: EditStatus = c.failed === 0 ? 'applied' : c.applied > 0 ? 'partially_failed' : 'failed';
    const path = (
      await this.db
        .selectFrom('posts')
        .innerJoin('units', 'units.id', 'posts.target_unit_id')
        .select('units.path')
        .where('posts.id', '=', postId)
        .executeTakeFirstOrThrow()
    ).path;
    const now = new Date().toISOString();
    return transact(this.db, async (trx) => {
      const res = await trx
        .updateTable('post_edits')
        .set({ status, completed_at: now, applied: c.applied, failed: c.failed })
        .where('post_id', '=', postId)
        .where('revision', '=', edit.revision)
        .where('status', '=', 'applying')
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return null;
      await appendAudit(trx, {
        actor: systemActor('edit'),
        action: 'post.edit_finished',
        subject: { type: 'post', id: postId, path },
        details: { revision: edit.revision, status, applied: c.applied, failed: c.failed },
      });
      return status;
    });
  }

  /** Safety net (scheduled): re-queues stale edit work and finishes edits whose last job was lost. */
  async reconcile(): Promise<{ edits: number; requeued: number }> {
    const edits = await this.db.selectFrom('post_edits').select(['post_id', 'revision']).where('status', '=', 'applying').execute();
    const staleBefore = new Date(Date.now() - STALE_MS).toISOString();
    let requeued = 0;
    for (const e of edits) {
      requeued += await this.enqueue(e.post_id, e.revision, staleBefore);
      await this.rollUp(e.post_id);
    }
    return { edits: edits.length, requeued };
  }
}
