import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Timestamps are ISO-8601 UTC strings (`Date#toISOString`), which sort and compare correctly as text on both dialects. */
type Timestamp = string;

/** One version of a unit (0006): a reorganisation retires versions and creates new ones. */
export interface UnitsTable {
  /** Internal identity of this version; deliveries, posts, keys and webhooks point at it. */
  id: Generated<number>;
  /** Unique among active units only: a retired version keeps its code, and the code may be reused. */
  code: string;
  parent_id: number | null;
  /** The parent's code (of this version's time). */
  parent_code: string | null;
  level: number;
  type: string;
  name: string;
  /** Materialised path `/root/01/001/00001/`: a subtree is one indexed range scan. */
  path: string;
  /** When this version became active (the import, or the reorganisation that made it). */
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Set when a reorganisation retired this version; null while active. */
  retired_at: Timestamp | null;
  /** JSON array of the codes of the units that absorbed it (`[]` for an abolished unit). */
  succeeded_by: string | null;
}

/** A Facebook Page (0006: keyed by page_id; a unit has 0..n Pages). */
export interface PagesTable {
  page_id: string;
  /** The unit version it is (or, once retired, was last) linked to. */
  unit_id: number;
  unit_code: string;
  /** e.g. "Trang chính", or the name of the unit it came from in a merger. */
  label: string | null;
  /** Order among the unit's Pages; the first is the unit's `page` in the compatibility view. */
  position: number;
  /** `v1.<keyId>.<iv>.<tag>.<ciphertext>` (AES-256-GCM, base64url parts); never the plaintext. Null: mapped, no token yet. */
  token_ciphertext: string | null;
  token_status: string;
  token_status_reason: string | null;
  token_checked_at: Timestamp | null;
  /** JSON array of the Page tasks Facebook last reported (`CREATE_CONTENT` is needed to publish); null when unknown. */
  tasks: string | null;
  /** Unlinked or left behind by a reorganisation: never targeted again, but its token still serves recalls and edits. */
  retired_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PostsTable {
  id: string;
  message: string;
  link: string | null;
  /** JSON array of photo URLs. */
  photos: string;
  /** JSON of the target as submitted. */
  target: string;
  target_unit_code: string;
  /** The target unit's version (0006). */
  target_unit_id: number | null;
  publish_at: Timestamp | null;
  status: string;
  created_by: string;
  approved_by: string | null;
  cancelled_by: string | null;
  total: number;
  created_at: Timestamp;
  updated_at: Timestamp;
  approved_at: Timestamp | null;
  started_at: Timestamp | null;
  completed_at: Timestamp | null;
  /** Recall (0003): who asked, when, and why. */
  recalled_by: string | null;
  recalled_at: Timestamp | null;
  recall_reason: string | null;
  /** Incremented by each recall request; part of the recall job ids so a retried recall gets new jobs. */
  recall_round: Generated<number>;
  /** Rejection (0009): which approver refused the post, when and why. */
  rejected_by: string | null;
  rejected_at: Timestamp | null;
  rejection_reason: string | null;
  /** The rejected post this one resubmits (0009; unique: a rejected post is resubmitted at most once). */
  resubmit_of: string | null;
  /** Spread (0011): the deliveries go out evenly over this many minutes from the fan-out's start; null = as fast as possible. */
  spread_minutes: number | null;
  /** Spread (0011): the end of the planned window, written when the fan-out starts. */
  spread_ends_at: Timestamp | null;
}

export interface DeliveriesTable {
  id: Generated<number>;
  post_id: string;
  /** The unit version the delivery was made for (0006), and its code. */
  unit_id: number | null;
  unit_code: string;
  page_id: string | null;
  status: string;
  attempts: number;
  fb_post_id: string | null;
  permalink: string | null;
  error_code: number | null;
  error_subcode: number | null;
  error_message: string | null;
  /** Machine-readable reason: `no_page`, `token_invalid`, `transient_exhausted`, … */
  reason: string | null;
  /** When the latest attempt was claimed: bounds the read-back that resolves an unknown outcome. */
  attempt_started_at: Timestamp | null;
  /** Incremented by each manual retry; part of the BullMQ job id. */
  job_round: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
  published_at: Timestamp | null;
  /** Edit (0003): the post revision this row's edit state refers to (0 = as first published). */
  edit_revision: Generated<number>;
  /** `pending` | `applied` | `failed` | `cancelled` for `edit_revision`; null when never edited. */
  edit_status: string | null;
  /** Why the edit of this Page failed (`token_invalid`, `post_gone`, …). */
  edit_error: string | null;
  /** Fence (0005): random token of the latest claim (publish, recall or edit attempt). */
  claim_token: Generated<string | null>;
  /** Fence (0005): when the latest claim's lease ends; null once its holder released it. */
  lease_until: Generated<Timestamp | null>;
  /** Counters (0010): the path and level of the unit version, copied at insert so a transition knows its counter scopes without a read. */
  unit_path: Generated<string | null>;
  unit_level: Generated<number | null>;
  /** Counters (0010): the status before the latest status change (set with it), so a conditional UPDATE RETURNING tells its from-status. */
  prev_status: Generated<string | null>;
  /** Spread (0011): the delivery's planned slot; it is never sent before it. Null = no spread. */
  not_before: Timestamp | null;
}

/**
 * Delivery counts maintained by the ledger's writes (0010), in the same transaction as the rows:
 * per post and status in scope `''`, and per proper ancestor of the delivery's unit (its path), each by the delivery's level.
 */
export interface DeliveryCountsTable {
  post_id: string;
  /** `''` (the whole post) or a unit path (`/root/01/`): the deliveries strictly below that unit. */
  scope: string;
  /** The level of the counted deliveries' units (-1 when unknown). */
  level: number;
  status: string;
  n: number;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  role: string;
  /** The unit version the key is scoped to; when it retires, the key is suspended until re-scoped. */
  unit_id: number | null;
  unit_code: string;
  /** SHA-256 of the key (the key has 256 bits of entropy, so a fast hash is enough). */
  key_hash: string;
  created_by: string;
  created_at: Timestamp;
  revoked_at: Timestamp | null;
}

/** A URL an API key registered for events (webhooks). */
export interface WebhooksTable {
  id: string;
  /** The key that registered it; the webhook sees only that key's unit subtree. */
  key_id: string;
  unit_id: number | null;
  unit_code: string;
  url: string;
  /** JSON array of event names. */
  events: string;
  /** Signing secret, AES-256-GCM like Page tokens (it must stay usable for signing, so not hashed). */
  secret_ciphertext: string;
  created_at: Timestamp;
  /** Set by DELETE; the delivery log stays. */
  deleted_at: Timestamp | null;
}

/** One row per webhook POST attempt. */
export interface WebhookDeliveriesTable {
  id: Generated<number>;
  webhook_id: string;
  event_id: string;
  event_type: string;
  attempt: number;
  /** HTTP status of the answer, null when there was none (timeout, refused…). */
  status_code: number | null;
  /** `delivered`, `retrying` (another attempt follows) or `failed` (the last one). */
  outcome: string;
  error: string | null;
  duration_ms: number;
  created_at: Timestamp;
}

/** Append-only (0003): database triggers reject UPDATE and DELETE on both dialects. */
export interface AuditLogTable {
  id: Generated<number>;
  at: Timestamp;
  /** API key id (`key_…`, `bootstrap-admin`) or `system:<component>` for the CLI and workers. */
  actor_key_id: string;
  actor_name: string;
  action: string;
  /** `post`, `key`, `unit`, `page`, `units`, `pages`, `tokens`. */
  subject_type: string;
  subject_id: string;
  /** Unit path the subject belongs to (a post's target, a key's unit): reads are scoped by it. */
  subject_path: string;
  /** JSON object; never a token or key. */
  details: string;
}

/** An edit of a published post's message; applied to every Page after a second key approves it. */
export interface PostEditsTable {
  post_id: string;
  revision: number;
  message: string;
  previous_message: string;
  /** `pending_approval` → `applying` → `applied` | `partially_failed`; or `superseded` / `cancelled` / `rejected`. */
  status: string;
  requested_by: string;
  requested_at: Timestamp;
  approved_by: string | null;
  approved_at: Timestamp | null;
  completed_at: Timestamp | null;
  applied: number;
  failed: number;
  /** Rejection (0009): which approver refused the edit, when and why. */
  rejected_by: string | null;
  rejected_at: Timestamp | null;
  rejection_reason: string | null;
}

/** `Idempotency-Key` of `POST /v1/posts`, per API key: same key + same body → the same post. */
export interface IdempotencyKeysTable {
  key_id: string;
  idem_key: string;
  /** SHA-256 of the canonical request body. */
  request_hash: string;
  post_id: string;
  created_at: Timestamp;
}

/** The Business Manager connection (0007): one row, id `default`. */
export interface BusinessConnectionTable {
  id: string;
  /** The system-user token, AES-256-GCM like Page tokens; never returned or logged. */
  token_ciphertext: string;
  /** `SYSTEM_USER` as debug_token reported it. */
  token_type: string;
  /** The system user's id (debug_token `user_id`). */
  subject_id: string | null;
  /** JSON array of the token's scopes. */
  scopes: string;
  /** When the token expires; null: never. */
  expires_at: Timestamp | null;
  /** `valid` or `invalid` (with the reason), from the last check. */
  status: string;
  status_reason: string | null;
  checked_at: Timestamp;
  last_sync_at: Timestamp | null;
  /** JSON of the last sync's counts. */
  last_sync: string | null;
  updated_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** A self-service connect link (0008): single use, stored hashed; see ConnectLinksService. */
export interface ConnectLinksTable {
  id: string;
  /** SHA-256 (base64url) of the link token; the token itself is only in the URL handed out. */
  token_hash: string;
  unit_id: number;
  unit_code: string;
  /** Key id of the admin who created it. */
  created_by: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  /** Set when a Page was linked through it: it cannot be used again. */
  used_at: Timestamp | null;
  page_id: string | null;
  /** SHA-256 of the OAuth `state` of the latest dialog opened from the link; null once used. */
  state_hash: string | null;
  /** The long-lived user token between the callback and the pick (AES-256-GCM); wiped after the pick. */
  user_token_ciphertext: string | null;
  /** Until when a pick may use the stored user token. */
  session_expires_at: Timestamp | null;
}

export interface Database {
  units: UnitsTable;
  pages: PagesTable;
  posts: PostsTable;
  deliveries: DeliveriesTable;
  delivery_counts: DeliveryCountsTable;
  api_keys: ApiKeysTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  audit_log: AuditLogTable;
  post_edits: PostEditsTable;
  idempotency_keys: IdempotencyKeysTable;
  business_connection: BusinessConnectionTable;
  connect_links: ConnectLinksTable;
}

export type UnitRow = Selectable<UnitsTable>;
export type PageRow = Selectable<PagesTable>;
export type PostRow = Selectable<PostsTable>;
export type NewPost = Insertable<PostsTable>;
export type DeliveryRow = Selectable<DeliveriesTable>;
export type NewDelivery = Insertable<DeliveriesTable>;
export type DeliveryUpdate = Updateable<DeliveriesTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type WebhookRow = Selectable<WebhooksTable>;
export type AuditRow = Selectable<AuditLogTable>;
export type PostEditRow = Selectable<PostEditsTable>;
