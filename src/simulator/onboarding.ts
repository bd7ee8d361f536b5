/**
 * Onboarding endpoints (docs graph-onboarding.md §1.a–1.d): the Login dialog,
 * /oauth/access_token (code and fb_exchange_token), and what user and
 * system-user tokens can read: /me, /me/permissions, /me/accounts, /{page-id}.
 * Source marks ([DOC], [CODE], [INF]) are the document's.
 */
import { randomBytes } from 'node:crypto';
import { parseFields, str, type Params } from './body';
import { invalidParam, permissionError, SimGraphError, tokenErrorMessage, unparsableTokenError, unsupportedRequest } from './errors';
import { isExpired, USER_TOKEN_TTL_S, type IdentityStore, type PrincipalToken } from './identity';
import type { SimStore, StoredPage } from './store';
import type { PageGrant, ResolvedOptions } from './types';
import { decodeCursor, encodeCursor, nonexistingField, pageView } from './views';

export interface OnboardingContext {
  identity: IdentityStore;
  store: SimStore;
  opts: ResolvedOptions;
  params: Params;
  now: number;
  version: string;
  baseUrl: string;
}

// ---------------------------------------------------------------------------------------------
// Login dialog

export type DialogResult = { status: 302; location: string } | { status: 400; html: string };

/** Permissions a `config_id` not listed in `loginConfigs` grants (FLB permission table, §1.a.1 [DOC]). */
export const DEFAULT_CONFIG_SCOPES = ['pages_show_list', 'pages_manage_posts', 'pages_read_engagement', 'business_management'];

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function errorPage(title: string, message: string): DialogResult {
  const html =
    `<!DOCTYPE html><html lang="en"><head><title>Facebook | ${escapeHtml(title)}</title></head>` +
    `<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></body></html>`;
  return { status: 400, html };
}

function splitScopes(raw: string): string[] {
  return [...new Set(raw.split(/[\s,]+/).filter((s) => s.length > 0))];
}

/**
 * GET /{v}/dialog/oauth. No page picker: the person and the Pages shared come from setDialog.
 * Never echoes codes or tokens into the error pages.
 */
export function loginDialog(ctx: OnboardingContext): DialogResult {
  const { params, opts, identity } = ctx;
  const get = (k: string): string | undefined => {
    const v = params[k];
    return typeof v === 'string' && v.length > 0 ? v : undefined;
  };
  // Error page wording is modelled on Meta's dialog pages [INF]; the checks are §1.a.1 [DOC].
  if (get('client_id') !== opts.appId) {
    return errorPage('Invalid App ID', 'The provided app ID does not look like a valid app ID.');
  }
  const redirectUri = get('redirect_uri');
  // "must exactly match a Valid OAuth Redirect URI" [DOC]: no redirect on a mismatch, only this page.
  if (redirectUri === undefined || !opts.redirectUris.includes(redirectUri)) {
    return errorPage(
      'URL Blocked',
      "This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings. Make sure Client and Web OAuth Login are on and add all your app domains as Valid OAuth Redirect URIs.",
    );
  }
  const state = get('state');
  // Meta does not insist on `state` [DOC: CSRF, echoed back]; the simulator does, to catch clients that forget it.
  if (state === undefined) return errorPage('Missing state', 'The simulator requires the state parameter (CSRF protection).');
  const responseType = get('response_type') ?? 'code';
  if (responseType !== 'code') {
    return errorPage('Unsupported response_type', 'The simulator implements the server-side code flow only (response_type=code).');
  }
  const configId = get('config_id');
  const scope = get('scope');
  if (configId === undefined && scope === undefined) {
    return errorPage('Missing permissions', 'Pass scope (Facebook Login) or config_id (Facebook Login for Business).');
  }
  // "config_id has replaced scope (which should not be used)" [CODE]: with both, the configuration wins [INF].
  // override_default_response_type is accepted and ignored: the simulator always answers with a code.
  const scopes = configId !== undefined ? [...(opts.loginConfigs[configId] ?? DEFAULT_CONFIG_SCOPES)] : splitScopes(scope!);
  const b = identity.dialog;
  if (b === undefined) return errorPage('Not signed in', 'No simulated person is signed in: call setDialog (POST /_sim/dialog) first.');

  const target = new URL(redirectUri);
  if ('deny' in b) {
    // Cancel/deny redirect as captured from real dialogs (§1.a.1 [CODE]).
    target.searchParams.set('error', 'access_denied');
    target.searchParams.set('error_reason', 'user_denied');
    target.searchParams.set('error_description', 'Permissions error');
    target.searchParams.set('error_code', '200');
    target.searchParams.set('state', state);
    return { status: 302, location: target.toString() };
  }
  if (!identity.users.has(b.userId)) return errorPage('Not signed in', `The simulated person ${b.userId} is no longer seeded.`);
  const code = identity.issueCode({ userId: b.userId, share: b.share ?? 'all', scopes, redirectUri, issuedAt: ctx.now });
  // Success: `{redirect_uri}?code=…&state=…` (§1.a.1 [DOC]); the optional `#_=_` fragment is not added.
  target.searchParams.set('code', code);
  target.searchParams.set('state', state);
  return { status: 302, location: target.toString() };
}

