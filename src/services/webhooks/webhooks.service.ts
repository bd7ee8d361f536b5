import { sql } from 'kysely';
import crypto from 'node:crypto';
import type { Db } from '../../db/create-db';
import type { WebhookRow } from '../../db/types';
import { ConflictError, NotFoundError } from '../../errors/app-error';
import type { TokenCipher } from '../../security/token-cipher';
import { decodeCursor, encodeCursor } from '../shared/cursor';
import { BOOTSTRAP_ADMIN_ID, type Principal } from '../auth/keys.service';
import { generateWebhookSecret } from './webhook-signature';

export const WEBHOOK_EVENTS = [
  'post.pending_approval',
  'post.rejected',
  'post.published',
  'post.partially_failed',
  'post.failed',
  'delivery.failed',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export type WebhookOutcome = 'delivered' | 'retrying' | 'failed';

/** Webhooks one key may have at once. */
export const MAX_WEBHOOKS_PER_KEY = 25;
/** How long a worker trusts its list of webhooks: a new or deleted webhook takes effect within this time. */
export const ACTIVE_HOOKS_TTL_MS = 5_000;

export interface WebhookView {
  id: string;
  url: string;
  events: WebhookEventType[];
  unit: string;
  createdAt: string;
}

export interface WebhookAttemptView {
  id: number;
  eventId: string;
  event: string;
  attempt: number;
  statusCode: number | null;
  outcome: WebhookOutcome;
  error: string | null;
  durationMs: number;
  createdAt: string;
}

/** A webhook as the dispatcher needs it: what it listens to and the subtree it may see. */
export interface ActiveHook {
  id: string;
  events: ReadonlySet<string>;
  unitPath: string;
}

const toView = (r: WebhookRow): WebhookView => ({
  id: r.id,
  url: r.url,
  events: JSON.parse(r.events) as WebhookEventType[],
  unit: r.unit_code,
  createdAt: r.created_at,
});
const isIdCursor = (v: unknown): v is { i: number } => typeof v === 'object' && v !== null && Number.isInteger((v as { i: unknown }).i);

/**
 * Webhooks belong to the API key that registered them: only that key lists, deletes or reads their
 * log, and they only ever carry events from that key's unit subtree. The signing secret is shown once
 * and kept encrypted (it must stay usable for signing, so it cannot be hashed like API keys).
 */
export class WebhooksService {
  private active: { at: number; hooks: Promise<ActiveHook[]> } | undefined;

  constructor(
    private readonly db: Db,
    private readonly cipher: () => TokenCipher,
  ) {}

  async create(p: Principal, input: { url: string; events: WebhookEventType[] }): Promise<WebhookView & { secret: string }> {
    const existing = await this.db
      .selectFrom('webhooks')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('key_id', '=', p.keyId)
      .where('deleted_at', 'is', null)
      .executeTakeFirstOrThrow();
    if (Number(existing.n) >= MAX_WEBHOOKS_PER_KEY) {
      throw new ConflictError(`a key may have at most ${MAX_WEBHOOKS_PER_KEY} webhooks; delete one first`);
    }
    const secret = generateWebhookSecret();
    const row: WebhookRow = {
      id: `wh_${crypto.randomBytes(9).toString('base64url')}`,
      key_id: p.keyId,
      unit_id: p.unitId,
      unit_code: p.unitCode,
      url: input.url,
      events: JSON.stringify([...new Set(input.events)]),
      secret_ciphertext: this.cipher().encrypt(secret),
      created_at: new Date().toISOString(),
      deleted_at: null,
    };
    await this.db.insertInto('webhooks').values(row).execute();
    this.active = undefined;
    return { ...toView(row), secret };
  }

  async list(p: Principal): Promise<WebhookView[]> {
    const rows = await this.db
      .selectFrom('webhooks')
      .selectAll()
      .where('key_id', '=', p.keyId)
      .where('deleted_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toView);
  }

  /** Stops deliveries at once (queued attempts find it gone); the log is kept. Another key's webhook is a 404. */
  async remove(p: Principal, id: string): Promise<void> {
    const now = new Date().toISOString();
    const res = await this.db
      .updateTable('webhooks')
      .set({ deleted_at: now })
      .where('id', '=', id)
      .where('key_id', '=', p.keyId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) throw new NotFoundError(`webhook ${id}`);
    this.active = undefined;
  }

  /** The attempt log of one of the caller's webhooks, newest first. */
  async attempts(
    p: Principal,
    id: string,
    q: { limit: number; cursor?: string },
  ): Promise<{ items: WebhookAttemptView[]; nextCursor: string | null }> {
    const hook = await this.db
      .selectFrom('webhooks')
      .select('id')
      .where('id', '=', id)
      .where('key_id', '=', p.keyId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!hook) throw new NotFoundError(`webhook ${id}`);
    const before = decodeCursor(q.cursor, isIdCursor);
    let query = this.db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', id);
    if (before) query = query.where('id', '<', before.i);
    const rows = await query
      .orderBy('id', 'desc')
      .limit(q.limit + 1)
      .execute();
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => ({
        id: Number(r.id),
        eventId: r.event_id,
        event: r.event_type,
        attempt: r.attempt,
        statusCode: r.status_code,
        outcome: r.outcome as WebhookOutcome,
        error: r.error,
        durationMs: r.duration_ms,
        createdAt: r.created_at,
      })),
      nextCursor: rows.length > q.limit && last ? encodeCursor({ i: Number(last.id) }) : null,
    };
  }

  /**
   * Live webhooks whose key is still valid, with the current path of the key's unit (units can move,
   * and a re-scoped key takes its webhooks along). A key whose unit retired in a reorganisation is
   * suspended, and its webhooks pause until an admin re-scopes it.
   * Cached for ACTIVE_HOOKS_TTL_MS because the dispatcher asks on every event.
   */
  activeHooks(): Promise<ActiveHook[]> {
    if (this.active && Date.now() - this.active.at < ACTIVE_HOOKS_TTL_MS) return this.active.hooks;
    const hooks = this.db
      .selectFrom('webhooks')
      .leftJoin('api_keys', 'api_keys.id', 'webhooks.key_id')
      .innerJoin('units', (j) => j.on(sql<boolean>`units.id = coalesce(api_keys.unit_id, webhooks.unit_id)`))
      .select(['webhooks.id', 'webhooks.key_id', 'webhooks.events', 'units.path', 'api_keys.id as key_row', 'api_keys.revoked_at'])
      .where('webhooks.deleted_at', 'is', null)
      .where('units.retired_at', 'is', null)
      .execute()
      .then((rows) =>
        rows
          .filter((r) => (r.key_id === BOOTSTRAP_ADMIN_ID ? true : r.key_row !== null && r.revoked_at === null))
          .map((r) => ({ id: r.id, events: new Set(JSON.parse(r.events) as string[]), unitPath: r.path })),
      );
    this.active = { at: Date.now(), hooks };
    hooks.catch(() => (this.active = undefined));
    return hooks;
  }

  /** URL and plaintext secret for one send, or undefined when the webhook was deleted, its key revoked or suspended. */
  async loadForSend(id: string): Promise<{ url: string; secret: string } | undefined> {
    const r = await this.db
      .selectFrom('webhooks')
      .leftJoin('api_keys', 'api_keys.id', 'webhooks.key_id')
      .innerJoin('units', (j) => j.on(sql<boolean>`units.id = coalesce(api_keys.unit_id, webhooks.unit_id)`))
      .select(['webhooks.url', 'webhooks.key_id', 'webhooks.secret_ciphertext', 'api_keys.id as key_row', 'api_keys.revoked_at'])
      .where('webhooks.id', '=', id)
      .where('webhooks.deleted_at', 'is', null)
      .where('units.retired_at', 'is', null)
      .executeTakeFirst();
    if (!r) return undefined;
    if (r.key_id !== BOOTSTRAP_ADMIN_ID && (r.key_row === null || r.revoked_at !== null)) return undefined;
    return { url: r.url, secret: this.cipher().decrypt(r.secret_ciphertext) };
  }

  async recordAttempt(a: {
    webhookId: string;
    eventId: string;
    eventType: string;
    attempt: number;
    statusCode: number | null;
    outcome: WebhookOutcome;
    error: string | null;
    durationMs: number;
  }): Promise<void> {
    await this.db
      .insertInto('webhook_deliveries')
      .values({
        webhook_id: a.webhookId,
        event_id: a.eventId,
        event_type: a.eventType,
        attempt: a.attempt,
        status_code: a.statusCode,
        outcome: a.outcome,
        error: a.error,
        duration_ms: Math.round(a.durationMs),
        created_at: new Date().toISOString(),
      })
      .execute();
  }
}
