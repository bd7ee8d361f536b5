import type { Logger } from 'pino';
import type { Db } from '../../db/create-db';
import { ConflictError, ForbiddenError, UnavailableError, ValidationError } from '../../errors/app-error';
import type { GraphClient } from '../../graph/graph-client';
import { GraphApiError } from '../../graph/graph-errors';
import type { TokenCipher } from '../../security/token-cipher';
import { requireRole, type Principal } from '../auth/keys.service';
import { appendAudit, type AuditActor } from '../governance/audit.service';
import { ROOT_CODE } from '../tree/unit-paths';
import { suggestUnits, type Suggestion } from './page-names';

/** What a system-user token needs to list the portfolio's Pages and publish to them (graph-onboarding.md §1.b.3, §1.c). */
export const REQUIRED_SCOPES = ['pages_show_list', 'pages_manage_posts', 'business_management'] as const;
/** The Page task needed to publish as the Page (§1.c). */
export const PUBLISH_TASK = 'CREATE_CONTENT';
const CONNECTION_ID = 'default';
const CHUNK = 500;

export interface ConnectionView {
  connected: boolean;
  status: 'valid' | 'invalid' | null;
  statusReason: string | null;
  tokenType: string | null;
  systemUserId: string | null;
  scopes: string[];
  expiresAt: string | null;
  checkedAt: string | null;
  lastSyncAt: string | null;
  lastSync: SyncResult['pages'] | null;
}

export interface SyncResult {
  pages: {
    /** Pages the system user can act on (every page of `/me/accounts`). */
    seen: number;
    /** Of those, Pages mapped to an active unit. */
    matched: number;
    /** Mapped Pages whose stored token changed (new or refreshed). */
    tokensUpdated: number;
    /** Mapped Pages without the CREATE_CONTENT task: `needs_reauth` (`missing_task_create_content`). */
    missingCreateContent: number;
    /** Mapped Pages the system user does not see (not assigned to it): left as they were. */
    mappedNotSeen: number;
    /** Portfolio Pages mapped to no unit: listed, never guessed (with `suggestions` when asked). */
    unmapped: Array<{ pageId: string; name: string | null; suggestions?: Suggestion[] }>;
  };
  units: {
    /** Active units with no active Page holding a token after the sync: posts cannot reach them yet. */
    withoutPage: number;
  };
  /** `/me/accounts` requests made. */
  requests: number;
}

/**
 * The organisation's Business Manager: its system user's token (stored encrypted, never returned)
 * and the sync that derives every mapped Page's token from it through `/me/accounts`.
 */
export class BusinessService {
  constructor(
    private readonly db: Db,
    private readonly graph: GraphClient,
    private readonly cipher: () => TokenCipher,
    private readonly app: { id: string; secret: string } | undefined,
    private readonly log: Logger,
  ) {}

  private requireApp(): { id: string; secret: string } {
    if (!this.app) {
      throw new ConflictError('FB_APP_ID and FB_APP_SECRET are not configured: the service cannot check a token or derive Page tokens');
    }
    return this.app;
  }