// ---------------------------------------------------------------------------------------------
// /oauth/access_token

/** §1.a.2 error table [CODE]: HTTP 400, OAuthException, `www-authenticate … "invalid_code"` (captured for 36009). */
function codeError(message: string, subcode?: number): SimGraphError {
  return new SimGraphError(100, message, { subcode, status: 400, authError: 'invalid_code' });
}

/** 101 / 1 of the same table; their www-authenticate token is not captured, `invalid_request` is [INF]. */
function clientError(code: 101 | 1, message: string): SimGraphError {
  return new SimGraphError(code, message, { status: 400, authError: 'invalid_request', transient: false });
}

function tokenAnswer(token: string): Record<string, unknown> {
  // `expires_in` 5183944 for both the code-flow and the long-lived token, as the doc's examples show (§1.a.2, §1.a.3 [DOC/CODE]).
  return { access_token: token, token_type: 'bearer', expires_in: USER_TOKEN_TTL_S };
}

/** GET|POST /{v}/oauth/access_token: code flow or `grant_type=fb_exchange_token`. No access token needed. */
export function accessToken(ctx: OnboardingContext): Record<string, unknown> {
  const { params, opts, identity, now } = ctx;
  const clientId = str(params, 'client_id');
  if (clientId === undefined || clientId === '') throw clientError(101, 'Missing client_id parameter.'); // wording [INF]
  if (clientId !== opts.appId) throw clientError(101, 'Error validating application. Invalid application ID.');
  if (str(params, 'client_secret') !== opts.appSecret) throw clientError(1, 'Error validating client secret.');
  const grant = str(params, 'grant_type');

  if (grant === 'fb_exchange_token') {
    // §1.a.3 [DOC]: "You can not use an expired token to request a long-lived token".
    const input = identity.tokens.get(str(params, 'fb_exchange_token') ?? '');
    // Only user tokens are exchanged; a BISU/system-user token "must not be passed" (§1.a.2 [CODE]) → treated as unknown [INF].
    if (!input || input.kind !== 'USER') throw unparsableTokenError();
    if (isExpired(input, now)) {
      throw new SimGraphError(190, tokenErrorMessage(463, opts.appId, input.expiresAt), { subcode: 463 });
    }
    const { subjectId, scopes, share } = input;
    return tokenAnswer(identity.issueUserToken({ subjectId, scopes: [...scopes], share, long: true, issuedAt: now }));
  }
  if (grant !== undefined && grant !== 'authorization_code') throw invalidParam(`Unsupported grant_type: ${grant}`); // [INF]

  const code = identity.findCode(str(params, 'code') ?? '');
  if (!code) throw codeError('Invalid verification code format.');
  if (code.used) throw codeError('This authorization code has been used.', 36009);
  // A failed exchange consumes the code too (§1.a.1 [CODE]): never retry with another redirect_uri.
  code.used = true;
  if (code.expiresAt <= now) throw codeError('This authorization code has expired.', 36007);
  if (str(params, 'redirect_uri') !== code.redirectUri) {
    throw codeError(
      'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request',
      36008,
    );
  }
  return tokenAnswer(
    identity.issueUserToken({ subjectId: code.userId, scopes: [...code.scopes], share: code.share, long: false, issuedAt: now }),
  );
}

// ---------------------------------------------------------------------------------------------
// Reads with a user or system-user token

/** Throws 190 for an expired user or system-user token. */
export function checkPrincipal(t: PrincipalToken, opts: ResolvedOptions, now: number): void {
  if (isExpired(t, now)) throw new SimGraphError(190, tokenErrorMessage(463, opts.appId, t.expiresAt), { subcode: 463 });
}

const ACCOUNT_DEFAULT_FIELDS = ['access_token', 'category', 'category_list', 'name', 'id', 'tasks'];

type AccountRenderer = (page: StoredPage, grant: PageGrant, ctx: OnboardingContext) => unknown;

const mintPageToken = (): string => `EAAG${randomBytes(96).toString('base64url')}`;

/** Fields of a Page as /me/accounts returns them (§1.a.4 [DOC] sample); category values are the simulator's. */
const ACCOUNT_FIELDS: Record<string, AccountRenderer> = {
  id: (p) => p.id,
  name: (p) => p.name,
  // The Page's current token in the page store, so publishing with it works.
  access_token: (p, _g, ctx) => ctx.store.derivePageToken(p, ctx.now, mintPageToken),
  tasks: (_p, g) => [...g.tasks],
  category: () => 'Government organization',
  category_list: () => [{ id: '2235', name: 'Government Organization' }],
  picture: (p) => ({ data: { height: 50, is_silhouette: false, url: `https://graph.facebook.com/${p.id}/picture`, width: 50 } }),
};

