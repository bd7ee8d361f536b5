import { classifyFailure, DEFAULT_THROTTLE_MS, type FailureKind } from '../../../src/graph/classify';
import { GraphApiError, GraphHttpError, GraphTransportError, type GraphEndpoint } from '../../../src/graph/graph-errors';
import type { GraphUsage } from '../../../src/graph/usage';

type Op = 'write' | 'read' | 'delete';

/** HTTP status Graph uses for a JSON error (graph-api.md §4.2): 500 for 1/2, 403 for 10 and 200–299, else 400. */
function statusFor(code: number): number {
  if (code === 1 || code === 2) return 500;
  if (code === 10 || (code >= 200 && code <= 299)) return 403;
  return 400;
}

/** A GraphApiError as the client builds it from a §4.1 envelope. */
function api(
  code: number,
  subcode?: number,
  opts: { message?: string; status?: number; isTransient?: boolean; usage?: GraphUsage | null; endpoint?: GraphEndpoint } = {},
): GraphApiError {
  return new GraphApiError({
    message: opts.message ?? `(#${code}) simulated`,
    status: opts.status ?? statusFor(code),
    code,
    ...(subcode !== undefined ? { subcode } : {}),
    type: 'OAuthException',
    ...(opts.isTransient !== undefined
      ? { isTransient: opts.isTransient }
      : code === 1 || code === 2 || code === 4 || code === 17
        ? { isTransient: true }
        : {}),
    fbtraceId: 'AmFGcW_3hwDB7qFbl_QdebZ',
    usage: opts.usage ?? null,
    endpoint: opts.endpoint ?? 'feed',
  });
}

interface Row {
  /** The §4.3 row (code / subcode) and the variant under test. */
  row: string;
  err: unknown;
  op: Op;
  kind: FailureKind;
  reason: string;
}

const r = (row: string, err: unknown, op: Op, kind: FailureKind, reason: string): Row => ({ row, err, op, kind, reason });