  /** Stores a system-user token after debug_token confirms its type and scopes; 400 naming what is missing. */
  async connect(p: Principal, systemUserToken: string): Promise<ConnectionView> {
    requireAdminOfRoot(p, 'connect the Business Manager');
    const app = this.requireApp();
    const data = await this.inspect(systemUserToken, app);
    const problems: string[] = [];
    if (data['is_valid'] !== true) problems.push('debug_token reports the token is not valid');
    if (data['type'] !== 'SYSTEM_USER') problems.push(`it is a ${String(data['type'] ?? 'unknown')} token, not a SYSTEM_USER token`);
    const scopes = Array.isArray(data['scopes']) ? (data['scopes'] as unknown[]).map(String) : [];
    const missing = REQUIRED_SCOPES.filter((s) => !scopes.includes(s));
    if (missing.length) problems.push(`scopes missing: ${missing.join(', ')}`);
    if (problems.length) {
      throw new ValidationError(`systemUserToken: ${problems.join('; ')}`, { field: 'systemUserToken', missingScopes: missing });
    }
    const now = new Date().toISOString();
    const expires = Number(data['expires_at'] ?? 0);
    const row = {
      id: CONNECTION_ID,
      token_ciphertext: this.cipher().encrypt(systemUserToken),
      token_type: 'SYSTEM_USER',
      subject_id: data['user_id'] !== undefined ? String(data['user_id']) : null,
      scopes: JSON.stringify(scopes),
      expires_at: expires > 0 ? new Date(expires * 1000).toISOString() : null,
      status: 'valid',
      status_reason: null,
      checked_at: now,
      updated_by: p.keyId,
      created_at: now,
      updated_at: now,
    };
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('business_connection')
        .values({ ...row, last_sync_at: null, last_sync: null })
        .onConflict((oc) =>
          oc.column('id').doUpdateSet({
            token_ciphertext: row.token_ciphertext,
            token_type: row.token_type,
            subject_id: row.subject_id,
            scopes: row.scopes,
            expires_at: row.expires_at,
            status: row.status,
            status_reason: null,
            checked_at: now,
            updated_by: p.keyId,
            updated_at: now,
          }),
        )
        .execute();
      await appendAudit(trx, {
        actor: p,
        action: 'business.connect',
        subject: { type: 'business', id: CONNECTION_ID, path: `/${ROOT_CODE}/` },
        details: { systemUserId: row.subject_id, scopes, expiresAt: row.expires_at },
      });
    });
    return this.status(p);
  }

  async status(p: Principal): Promise<ConnectionView> {
    requireAdminOfRoot(p, 'read the Business Manager connection');
    const r = await this.db.selectFrom('business_connection').selectAll().where('id', '=', CONNECTION_ID).executeTakeFirst();
    if (!r) {
      return {
        connected: false,
        status: null,
        statusReason: null,
        tokenType: null,
        systemUserId: null,
        scopes: [],
        expiresAt: null,
        checkedAt: null,
        lastSyncAt: null,
        lastSync: null,
      };
    }
    return {
      connected: true,
      status: r.status as 'valid' | 'invalid',
      statusReason: r.status_reason,
      tokenType: r.token_type,
      systemUserId: r.subject_id,
      scopes: JSON.parse(r.scopes) as string[],
      expiresAt: r.expires_at,
      checkedAt: r.checked_at,
      lastSyncAt: r.last_sync_at,
      lastSync: r.last_sync ? (JSON.parse(r.last_sync) as SyncResult['pages']) : null,
    };
  }

  /** True when a system-user token is stored (the scheduled sync does nothing otherwise). */
  async connected(): Promise<boolean> {
    return (await this.db.selectFrom('business_connection').select('id').where('id', '=', CONNECTION_ID).executeTakeFirst()) !== undefined;
  }

  /**
   * Pages through `/me/accounts` with the system-user token and, for every Page mapped to an active
   * unit, stores its Page token (encrypted), its tasks and its token status. Pages the portfolio has
   * but no unit maps are listed (with name-based suggestions when asked), never linked.
   */
  async sync(actor: AuditActor & { role?: Principal['role']; unitCode?: string }, opts: { suggest?: boolean } = {}): Promise<SyncResult> {
    if ('role' in actor && actor.role !== undefined) requireAdminOfRoot(actor as Principal, 'sync the Pages');
    const conn = await this.db.selectFrom('business_connection').selectAll().where('id', '=', CONNECTION_ID).executeTakeFirst();
    if (!conn) throw new ConflictError('no Business Manager connection: PUT /v1/business/connection {systemUserToken} first');
    const cipher = this.cipher();
    const token = cipher.decrypt(conn.token_ciphertext);
    const accounts = new Map<string, { name: string | null; token: string | null; tasks: string[] }>();
    let after: string | undefined;
    let requests = 0;
    for (;;) {
      let page;
      try {
        page = await this.graph.listAccounts(token, { limit: 100, ...(after ? { after } : {}) });
      } catch (err) {
        throw await this.listingFailed(err);
      }
      requests++;
      for (const a of page.data.data ?? []) {
        accounts.set(String(a.id), { name: a.name ?? null, token: a.access_token ?? null, tasks: a.tasks ?? [] });
      }
      after = page.data.paging?.next ? page.data.paging.cursors?.after : undefined;
      if (!after) break;
    }

    const mapped = await this.db
      .selectFrom('pages')
      .innerJoin('units', 'units.id', 'pages.unit_id')
      .select(['pages.page_id', 'pages.token_ciphertext'])
      .where('pages.retired_at', 'is', null)
      .where('units.retired_at', 'is', null)
      .execute();
    const now = new Date().toISOString();
    const updates: Array<{ pageId: string; ciphertext: string | null; tasks: string[]; ok: boolean }> = [];
    let tokensUpdated = 0;
    let missingCreateContent = 0;
    let mappedNotSeen = 0;
    const mappedIds = new Set<string>();
    for (const m of mapped) {
      mappedIds.add(m.page_id);
      const a = accounts.get(m.page_id);
      if (!a) {
        mappedNotSeen++;
        continue;
      }
      const ok = a.tasks.includes(PUBLISH_TASK);
      if (!ok) missingCreateContent++;
      let ciphertext = m.token_ciphertext;
      if (a.token && (!m.token_ciphertext || cipher.decrypt(m.token_ciphertext) !== a.token)) {
        ciphertext = cipher.encrypt(a.token);
        tokensUpdated++;
      }
      updates.push({ pageId: m.page_id, ciphertext, tasks: a.tasks, ok });
    }
    const unmapped: SyncResult['pages']['unmapped'] = [];
    for (const [pageId, a] of accounts) if (!mappedIds.has(pageId)) unmapped.push({ pageId, name: a.name });
    unmapped.sort((x, y) => (x.pageId < y.pageId ? -1 : 1));
    if (opts.suggest && unmapped.length) {
      const units = await this.db
        .selectFrom('units as u')
        .leftJoin('units as parent', 'parent.id', 'u.parent_id')
        .select(['u.code', 'u.name', 'parent.name as parent_name'])
        .where('u.retired_at', 'is', null)
        .execute();
      const suggest = suggestUnits(units.map((u) => ({ code: u.code, name: u.name, parentName: u.parent_name })));
      for (const u of unmapped) u.suggestions = u.name ? suggest(u.name) : [];
    }

    const result: SyncResult = {
      pages: { seen: accounts.size, matched: updates.length, tokensUpdated, missingCreateContent, mappedNotSeen, unmapped },
      units: { withoutPage: 0 },
      requests,
    };
    await this.db.transaction().execute(async (trx) => {
      for (const u of updates) {
        await trx
          .updateTable('pages')
          .set({
            token_ciphertext: u.ciphertext,
            tasks: JSON.stringify(u.tasks),
            token_status: !u.ciphertext ? 'no_token' : u.ok ? 'valid' : 'needs_reauth',
            token_status_reason: u.ok ? null : 'missing_task_create_content: the system user lacks the CREATE_CONTENT task on this Page',
            token_checked_at: now,
            updated_at: now,
          })
          .where('page_id', '=', u.pageId)
          .execute();
      }
      const stored = { ...result.pages, unmapped: result.pages.unmapped.slice(0, CHUNK).map(({ pageId, name }) => ({ pageId, name })) };
      await trx
        .updateTable('business_connection')
        .set({
          last_sync_at: now,
          last_sync: JSON.stringify(stored),
          status: 'valid',
          status_reason: null,
          checked_at: now,
          updated_at: now,
        })
        .where('id', '=', CONNECTION_ID)
        .execute();
      await appendAudit(trx, {
        actor,
        action: 'pages.sync',
        subject: { type: 'pages', id: 'business', path: `/${ROOT_CODE}/` },
        details: {
          seen: result.pages.seen,
          matched: result.pages.matched,
          tokensUpdated,
          missingCreateContent,
          unmapped: unmapped.length,
          requests,
        },
      });
    });
    result.units.withoutPage = await this.unitsWithoutUsablePage();
    this.log.info({ ...result.pages, unmapped: unmapped.length, requests }, 'Page sync finished');
    return result;
  }

  private async unitsWithoutUsablePage(): Promise<number> {
    const r = await this.db
      .selectFrom('units as u')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('u.retired_at', 'is', null)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('pages as g')
              .select('g.page_id')
              .whereRef('g.unit_id', '=', 'u.id')
              .where('g.retired_at', 'is', null)
              .where('g.token_ciphertext', 'is not', null),
          ),
        ),
      )
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  private async inspect(token: string, app: { id: string; secret: string }): Promise<Record<string, unknown>> {
    try {
      return (await this.graph.debugToken(token, `${app.id}|${app.secret}`)).data.data ?? {};
    } catch (err) {
      if (err instanceof GraphApiError) {
        throw new ValidationError(`systemUserToken: debug_token rejected it (code ${err.code})`, { field: 'systemUserToken' });
      }
      throw new UnavailableError('Graph API unreachable: could not check the token; retry later');
    }
  }

  /** A rejected system-user token marks the connection invalid (409); an unreachable Graph API is a 503. */
  private async listingFailed(err: unknown): Promise<Error> {
    if (!(err instanceof GraphApiError)) return new UnavailableError('Graph API unreachable during the Page sync; retry later');
    const reason = `graph_error_${err.code}${err.subcode ? `_${err.subcode}` : ''}: ${err.message}`;
    const now = new Date().toISOString();
    await this.db
      .updateTable('business_connection')
      .set({ status: 'invalid', status_reason: reason, checked_at: now, updated_at: now })
      .where('id', '=', CONNECTION_ID)
      .execute();
    this.log.warn({ code: err.code, subcode: err.subcode }, 'Page sync: /me/accounts refused the system-user token');
    return new ConflictError(`the system-user token was refused (${reason}); generate a new one and PUT /v1/business/connection`);
  }
}

function requireAdminOfRoot(p: Principal, what: string): void {
  requireRole(p, ['admin'], what);
  if (p.unitCode !== ROOT_CODE) throw new ForbiddenError(`only an admin of root may ${what}`);
}
