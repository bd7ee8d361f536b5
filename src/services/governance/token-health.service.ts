import type { Logger } from 'pino';
import type { Db } from '../../db/create-db';
import type { GraphClient } from '../../graph/graph-client';
import { GraphApiError } from '../../graph/graph-errors';
import type { TokenCipher } from '../../security/token-cipher';
import type { Target, TargetService } from '../tree/target.service';

export type TokenHealth = 'valid' | 'expiring' | 'needs_reauth';
export interface TokenVerdict {
  status: TokenHealth;
  reason: string | null;
}

/** Reasons by subcode of an invalid token (the same words as the delivery failure table). */
const INVALID_REASONS: Record<number, string> = {
  458: 'app_removed',
  459: 'user_checkpointed',
  460: 'password_changed',
  463: 'token_expired',
  464: 'user_unconfirmed',
  467: 'user_logged_out',
  492: 'role_removed',
};
const PUBLISH_SCOPE = 'pages_manage_posts';

/** Reads one debug_token answer (`data`) for the Page `pageId`. */
export function judgeToken(data: Record<string, unknown>, pageId: string, now: number, expiringWithinMs: number): TokenVerdict {
  if (data['is_valid'] !== true) {
    const err = (data['error'] ?? {}) as { subcode?: number; message?: string };
    const reason = INVALID_REASONS[err.subcode ?? -1] ?? 'token_invalid';
    return { status: 'needs_reauth', reason: `${reason}: ${err.message ?? 'debug_token reports the token is not valid'}` };
  }
  if (data['type'] !== undefined && data['type'] !== 'PAGE') {
    return { status: 'needs_reauth', reason: `not_page_token: debug_token reports a ${String(data['type'])} token` };
  }
  if (data['profile_id'] !== undefined && String(data['profile_id']) !== pageId) {
    return { status: 'needs_reauth', reason: 'token_for_other_page: the token belongs to another Page' };
  }
  const scopes = Array.isArray(data['scopes']) ? (data['scopes'] as unknown[]) : [];
  if (!scopes.includes(PUBLISH_SCOPE)) return { status: 'needs_reauth', reason: `permission_missing: ${PUBLISH_SCOPE} is not granted` };
  for (const [field, what] of [
    ['expires_at', 'the token expires'],
    ['data_access_expires_at', 'data access expires'],
  ] as const) {
    const at = Number(data[field] ?? 0) * 1000;
    if (at > 0 && at - now < expiringWithinMs) {
      return { status: 'expiring', reason: `${what} at ${new Date(at).toISOString()}; reconnect the Page before then` };
    }
  }
  return { status: 'valid', reason: null };
}

export interface SweepTotals {
  checked: number;
  valid: number;
  expiring: number;
  needs_reauth: number;
  /** Not judged this time (network trouble, undecryptable): status left as it was. */
  errors: number;
}

type PageToCheck = { unit_code: string; page_id: string; token_ciphertext: string };

/**
 * Token health: asks Graph's debug_token about each Page token (with the app token
 * `FB_APP_ID|FB_APP_SECRET`) and records `valid`, `expiring` or `needs_reauth` with the reason, so
 * operators can fix broken Pages before a campaign. Disabled without app credentials.
 */
export class TokenHealthService {
  constructor(
    private readonly db: Db,
    private readonly graph: GraphClient,
    private readonly cipher: () => TokenCipher,
    private readonly targets: TargetService,
    private readonly app: { id: string; secret: string } | undefined,
    private readonly settings: { expiringWithinMs: number; maxAgeMs: number },
    private readonly log: Logger,
    private readonly concurrency = 8,
  ) {}

  get enabled(): boolean {
    return this.app !== undefined;
  }