function accountFields(raw: unknown): string[] {
  const fields = parseFields(raw) ?? ACCOUNT_DEFAULT_FIELDS;
  for (const f of fields) if (!ACCOUNT_FIELDS[f]) throw nonexistingField(f, 'Page');
  // `id` is always returned.
  return fields.includes('id') ? fields : [...fields, 'id'];
}

/** Pages the token may act on that exist in the page store (an assigned but unseeded Page is skipped). */
function reachable(ctx: OnboardingContext, t: PrincipalToken): Array<{ page: StoredPage; grant: PageGrant }> {
  const out: Array<{ page: StoredPage; grant: PageGrant }> = [];
  const seen = new Set<string>();
  for (const grant of ctx.identity.grantsOf(t)) {
    const page = ctx.store.pages.get(grant.id);
    if (!page || seen.has(page.id)) continue;
    seen.add(page.id);
    out.push({ page, grant });
  }
  return out;
}

/**
 * GET /{v}/me/accounts (== /{user-id}/accounts), §1.a.4 [DOC] and §1.b.3 [CODE]: the Pages shared in
 * the dialog (user token) or assigned (system user), cursor-paged, `limit` default 25 and at most 100.
 */
export function listAccounts(ctx: OnboardingContext, t: PrincipalToken, node: string): Record<string, unknown> {
  const { params } = ctx;
  const fields = accountFields(params['fields']);
  const rawLimit = str(params, 'limit');
  let limit = rawLimit === undefined ? 25 : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 0) throw invalidParam('Param limit must be a non-negative integer');
  limit = Math.min(limit, 100);
  // "Requires pages_show_list" [DOC]; without it a user token lists nothing [INF].
  const all = t.kind === 'USER' && !t.scopes.includes('pages_show_list') ? [] : reachable(ctx, t);
  const after = str(params, 'after');
  const before = str(params, 'before');
  let start = 0;
  if (after !== undefined) start = decodeCursor(after) + 1;
  else if (before !== undefined) start = Math.max(0, decodeCursor(before) - limit);
  const end = before !== undefined && after === undefined ? Math.min(decodeCursor(before), start + limit) : start + limit;
  const slice = all.slice(start, end);
  const data = slice.map(({ page, grant }) => {
    const out: Record<string, unknown> = {};
    for (const f of fields) out[f] = ACCOUNT_FIELDS[f]!(page, grant, ctx);
    return out;
  });
  if (slice.length === 0) return { data };
  const cursors = { before: encodeCursor(start), after: encodeCursor(start + slice.length - 1) };
  const paging: Record<string, unknown> = { cursors };
  const link = (cursor: 'after' | 'before', value: string): string => {
    const qs = new URLSearchParams();
    if (params['fields'] !== undefined) qs.set('fields', String(params['fields']));
    qs.set('limit', String(limit));
    qs.set(cursor, value);
    // Like the posts listings, and unlike Meta, the token is left out of paging URLs.
    return `${ctx.baseUrl}/${ctx.version}/${node}/accounts?${qs.toString()}`;
  };
  if (start > 0) paging['previous'] = link('before', cursors.before);
  if (start + slice.length < all.length) paging['next'] = link('after', cursors.after);
  return { data, paging };
}

/** GET /{v}/me with a user or system-user token. */
export function meView(ctx: OnboardingContext, t: PrincipalToken): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of parseFields(ctx.params['fields']) ?? ['id', 'name']) {
    if (f === 'id') out[f] = t.subjectId;
    else if (f === 'name') out[f] = ctx.identity.nameOf(t);
    else throw nonexistingField(f, 'User');
  }
  return out;
}

/** GET /{v}/me/permissions: every granted scope (nothing is declined in the simulated dialog). */
export function permissionsView(t: PrincipalToken): Record<string, unknown> {
  return { data: t.scopes.map((permission) => ({ permission, status: 'granted' })) };
}

/**
 * GET /{v}/{page-id}?fields=access_token,… with a user or system-user token: the other derivation
 * route of §1.b.3 [CODE]. A Page the token cannot act on gives no token or tasks (#200) [INF].
 */
export function pageForPrincipal(ctx: OnboardingContext, t: PrincipalToken, pageId: string): Record<string, unknown> {
  const page = ctx.store.pages.get(pageId);
  if (!page) throw unsupportedRequest('get', pageId);
  const fields = parseFields(ctx.params['fields']) ?? ['id', 'name'];
  const grant = reachable(ctx, t).find((r) => r.page.id === pageId)?.grant;
  const own: string[] = fields.filter((f) => f === 'access_token' || f === 'tasks');
  if (own.length === 0) return pageView(page, fields);
  if (!grant) throw permissionError(false);
  const out = pageView(
    page,
    fields.filter((f) => !own.includes(f)),
  );
  for (const f of own) out[f] = ACCOUNT_FIELDS[f]!(page, grant, ctx);
  return out;
}
