import type { Db } from '../../db/create-db';
import { dialectOf, PreparedSql } from '../../db/prepared';

/**
 * The statements every delivery runs (load, claim for publishing, and its outcome), precompiled once
 * per store (db/prepared.ts). Each has exactly the conditions of the builder form it replaces in
 * DeliveryLedger; the rarer transitions (recall, edit, release) stay on the query builder.
 */

/** A row of `load` (columns as the query builder named them before). */
export interface LoadRow {
  id: number;
  post_id: string;
  unit_code: string;
  status: string;
  attempts: number;
  reason: string | null;
  attempt_started_at: string | null;
  claim_token: string | null;
  lease_until: string | null;
  published_page_id: string | null;
  fb_post_id: string | null;
  edit_revision: number;
  edit_status: string | null;
  not_before: string | null;
  post_status: string;
  message: string;
  link: string | null;
  photos: string;
  page_id: string | null;
  token_ciphertext: string | null;
  token_status: string | null;
  token_status_reason: string | null;
  page_retired_at: string | null;
}

const LOAD = `
  select d.id, d.post_id, d.unit_code, d.status, d.attempts, d.reason, d.attempt_started_at, d.claim_token,
         d.lease_until, d.page_id as published_page_id, d.fb_post_id, d.edit_revision, d.edit_status, d.not_before,
         p.status as post_status, p.message, p.link, p.photos,
         g.page_id, g.token_ciphertext, g.token_status, g.token_status_reason, g.retired_at as page_retired_at
  from deliveries as d
  inner join posts as p on p.id = d.post_id
  left join pages as g on g.page_id = d.page_id
  where d.id = ?`;

/** Claim for publishing: params token, leaseUntil, attemptStartedAt, attempts increment (0|1), updatedAt, id, [claimToken], cutoff. */
const claimPublish = (tokenCondition: string) => `
  update deliveries
  set prev_status = status, claim_token = ?, lease_until = ?, status = 'publishing', attempt_started_at = ?, attempts = attempts + ?, updated_at = ?
  where id = ? and ${tokenCondition} and (lease_until is null or lease_until <= ?) and status in ('queued', 'publishing')
  ${COUNTED}`;

/**
 * Every statement here changes the status: `prev_status` takes the old one (SET reads the row as it
 * was) and RETURNING gives the counters their move (delivery-counts.ts, COUNTED_COLUMNS).
 */
const COUNTED = `returning post_id, unit_path, unit_level, prev_status, status`;

/** Held outcomes of a publish attempt; each ends the lease. The `where` is id, claim token, status. */
const HELD = `where id = ? and claim_token = ?`;
const FROM_OPEN = `and status in ('queued', 'publishing')`;

export class LedgerStatements {
  readonly load: PreparedSql;
  readonly claimPublishFree: PreparedSql;
  readonly claimPublishHeld: PreparedSql;
  /** fb_post_id, permalink, published_at, reason, updated_at, id, token */
  readonly published: PreparedSql;
  /** status ('failed' | 'cancelled'), reason, error_code, error_subcode, error_message, updated_at, id, token */
  readonly closed: PreparedSql;
  /** reason, error_code, error_subcode, error_message, attempts refund (0|1), attempt_started_at (null keeps it), updated_at, id, token */
  readonly requeue: PreparedSql;

  constructor(db: Db) {
    const dialect = dialectOf(db);
    const p = (text: string) => new PreparedSql(text, dialect);
    this.load = p(LOAD);
    this.claimPublishFree = p(claimPublish('claim_token is null'));
    this.claimPublishHeld = p(claimPublish('claim_token = ?'));
    this.published = p(`
      update deliveries
      set prev_status = status, status = 'published', fb_post_id = ?, permalink = ?, published_at = ?, reason = ?,
          error_code = null, error_subcode = null, error_message = null, lease_until = null, updated_at = ?
      ${HELD} ${FROM_OPEN} ${COUNTED}`);
    this.closed = p(`
      update deliveries
      set prev_status = status, status = ?, reason = ?, error_code = ?, error_subcode = ?, error_message = ?, lease_until = null, updated_at = ?
      ${HELD} ${FROM_OPEN} ${COUNTED}`);
    this.requeue = p(`
      update deliveries
      set prev_status = status, status = 'queued', reason = ?, error_code = ?, error_subcode = ?, error_message = ?, attempts = attempts - ?,
          attempt_started_at = coalesce(?, attempt_started_at), lease_until = null, updated_at = ?
      ${HELD} and status = 'publishing' ${COUNTED}`);
  }
}