  /** Checks these Pages; a Page whose token was replaced meanwhile keeps its new (unknown) status. */
  async checkPages(pages: PageToCheck[], deadline = Number.POSITIVE_INFINITY): Promise<SweepTotals> {
    const totals: SweepTotals = { checked: 0, valid: 0, expiring: 0, needs_reauth: 0, errors: 0 };
    if (!this.app) return totals;
    const appToken = `${this.app.id}|${this.app.secret}`;
    let next = 0;
    const lane = async () => {
      while (next < pages.length && Date.now() < deadline) {
        const page = pages[next++]!;
        let verdict: TokenVerdict;
        try {
          const res = await this.graph.debugToken(this.cipher().decrypt(page.token_ciphertext), appToken);
          verdict = judgeToken(res.data.data ?? {}, page.page_id, Date.now(), this.settings.expiringWithinMs);
        } catch (err) {
          // An API error here is about our app token or the request, never about the Page: stop, say why.
          if (err instanceof GraphApiError) {
            next = pages.length; // stop the other lanes too
            throw new Error(`debug_token rejected the request (code ${err.code}): check FB_APP_ID and FB_APP_SECRET`, { cause: err });
          }
          totals.errors++;
          this.log.warn({ unit: page.unit_code, err: (err as Error).message }, 'token check failed; status left unchanged');
          continue;
        }
        const now = new Date().toISOString();
        await this.db
          .updateTable('pages')
          .set({ token_status: verdict.status, token_status_reason: verdict.reason, token_checked_at: now, updated_at: now })
          .where('page_id', '=', page.page_id)
          .where('token_ciphertext', '=', page.token_ciphertext)
          .execute();
        totals.checked++;
        totals[verdict.status]++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, pages.length) }, lane));
    return totals;
  }

  /**
   * Every linked Page (or, with `onlyUnchecked`, those never checked), in Page id order, resumable
   * after `after` (the last Page id done). Retired Pages are not swept: no new post reaches them.
   */
  async sweep(checkpoint: { after?: string; save?(after: string): Promise<void>; onlyUnchecked?: boolean } = {}): Promise<SweepTotals> {
    const totals: SweepTotals = { checked: 0, valid: 0, expiring: 0, needs_reauth: 0, errors: 0 };
    if (!this.app) return totals;
    let after = checkpoint.after ?? '';
    for (;;) {
      let q = this.db
        .selectFrom('pages')
        .select(['unit_code', 'page_id', 'token_ciphertext'])
        .where('page_id', '>', after)
        .where('retired_at', 'is', null)
        .where('token_ciphertext', 'is not', null)
        .$narrowType<{ token_ciphertext: string }>();
      if (checkpoint.onlyUnchecked) q = q.where('token_checked_at', 'is', null);
      const rows = await q.orderBy('page_id').limit(200).execute();
      if (!rows.length) break;
      const t = await this.checkPages(rows);
      for (const k of Object.keys(totals) as Array<keyof SweepTotals>) totals[k] += t[k];
      after = rows[rows.length - 1]!.page_id;
      await checkpoint.save?.(after);
    }
    this.log.info({ ...totals, onlyUnchecked: checkpoint.onlyUnchecked === true }, 'token sweep finished');
    return totals;
  }

  /**
   * Before a fan-out: re-checks the target's Pages not checked within the sweep interval, within a
   * time budget (the fan-out must not wait long; the scheduled sweep covers the rest). Pages found
   * broken are then failed without a Graph call by the delivery workers.
   */
  async checkBeforeFanout(postId: string, budgetMs = 30_000): Promise<SweepTotals | undefined> {
    if (!this.app) return undefined;
    const post = await this.db.selectFrom('posts').select(['status', 'target']).where('id', '=', postId).executeTakeFirst();
    if (!post || (post.status !== 'approved' && post.status !== 'scheduled')) return undefined;
    const pageIds = (await this.targets.resolve(JSON.parse(post.target) as Target)).flatMap((u) => (u.pageId ? [u.pageId] : []));
    const staleBefore = new Date(Date.now() - this.settings.maxAgeMs).toISOString();
    const stale: PageToCheck[] = [];
    for (let i = 0; i < pageIds.length; i += 500) {
      stale.push(
        ...(await this.db
          .selectFrom('pages')
          .select(['unit_code', 'page_id', 'token_ciphertext'])
          .where('page_id', 'in', pageIds.slice(i, i + 500))
          .where('token_ciphertext', 'is not', null)
          .$narrowType<{ token_ciphertext: string }>()
          .where((eb) => eb.or([eb('token_checked_at', 'is', null), eb('token_checked_at', '<', staleBefore)]))
          .execute()),
      );
    }
    if (!stale.length) return undefined;
    const totals = await this.checkPages(stale, Date.now() + budgetMs);
    this.log.info({ postId, stale: stale.length, ...totals }, 'token check before fan-out');
    return totals;
  }
}
