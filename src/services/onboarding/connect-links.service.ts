import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../../../config';
import type { Db } from '../../db/create-db';
import { ValidationError } from '../../errors/app-error';
import type { GraphClient } from '../../graph/graph-client';
import { GraphApiError } from '../../graph/graph-errors';
import type { TokenCipher } from '../../security/token-cipher';
import type { Principal } from '../auth/keys.service';
import { appendAudit } from '../governance/audit.service';
import { MAX_LABEL_LENGTH, type PagesService } from '../tree/pages.service';
import { PUBLISH_TASK } from './business.service';
import { hashLinkToken, newLinkToken, publicBase } from './connect-link-issuer';

/** Classic Facebook Login permissions when no Login for Business configuration is set (graph-onboarding.md §1.a.1). */
export const CONNECT_SCOPES = 'pages_show_list,pages_manage_posts,pages_read_engagement';
/** How long the long-lived user token waits server-side for the admin to pick a Page. */
export const PICK_WINDOW_MS = 60 * 60_000;

/** Every way the flow can stop. None of them changes anything. */
export const FAILURE_KINDS = [
  'not_configured',
  'unknown_link',
  'link_used',
  'link_expired',
  'unit_retired',
  'state_mismatch',
  'denied',
  'code_expired',
  'redirect_mismatch',
  'code_used',
  'code_invalid',
  'token_rejected',
  'no_pages',
  'session_expired',
  'page_not_shared',
  'page_taken',
  'graph_unavailable',
] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];
export interface Failure {
  ok: false;
  kind: FailureKind;
  /** The unit, when the failure happened on a known link. */
  unit?: UnitView;
}

export interface UnitView {
  code: string;
  name: string;
}
export interface CandidatePage {
  id: string;
  name: string;
  tasks: string[];
  /** False: the admin lacks CREATE_CONTENT on it (it would be linked as needs_reauth). */
  canPublish: boolean;
}

export type OpenResult = { ok: true; linkId: string; unit: UnitView; expiresAt: string } | Failure;
export type DialogResult = { ok: true; unit: UnitView; url: string; expiresAt: string } | Failure;
/** `state` goes back into the pick form (the same binding as the dialog); it is not a token and opens nothing alone. */
export type CallbackResult = { ok: true; linkId: string; state: string; unit: UnitView; pages: CandidatePage[] } | Failure;
export type PickResult =
  | {
      ok: true;
      unit: UnitView;
      page: { id: string; name: string };
      tokenStatus: 'valid' | 'needs_reauth';
    }
  | Failure;

type LinkRow = {
  id: string;
  unit_id: number;
  unit_code: string;
  expires_at: string;
  used_at: string | null;
  state_hash: string | null;
  user_token_ciphertext: string | null;
  session_expires_at: string | null;
};

const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;
const fail = (kind: FailureKind, unit?: UnitView): Failure => (unit ? { ok: false, kind, unit } : { ok: false, kind });

/**
 * Redeeming self-service connect links (issue 10 item 3; ConnectLinkIssuer makes them): an admin hands a unit a one-time link; the unit's Page
 * admin logs in with Facebook (OAuth code flow), and the Page they pick is linked to the unit. The link
 * token and the OAuth state are stored only as SHA-256; the long-lived user token stays in the row,
 * encrypted, between the callback and the pick only. No token or code is ever logged or audited.
 */
export class ConnectLinksService {
  constructor(
    private readonly db: Db,
    private readonly graph: GraphClient,
    private readonly cipher: () => TokenCipher,
    private readonly pages: PagesService,
    private readonly config: Pick<Config, 'facebookApp' | 'onboarding' | 'graph'>,
    private readonly log: Logger,
  ) {}

  get redirectUri(): string {
    return `${publicBase(this.config)}/connect/callback`;
  }

  // ------------------------------------------------------------------------------------------
  // The flow (public pages)

  /** The unit a link connects, or why it cannot be used. */
  async open(token: string): Promise<OpenResult> {
    if (!this.config.facebookApp || !this.config.onboarding.publicBaseUrl) return fail('not_configured');
    if (!TOKEN_RE.test(token)) return fail('unknown_link');
    const link = await this.linkBy('token_hash', hashLinkToken(token));
    if (!link) return fail('unknown_link');
    const checked = await this.usable(link);
    if (!checked.ok) return checked;
    return { ok: true, linkId: link.id, unit: checked.unit, expiresAt: link.expires_at };
  }

