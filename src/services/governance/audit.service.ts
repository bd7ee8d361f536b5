import type { Kysely } from 'kysely';
import type { Db } from '../../db/create-db';
import type { AuditRow, Database } from '../../db/types';
import { decodeCursor, encodeCursor } from '../shared/cursor';
import { subtreeEnd } from '../tree/unit-paths';

/** Every action the audit log records (dotted, verb last, stable). */
export const AUDIT_ACTIONS = [
  'key.create',
  'key.bootstrap',
  'key.revoke',
  'key.rescope',
  'units.import',
  'units.reorganise',
  'page.link',
  'page.unlink',
  'business.connect',
  'pages.sync',
  'pages.connect',
  'post.create',
  'post.approve',
  'post.reject',
  'post.cancel',
  'post.recall',
  'post.recall_finished',
  'post.edit',
  'post.edit_approve',
  'post.edit_reject',
  'post.edit_finished',
  'post.retry',
  'tokens.rotate_key',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditActor {
  keyId: string;
  name: string;
}

export interface AuditEntry {
  actor: AuditActor;
  action: AuditAction;
  subject: { type: string; id: string; path: string };
  /** Plain facts about the change. Never a token, key or ciphertext. */
  details?: Record<string, unknown>;
}

/** Work done by a process rather than a key (the CLI's key rotation, a worker's roll-up). */
export function systemActor(component: string): AuditActor {
  return { keyId: `system:${component}`, name: `system (${component})` };
}

/**
 * Appends one entry. Call it with the transaction that makes the change, so a change is never
 * committed without its entry. There is deliberately no update or delete counterpart: the table
 * is append-only, and the database rejects UPDATE and DELETE on it.
 */
export async function appendAudit(db: Kysely<Database>, e: AuditEntry): Promise<void> {
  await appendAuditMany(db, [e]);
}

export async function appendAuditMany(db: Kysely<Database>, entries: AuditEntry[]): Promise<void> {
  const at = new Date().toISOString();
  for (let i = 0; i < entries.length; i += 500) {
    await db
      .insertInto('audit_log')
      .values(
        entries.slice(i, i + 500).map((e) => ({
          at,
          actor_key_id: e.actor.keyId,
          actor_name: e.actor.name,
          action: e.action,
          subject_type: e.subject.type,
          subject_id: e.subject.id,
          subject_path: e.subject.path,
          details: JSON.stringify(e.details ?? {}),
        })),
      )
      .execute();
  }
}

export interface AuditView {
  id: number;
  at: string;
  actor: { keyId: string; name: string };
  action: string;
  subject: { type: string; id: string };
  details: Record<string, unknown>;
}

/**
 * Whose view of the log: the caller's unit path. A `Principal` fits; the audit log sits below the
 * key service (which writes to it), so it asks only for what it reads.
 */
export interface AuditScope {
  unitPath: string;
}

export interface AuditQuery {
  subject?: string;
  actor?: string;
  action?: AuditAction;
  since?: string;
  limit: number;
  cursor?: string;
}

const isIdCursor = (v: unknown): v is { i: number } => typeof v === 'object' && v !== null && Number.isSafeInteger((v as { i: unknown }).i);

function toView(r: AuditRow): AuditView {
  return {
    id: r.id,
    at: r.at,
    actor: { keyId: r.actor_key_id, name: r.actor_name },
    action: r.action,
    subject: { type: r.subject_type, id: r.subject_id },
    details: JSON.parse(r.details) as Record<string, unknown>,
  };
}

/** Read side of the audit log, oldest first (so `since` + `cursor` tail it), scoped to the caller. */
export class AuditService {
  constructor(private readonly db: Db) {}

  /**
   * Entries about the caller's subtree, plus entries about posts whose target contains the caller's
   * unit (the same posts the caller can read: they reach the caller's Page).
   */
  async list(p: AuditScope, q: AuditQuery): Promise<{ items: AuditView[]; nextCursor: string | null }> {
    const after = decodeCursor(q.cursor, isIdCursor);
    const ancestors = ancestorPathsOf(p.unitPath);
    let query = this.db
      .selectFrom('audit_log')
      .selectAll()
      .where((eb) => {
        const inside = eb.and([eb('subject_path', '>=', p.unitPath), eb('subject_path', '<', subtreeEnd(p.unitPath))]);
        return ancestors.length ? eb.or([inside, eb.and([eb('subject_type', '=', 'post'), eb('subject_path', 'in', ancestors)])]) : inside;
      });
    if (q.subject) query = query.where('subject_id', '=', q.subject);
    if (q.actor) query = query.where('actor_key_id', '=', q.actor);
    if (q.action) query = query.where('action', '=', q.action);
    if (q.since) query = query.where('at', '>=', new Date(q.since).toISOString());
    if (after) query = query.where('id', '>', after.i);
    const rows = await query
      .orderBy('id')
      .limit(q.limit + 1)
      .execute();
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return { items: page.map(toView), nextCursor: rows.length > q.limit && last ? encodeCursor({ i: last.id }) : null };
  }
}

/** `/root/01/001/` → ['/root/', '/root/01/'] (strict ancestors). */
function ancestorPathsOf(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  return parts.slice(0, -1).map((_, i) => `/${parts.slice(0, i + 1).join('/')}/`);
}
