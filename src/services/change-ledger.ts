import type { UpdateObject } from 'kysely';
import type { Db } from '../db/create-db';
import type { Database } from '../db/types';
import { WriteBatcher } from '../db/write-batcher';
import type { DeliveryError } from './deliveries.service';
import type { DeliveryStatus } from './post-status';

/** What a recall or edit job needs about one delivery (its Page's current token included, encrypted). */
export interface ChangeTarget {
  id: number;
  postId: string;
  unitCode: string;
  status: DeliveryStatus;
  /** The Page the post was published on (the unit may have been relinked since). */
  pageId: string | null;
  fbPostId: string | null;
  editRevision: number;
  editStatus: string | null;
  postStatus: string;
  page: { pageId: string; tokenCiphertext: string } | null;
}

/**
 * Recall and edit transitions of the delivery ledger. Like publishing, each one is a conditional
 * UPDATE on the current state, group-committed, so a replayed or stale job cannot undo a newer state.
 */
export class ChangeLedger {
  private readonly writes: WriteBatcher;

  constructor(private readonly db: Db) {
    this.writes = new WriteBatcher(db);
  }

  async load(id: number): Promise<ChangeTarget | undefined> {
    const r = await this.db
      .selectFrom('deliveries as d')
      .innerJoin('posts as p', 'p.id', 'd.post_id')
      .leftJoin('pages as g', 'g.unit_code', 'd.unit_code')
      .select(['d.id', 'd.post_id', 'd.unit_code', 'd.status', 'd.page_id', 'd.fb_post_id', 'd.edit_revision', 'd.edit_status', 'p.status as post_status', 'g.page_id as current_page_id', 'g.token_ciphertext'])
      .where('d.id', '=', id)
      .executeTakeFirst();
    if (!r) return undefined;
    return {
      id: r.id,
      postId: r.post_id,
      unitCode: r.unit_code,
      status: r.status as DeliveryStatus,
      pageId: r.page_id,
      fbPostId: r.fb_post_id,
      editRevision: r.edit_revision,
      editStatus: r.edit_status,
      postStatus: r.post_status,
      page: r.current_page_id && r.token_ciphertext ? { pageId: r.current_page_id, tokenCiphertext: r.token_ciphertext } : null,
    };
  }

  private async update(id: number, when: { status?: DeliveryStatus; editRevision?: number }, set: UpdateObject<Database, 'deliveries'>): Promise<boolean> {
    const n = await this.writes.submit(async (trx) => {
      let q = trx.updateTable('deliveries').set({ ...set, updated_at: new Date().toISOString() }).where('id', '=', id);
      if (when.status) q = q.where('status', '=', when.status);
      if (when.editRevision !== undefined) q = q.where('edit_revision', '=', when.editRevision).where('edit_status', '=', 'pending');
      return Number((await q.executeTakeFirst()).numUpdatedRows);
    });
    return n === 1;
  }

  /** recalling → recalled (`recalled`, or `already_deleted` when Facebook no longer had it). */
  markRecalled(id: number, reason: string): Promise<boolean> {
    return this.update(id, { status: 'recalling' }, { status: 'recalled', reason, error_code: null, error_subcode: null, error_message: null });
  }

  /** recalling → recall_failed: the post may still be on that Page; a new recall request retries it. */
  markRecallFailed(id: number, reason: string, error: DeliveryError | null): Promise<boolean> {
    return this.update(id, { status: 'recalling' }, {
      status: 'recall_failed',
      reason,
      error_code: error?.code ?? null,
      error_subcode: error?.subcode ?? null,
      error_message: error?.message ?? null,
    });
  }

  markEditApplied(id: number, revision: number): Promise<boolean> {
    return this.update(id, { editRevision: revision }, { edit_status: 'applied', edit_error: null });
  }

  markEditFailed(id: number, revision: number, reason: string): Promise<boolean> {
    return this.update(id, { editRevision: revision }, { edit_status: 'failed', edit_error: reason });
  }
}