/** One row per row of the error table in graph-api.md §4.3 (rows with variants get one row per variant). */
const TABLE: Row[] = [
  // 1, 2: T! — ambiguous for writes, plainly transient for reads.
  r(
    '1 — unknown error, write',
    api(1, undefined, { message: 'An unknown error has occurred.' }),
    'write',
    'unknown_outcome',
    'graph_unknown_error',
  ),
  r(
    '1 — unknown error, read',
    api(1, undefined, { message: 'An unknown error has occurred.', endpoint: 'published_posts' }),
    'read',
    'transient',
    'graph_unknown_error',
  ),
  r(
    '2 — service error, write',
    api(2, undefined, { message: 'An unexpected error has occurred. Please retry your request later.' }),
    'write',
    'unknown_outcome',
    'graph_service_error',
  ),
  r(
    '2 — service error, read',
    api(2, undefined, { message: 'An unexpected error has occurred. Please retry your request later.', endpoint: 'published_posts' }),
    'read',
    'transient',
    'graph_service_error',
  ),
  r('3 — capability missing', api(3), 'write', 'permission', 'capability_missing'),
  r(
    '4 — application request limit',
    api(4, undefined, { message: '(#4) Application request limit reached' }),
    'write',
    'throttled_app',
    'app_rate_limited',
  ),
  r(
    '10 — permission not granted',
    api(10, undefined, { message: '(#10) Application does not have permission for this action' }),
    'write',
    'permission',
    'permission_missing',
  ),
  r(
    '17 — user request limit',
    api(17, undefined, { message: '(#17) User request limit reached' }),
    'write',
    'throttled_app',
    'user_rate_limited',
  ),
  r('17/2446079 — user request limit (ads)', api(17, 2446079), 'write', 'throttled_app', 'user_rate_limited'),
  r(
    '32 — Page request limit (user token)',
    api(32, undefined, { message: '(#32) Page request limit reached' }),
    'write',
    'throttled_page',
    'page_rate_limited',
  ),
  r('100 — invalid parameter', api(100, undefined, { message: '(#100) Invalid parameter' }), 'write', 'permanent', 'invalid_parameter'),
  r(
    '100/33 — unknown object, write',
    api(100, 33, { message: "Unsupported post request. Object with ID '1' does not exist" }),
    'write',
    'permanent',
    'object_not_found',
  ),
  r(
    '100/33 — read right after create',
    api(100, 33, { message: "Unsupported get request. Object with ID '1_2' does not exist", endpoint: 'post.get' }),
    'read',
    'transient',
    'not_yet_visible',
  ),
  r(
    '100/33 — delete of a deleted post',
    api(100, 33, { message: "(#100) Unsupported delete request. Object with ID '1_2' does not exist", endpoint: 'post.delete' }),
    'delete',
    'gone',
    'already_deleted',
  ),
  r('102 — API session', api(102), 'write', 'reauth', 'session_invalid'),
  r('104 — incorrect signature', api(104, undefined, { message: 'Incorrect signature' }), 'write', 'permanent', 'bad_signature'),
  r('105 — too many parameters', api(105), 'write', 'permanent', 'too_many_parameters'),
  r(
    '190 — no subcode',
    api(190, undefined, { message: 'Invalid OAuth access token - Cannot parse access token', isTransient: false }),
    'write',
    'reauth',
    'token_invalid',
  ),
  r(
    '190/458 — app removed',
    api(190, 458, { message: 'Error validating access token: The user has not authorized application 1.' }),
    'write',
    'reauth',
    'app_removed',
  ),
  r('190/459 — user checkpointed', api(190, 459), 'write', 'reauth', 'user_checkpointed'),
  r(
    '190/460 — password changed',
    api(190, 460, { message: 'Error validating access token: The session has been invalidated because the user changed their password' }),
    'write',
    'reauth',
    'password_changed',
  ),
  r('190/463 — expired', api(190, 463), 'write', 'reauth', 'token_expired'),
  r('190/464 — unconfirmed user', api(190, 464), 'write', 'reauth', 'user_unconfirmed'),
  r('190/467 — user logged out', api(190, 467), 'write', 'reauth', 'user_logged_out'),
  r('190/492 — role removed', api(190, 492), 'write', 'reauth', 'role_removed'),
  r('194 — missing required parameter', api(194), 'write', 'permanent', 'missing_parameter'),
  r('197 — empty post', api(197), 'write', 'permanent', 'empty_post'),
  r(
    '200–299 — 200 permissions error',
    api(200, undefined, { message: '(#200) Permissions error' }),
    'write',
    'permission',
    'permission_missing',
  ),
  r('200–299 — 299 (top of the range)', api(299), 'write', 'permission', 'permission_missing'),
  r('210 — user not visible', api(210), 'write', 'permanent', 'user_not_visible'),
  r('283 — extended permission required', api(283), 'write', 'permission', 'permission_missing'),
  r(
    '324 — missing or invalid image',
    api(324, undefined, { message: '(#324) Missing or invalid image file', endpoint: 'photos' }),
    'write',
    'permanent',
    'bad_image',
  ),
  r('341 — feed action request limit', api(341), 'write', 'throttled_app', 'app_rate_limited'),
  r(
    '368 — policy block',
    api(368, undefined, { message: 'You have been temporarily blocked from performing this action.' }),
    'write',
    'throttled_page',
    'policy_block',
  ),
  r(
    '368/1390008 — posting too fast',
    api(368, 1390008, { message: 'We limit how often you can post, comment or do other things in a given amount of time' }),
    'write',
    'throttled_page',
    'posting_too_fast',
  ),
  r('368/1346003 — content flagged abusive', api(368, 1346003), 'write', 'permanent', 'content_flagged'),
  r('368/1404102 — Community Standards', api(368, 1404102), 'write', 'permanent', 'community_standards'),
  r(
    '368 — "already posted" message',
    api(368, undefined, { message: "You've already posted this. Posting the same content repeatedly on Facebook isn't allowed." }),
    'write',
    'already_posted',
    'duplicate_post',
  ),
  r(
    '368/4854002 — identity check',
    api(368, 4854002, { message: 'Confirm your identity before you can publish as this Page.' }),
    'write',
    'reauth',
    'identity_confirmation_required',
  ),
  r(
    '506 — duplicate status message',
    api(506, undefined, { message: '(#506) Duplicate status message' }),
    'write',
    'already_posted',
    'duplicate_post',
  ),
  r(
    '613 — custom rate limit',
    api(613, undefined, { message: '(#613) Calls to this api have exceeded the rate limit.' }),
    'write',
    'throttled_page',
    'page_rate_limited',
  ),
  r('613/1996 — inconsistent request volume', api(613, 1996), 'write', 'throttled_page', 'page_rate_limited'),
  r('1500 — invalid url', api(1500), 'write', 'permanent', 'invalid_link'),
  r('1609005 — error posting link', api(1609005, undefined, { message: 'Error Posting Link' }), 'write', 'permanent', 'link_error'),
  r('1705 — call made as a person, not as the Page', api(1705), 'write', 'reauth', 'not_page_token'),
  r('2500 — query error', api(2500, undefined, { message: 'Error parsing graph query' }), 'write', 'permanent', 'query_error'),
  r('5101 — uploaded file too large', api(5101), 'write', 'permanent', 'upload_too_large'),
  r(
    '80001 — Pages BUC limit',
    api(80001, undefined, { message: '(#80001) There have been too many calls to this Page account.' }),
    'write',
    'throttled_page',
    'page_rate_limited',
  ),
  ...[1363030, 1363019, 1363037, 1363033, 1363021, 1363041].map((sub) =>
    r(`any/${sub} — resumable upload chunk error`, api(6000, sub, { endpoint: 'photos' }), 'write', 'transient', 'upload_chunk_error'),
  ),
  r(
    'any/1363030 — upload subcode wins over the code (100)',
    api(100, 1363030, { endpoint: 'photos' }),
    'write',
    'transient',
    'upload_chunk_error',
  ),
  r('—/1366046 — photo too large / wrong type', api(100, 1366046, { endpoint: 'photos' }), 'write', 'permanent', 'photo_too_large'),
  r(
    '—/1366051 — photos already posted',
    api(100, 1366051, { message: 'These photos were already posted.', endpoint: 'photos' }),
    'write',
    'already_posted',
    'duplicate_photos',
  ),
  r('—/2069019 — invalid file', api(100, 2069019, { endpoint: 'photos' }), 'write', 'permanent', 'invalid_file'),
  r('—/1404078 — publishing authorization required', api(200, 1404078), 'write', 'reauth', 'publishing_authorization'),
  // (HTML) row: 5xx HTML page / connection reset / client timeout — T!
  r(
    '(HTML) 502 page, write',
    new GraphHttpError({ status: 502, endpoint: 'feed', bodySnippet: '<title>Facebook | Error</title>' }),
    'write',
    'unknown_outcome',
    'graph_http_error',
  ),
  r(
    '(HTML) 504 page, write',
    new GraphHttpError({ status: 504, endpoint: 'photos', bodySnippet: 'Server timeout' }),
    'write',
    'unknown_outcome',
    'graph_http_error',
  ),
  r(
    '(HTML) 502 page, read',
    new GraphHttpError({ status: 502, endpoint: 'published_posts', bodySnippet: '<title>Facebook | Error</title>' }),
    'read',
    'transient',
    'graph_http_error',
  ),
  r(
    '(HTML) client timeout after the request was sent, write',
    new GraphTransportError({ kind: 'timeout', requestSent: true, endpoint: 'feed', errno: 'ETIMEDOUT' }),
    'write',
    'unknown_outcome',
    'network_timeout',
  ),
  r(
    '(HTML) client timeout, read',
    new GraphTransportError({ kind: 'timeout', requestSent: true, endpoint: 'published_posts' }),
    'read',
    'transient',
    'network_timeout',
  ),
  r(
    '(HTML) connection reset after the request was sent, write',
    new GraphTransportError({ kind: 'reset', requestSent: true, endpoint: 'feed', errno: 'ECONNRESET' }),
    'write',
    'unknown_outcome',
    'network_reset',
  ),
  r(
    '(HTML) connection refused (nothing sent), write',
    new GraphTransportError({ kind: 'refused', requestSent: false, endpoint: 'feed', errno: 'ECONNREFUSED' }),
    'write',
    'transient',
    'network_refused',
  ),
];