  /**
   * The Facebook Login dialog URL for a link, with a new `state` bound to it (only its hash is kept;
   * opening the link again replaces it, so an older dialog's answer no longer matches).
   */
  async dialogUrl(token: string): Promise<DialogResult> {
    const opened = await this.open(token);
    if (!opened.ok) return opened;
    const state = newLinkToken();
    await this.db
      .updateTable('connect_links')
      .set({ state_hash: hashLinkToken(state) })
      .where('id', '=', opened.linkId)
      .where('used_at', 'is', null)
      .execute();
    const { onboarding, graph, facebookApp } = this.config;
    const url = new URL(`${onboarding.dialogUrl}/${graph.version}/dialog/oauth`);
    url.searchParams.set('client_id', facebookApp!.id);
    url.searchParams.set('redirect_uri', this.redirectUri);
    url.searchParams.set('state', state);
    url.searchParams.set('response_type', 'code');
    if (onboarding.loginConfigId) url.searchParams.set('config_id', onboarding.loginConfigId);
    else url.searchParams.set('scope', CONNECT_SCOPES);
    return { ok: true, unit: opened.unit, url: url.toString(), expiresAt: opened.expiresAt };
  }

  /**
   * The dialog's redirect: checks the state, exchanges the code for a user token and that for a
   * long-lived one, and lists the Pages the admin shared. The long-lived token is kept (encrypted) for the pick.
   */
  async callback(q: { code?: string | undefined; state?: string | undefined; error?: string | undefined }): Promise<CallbackResult> {
    const app = this.config.facebookApp;
    if (!app || !this.config.onboarding.publicBaseUrl) return fail('not_configured');
    if (!q.state || !TOKEN_RE.test(q.state)) return fail('state_mismatch');
    const link = await this.linkBy('state_hash', hashLinkToken(q.state));
    if (!link) return fail('state_mismatch');
    const checked = await this.usable(link);
    if (!checked.ok) return checked;
    const unit = checked.unit;
    if (q.error) return fail('denied', unit);
    if (!q.code) return fail('code_invalid', unit);

    let longLived: string;
    try {
      const short = await this.graph.exchangeToken(app, { code: q.code, redirectUri: this.redirectUri });
      const long = await this.graph.exchangeToken(app, { fbExchangeToken: short.data.access_token });
      longLived = long.data.access_token;
    } catch (err) {
      const kind = exchangeFailure(err);
      const graph = err instanceof GraphApiError ? { code: err.code, subcode: err.subcode } : {};
      this.log.warn({ link: link.id, unit: unit.code, kind, ...graph }, 'connect link: code exchange failed');
      return fail(kind, unit);
    }
    let accounts: Array<CandidatePage & { token: string | null }>;
    try {
      accounts = await this.accounts(longLived);
    } catch (err) {
      return fail(err instanceof GraphApiError ? 'token_rejected' : 'graph_unavailable', unit);
    }
    if (accounts.length === 0) return fail('no_pages', unit);
    const updated = await this.db
      .updateTable('connect_links')
      .set({
        user_token_ciphertext: this.cipher().encrypt(longLived),
        session_expires_at: new Date(Date.now() + PICK_WINDOW_MS).toISOString(),
      })
      .where('id', '=', link.id)
      .where('state_hash', '=', link.state_hash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) return fail('state_mismatch', unit);
    this.log.info({ link: link.id, unit: unit.code, pages: accounts.length }, 'connect link: admin logged in');
    return { ok: true, linkId: link.id, state: q.state, unit, pages: accounts.map(({ token: _t, ...rest }) => rest) };
  }

