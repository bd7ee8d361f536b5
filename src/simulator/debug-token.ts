/**
 * GET /debug_token (spec §3.9). The caller's token must be an app token
 * (`{appId}|{secret}`); the inspected token's state is reported, never thrown.
 */
import { str, type Params } from './body';
import { invalidParam, missingTokenError, tokenErrorMessage, unparsableTokenError } from './errors';
import { isExpired, type IdentityStore, type PrincipalToken } from './identity';
import type { SimStore } from './store';
import type { ResolvedOptions } from './types';

const SCOPES = ['pages_show_list', 'pages_read_engagement', 'pages_manage_posts'];
const APPLICATION = 'Lan Toa Graph Simulator';

/** Scopes that are granted per asset (Page) and so carry `target_ids` in granular_scopes. */
function perAsset(scope: string): boolean {
  return scope.startsWith('pages_') || scope === 'publish_video' || scope === 'read_insights';
}

/**
 * USER and SYSTEM_USER tokens (§1.a–1.b, §1.d of graph-onboarding.md): `expires_at` 0 for a
 * never-expiring system-user token [DOC/CODE]; `issued_at` only for long-lived tokens (graph-api.md §3.9 [DOC]);
 * granular target_ids empty when the person shared "all Pages" (§1.a.1 [CODE]).
 */
function principalData(identity: IdentityStore, opts: ResolvedOptions, t: PrincipalToken, now: number): Record<string, unknown> {
  const issuedAt = Math.floor(t.issuedAt / 1000);
  const expired = isExpired(t, now);
  const targets = t.kind === 'USER' && t.share === 'all' ? [] : identity.grantsOf(t).map((g) => g.id);
  const data: Record<string, unknown> = {
    app_id: opts.appId,
    type: t.kind,
    application: APPLICATION,
    data_access_expires_at: issuedAt + 90 * 86_400,
    expires_at: Math.floor(t.expiresAt / 1000),
    is_valid: !expired,
    ...(t.long ? { issued_at: issuedAt } : {}),
    scopes: [...t.scopes],
    granular_scopes: t.scopes.map((scope) => (perAsset(scope) ? { scope, target_ids: targets } : { scope })),
    user_id: t.subjectId,
  };
  if (expired) data['error'] = { code: 190, message: tokenErrorMessage(463, opts.appId, t.expiresAt), subcode: 463 };
  return data;
}

export function debugToken(
  store: SimStore,
  identity: IdentityStore,
  opts: ResolvedOptions,
  params: Params,
  token: string | undefined,
  isAppToken: (t: string) => boolean,
  now: number,
): unknown {
  if (token === undefined) throw missingTokenError();
  if (!isAppToken(token)) {
    if (store.tokens.has(token) || identity.tokens.has(token)) {
      throw invalidParam('You must provide an app access token, or a user access token that is an owner or developer of the app');
    }
    throw unparsableTokenError();
  }
  const input = str(params, 'input_token');
  if (input === undefined || input === '') throw invalidParam('The parameter input_token is required');
  if (isAppToken(input)) {
    return { data: { app_id: opts.appId, type: 'APP', application: APPLICATION, is_valid: true, scopes: [] } };
  }
  const principal = identity.tokens.get(input);
  if (principal) return { data: principalData(identity, opts, principal, now) };
  const rec = store.tokens.get(input);
  if (!rec) {
    return {
      data: {
        error: { code: 190, message: 'Invalid OAuth access token - Cannot parse access token' },
        is_valid: false,
        scopes: [],
      },
    };
  }
  const issuedAt = Math.floor(rec.issuedAt / 1000);
  const data: Record<string, unknown> = {
    app_id: opts.appId,
    type: 'PAGE',
    application: APPLICATION,
    data_access_expires_at: issuedAt + 90 * 86_400,
    expires_at: rec.invalidSubcode === 463 ? Math.floor(rec.invalidatedAt / 1000) : 0,
    is_valid: rec.invalidSubcode === null,
    issued_at: issuedAt,
    profile_id: rec.pageId,
    scopes: SCOPES,
    granular_scopes: SCOPES.map((scope) => (scope === 'pages_show_list' ? { scope } : { scope, target_ids: [rec.pageId] })),
    user_id: '10215241773831025',
  };
  if (rec.invalidSubcode !== null) {
    data['error'] = {
      code: 190,
      message: tokenErrorMessage(rec.invalidSubcode, opts.appId, rec.invalidatedAt),
      subcode: rec.invalidSubcode,
    };
  }
  return { data };
}