/** Not rows of §4.3: what the classifier does with answers the table does not list. */
const FALLBACKS: Row[] = [
  r('unlisted code with HTTP 500, write', api(7777, undefined, { status: 500 }), 'write', 'unknown_outcome', 'graph_server_error'),
  r('unlisted code with HTTP 500, read', api(7777, undefined, { status: 500 }), 'read', 'transient', 'graph_server_error'),
  r('unlisted code flagged is_transient', api(7777, undefined, { isTransient: true }), 'write', 'transient', 'graph_transient'),
  r('unlisted code with HTTP 400', api(7777), 'write', 'permanent', 'graph_error'),
  r(
    '2xx answer without a usable JSON body on a write (Graph did process it)',
    new GraphHttpError({ status: 200, endpoint: 'feed', bodySnippet: 'OK' }),
    'write',
    'unknown_outcome',
    'graph_http_error',
  ),
  r(
    'non-JSON 4xx on a write (nothing processed)',
    new GraphHttpError({ status: 413, endpoint: 'feed', bodySnippet: '' }),
    'write',
    'transient',
    'graph_http_error',
  ),
  r(
    'other transport failure before sending, write',
    new GraphTransportError({ kind: 'other', requestSent: false, endpoint: 'feed', errno: 'ENOTFOUND' }),
    'write',
    'transient',
    'network_other',
  ),
  r('a bug of ours, not a Graph failure', new TypeError('boom'), 'write', 'transient', 'internal_error'),
];