  /**
   * Links the chosen Page to the link's unit, stores its tasks and token status, consumes the link
   * and wipes the user token, in one transaction with the audit entry `pages.connect`.
   * `link` is the link id (as the pick form carries it) or the link token.
   */
  async pick(q: { link: string; state?: string | undefined; pageId?: string | undefined }): Promise<PickResult> {
    if (!this.config.facebookApp || !this.config.onboarding.publicBaseUrl) return fail('not_configured');
    const row = /^cl_[A-Za-z0-9_-]{16}$/.test(q.link)
      ? await this.linkBy('id', q.link)
      : TOKEN_RE.test(q.link)
        ? await this.linkBy('token_hash', hashLinkToken(q.link))
        : undefined;
    if (!row) return fail('unknown_link');
    const checked = await this.usable(row);
    if (!checked.ok) return checked;
    const unit = checked.unit;
    if (!q.state || !row.state_hash || !TOKEN_RE.test(q.state) || !sameHash(hashLinkToken(q.state), row.state_hash)) {
      return fail('state_mismatch', unit);
    }
    if (!row.user_token_ciphertext || !row.session_expires_at || row.session_expires_at <= new Date().toISOString()) {
      return fail('session_expired', unit);
    }
    let accounts: Array<CandidatePage & { token: string | null }>;
    try {
      accounts = await this.accounts(this.cipher().decrypt(row.user_token_ciphertext));
    } catch (err) {
      return fail(err instanceof GraphApiError ? 'session_expired' : 'graph_unavailable', unit);
    }
    const chosen = accounts.find((a) => a.id === q.pageId);
    if (!chosen || !chosen.token) return fail('page_not_shared', unit);
    const label = [...chosen.name]
      .filter((ch) => ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f)
      .join('')
      .slice(0, MAX_LABEL_LENGTH);
    const tokenStatus = chosen.canPublish ? ('valid' as const) : ('needs_reauth' as const);
    const now = new Date().toISOString();
    const principal: Principal = {
      keyId: `connect-link:${row.id}`,
      name: `connect link ${row.id}`,
      role: 'admin',
      unitId: row.unit_id,
      unitCode: unit.code,
      unitPath: checked.path,
    };
    try {
      await this.db.transaction().execute(async (trx) => {
        const consumed = await trx
          .updateTable('connect_links')
          .set({ used_at: now, page_id: chosen.id, state_hash: null, user_token_ciphertext: null, session_expires_at: null })
          .where('id', '=', row.id)
          .where('used_at', 'is', null)
          .where('state_hash', '=', row.state_hash)
          .executeTakeFirst();
        if (Number(consumed.numUpdatedRows) === 0) throw new LinkRaced();
        await this.pages.linkIn(trx, principal, { unitCode: unit.code, pageId: chosen.id, accessToken: chosen.token!, label });
        await trx
          .updateTable('pages')
          .set({
            tasks: JSON.stringify(chosen.tasks),
            token_status: tokenStatus,
            token_status_reason: chosen.canPublish ? null : 'missing_task_create_content: the Page admin lacks the CREATE_CONTENT task',
            token_checked_at: now,
            updated_at: now,
          })
          .where('page_id', '=', chosen.id)
          .execute();
        await appendAudit(trx, {
          actor: principal,
          action: 'pages.connect',
          subject: { type: 'page', id: unit.code, path: checked.path },
          details: { link: row.id, unit: unit.code, pageId: chosen.id, tokenStatus, tasks: chosen.tasks },
        });
      });
    } catch (err) {
      if (err instanceof LinkRaced) return fail('link_used', unit);
      if (err instanceof ValidationError) return fail('page_taken', unit);
      throw err;
    }
    this.log.info({ link: row.id, unit: unit.code, pageId: chosen.id, tokenStatus }, 'connect link: Page linked');
    return { ok: true, unit, page: { id: chosen.id, name: chosen.name }, tokenStatus };
  }

  // ------------------------------------------------------------------------------------------

  private linkBy(column: 'id' | 'token_hash' | 'state_hash', value: string): Promise<LinkRow | undefined> {
    return this.db
      .selectFrom('connect_links')
      .select(['id', 'unit_id', 'unit_code', 'expires_at', 'used_at', 'state_hash', 'user_token_ciphertext', 'session_expires_at'])
      .where(column, '=', value)
      .executeTakeFirst();
  }

  private async usable(link: LinkRow): Promise<{ ok: true; unit: UnitView; path: string } | Failure> {
    const u = await this.db
      .selectFrom('units')
      .select(['code', 'name', 'path', 'retired_at'])
      .where('id', '=', link.unit_id)
      .executeTakeFirst();
    const unit = { code: u?.code ?? link.unit_code, name: u?.name ?? link.unit_code };
    if (link.used_at) return fail('link_used', unit);
    if (link.expires_at <= new Date().toISOString()) return fail('link_expired', unit);
    if (!u || u.retired_at) return fail('unit_retired', unit);
    return { ok: true, unit, path: u.path };
  }

  /** Every Page the user token may act on (all pages of `/me/accounts`). */
  private async accounts(userToken: string): Promise<Array<CandidatePage & { token: string | null }>> {
    const out: Array<CandidatePage & { token: string | null }> = [];
    let after: string | undefined;
    for (let i = 0; i < 1000; i++) {
      const page = await this.graph.listAccounts(userToken, { limit: 100, ...(after ? { after } : {}) });
      for (const a of page.data.data ?? []) {
        const tasks = a.tasks ?? [];
        out.push({
          id: String(a.id),
          name: a.name ?? String(a.id),
          tasks,
          canPublish: tasks.includes(PUBLISH_TASK),
          token: a.access_token ?? null,
        });
      }
      after = page.data.paging?.next ? page.data.paging.cursors?.after : undefined;
      if (!after) break;
    }
    return out;
  }
}

class LinkRaced extends Error {}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

/** The code exchange's errors (graph-onboarding.md §1.a.2). */
function exchangeFailure(err: unknown): FailureKind {
  if (!(err instanceof GraphApiError)) return 'graph_unavailable';
  if (err.code === 100 && err.subcode === 36007) return 'code_expired';
  if (err.code === 100 && err.subcode === 36008) return 'redirect_mismatch';
  if (err.code === 100 && err.subcode === 36009) return 'code_used';
  if (err.code === 100) return 'code_invalid';
  // 101 invalid application id, 1 wrong client secret: FB_APP_ID / FB_APP_SECRET do not match the app.
  if (err.code === 101 || err.code === 1) return 'not_configured';
  return 'token_rejected';
}