describe('classifyFailure — graph-api.md §4.3 error table', () => {
  it.each(TABLE)('$row ($op) → $kind / $reason', ({ err, op, kind, reason }) => {
    const c = classifyFailure(err, op);
    expect({ kind: c.kind, reason: c.reason }).toEqual({ kind, reason });
    expect(c.explanation).toEqual(expect.any(String));
    expect(c.explanation.length).toBeGreaterThan(0);
    if (kind === 'throttled_page' || kind === 'throttled_app') expect(c.retryAfterMs).toBe(DEFAULT_THROTTLE_MS);
    else expect(c.retryAfterMs).toBeUndefined();
  });

  it('covers every code of the table at least once', () => {
    const codes = new Set(TABLE.map((t) => (t.err instanceof GraphApiError ? t.err.code : -1)));
    for (const c of [
      1, 2, 3, 4, 10, 17, 32, 100, 102, 104, 105, 190, 194, 197, 200, 299, 210, 283, 324, 341, 368, 506, 613, 1500, 1609005, 1705, 2500,
      5101, 80001,
    ]) {
      expect(codes).toContain(c);
    }
  });
});

describe('classifyFailure — answers outside the table', () => {
  it.each(FALLBACKS)('$row ($op) → $kind / $reason', ({ err, op, kind, reason }) => {
    expect(classifyFailure(err, op)).toMatchObject({ kind, reason });
  });
});

describe('classifyFailure — throttle wait', () => {
  const usage = (regainMinutes: number): GraphUsage => ({
    page: { callCount: 100, totalCputime: 25, totalTime: 25, regainMinutes },
    maxPercent: 100,
  });

  it.each([
    { name: '80001 with estimated_time_to_regain_access = 17', err: api(80001, undefined, { usage: usage(17) }), ms: 17 * 60_000 },
    { name: '613 with regain 1 minute', err: api(613, undefined, { usage: usage(1) }), ms: 60_000 },
    { name: '368/1390008 with regain 45 minutes', err: api(368, 1390008, { usage: usage(45) }), ms: 45 * 60_000 },
    { name: '4 (app) with a Page regain estimate', err: api(4, undefined, { usage: usage(3) }), ms: 3 * 60_000 },
    { name: '80001 without usage headers', err: api(80001), ms: DEFAULT_THROTTLE_MS },
    { name: '80001 with regain 0 (no estimate)', err: api(80001, undefined, { usage: usage(0) }), ms: DEFAULT_THROTTLE_MS },
    {
      name: '80001 with only x-app-usage',
      err: api(80001, undefined, { usage: { app: { callCount: 100, totalCputime: 1, totalTime: 1 }, maxPercent: 100 } }),
      ms: DEFAULT_THROTTLE_MS,
    },
  ])('$name → retryAfterMs $ms', ({ err, ms }) => {
    const c = classifyFailure(err, 'write');
    expect(['throttled_page', 'throttled_app']).toContain(c.kind);
    expect(c.retryAfterMs).toBe(ms);
  });

  it('does not put a wait on non-throttle failures even when usage is present', () => {
    expect(classifyFailure(api(100, undefined, { usage: usage(17) }), 'write').retryAfterMs).toBeUndefined();
    expect(classifyFailure(api(2, undefined, { usage: usage(17) }), 'write').retryAfterMs).toBeUndefined();
  });
});
