import { GraphApiError, GraphHttpError, GraphTransportError } from './graph-errors';

/**
 * What a failed Graph call means for a delivery (../docs: graph-api.md §4.3):
 * - transient: retry with backoff, the call certainly did not create anything;
 * - unknown_outcome: a write may have happened (500 code 1/2, HTML 5xx, timeout or reset after the
 *   request was sent) — resolve by reading the Page back before creating again;
 * - already_posted: Facebook says this content is already on the Page (506, 368 "already posted", 1366051);
 * - throttled_page / throttled_app: wait for the window, never burn an attempt;
 * - reauth / permission: the Page's token or grant is broken, a human must fix it;
 * - permanent: this request will never succeed as is (bad input, bad image…);
 * - gone: the object no longer exists (100/33) — success for a delete.
 */
export type FailureKind =
  'transient' | 'unknown_outcome' | 'already_posted' | 'throttled_page' | 'throttled_app' | 'reauth' | 'permission' | 'permanent' | 'gone';

export interface Classification {
  kind: FailureKind;
  /** Stable machine reason stored on the delivery (`token_expired`, `bad_image`, …). */
  reason: string;
  /** Human explanation for operators. */
  explanation: string;
  /** For throttles: how long to wait, when Graph said so. */
  retryAfterMs?: number;
}

type Row = { kind: FailureKind; reason: string; explanation: string };

/** Token problems by subcode of code 190. */
const TOKEN_SUBCODES: Record<number, Row> = {
  458: { kind: 'reauth', reason: 'app_removed', explanation: 'the user removed the app; reconnect the Page' },
  459: { kind: 'reauth', reason: 'user_checkpointed', explanation: 'the token owner must log in on facebook.com to clear a checkpoint' },
  460: {
    kind: 'reauth',
    reason: 'password_changed',
    explanation: 'the token was invalidated (password change or security reset); reconnect the Page',
  },
  463: { kind: 'reauth', reason: 'token_expired', explanation: 'the Page token expired; reconnect the Page' },
  464: { kind: 'reauth', reason: 'user_unconfirmed', explanation: 'the token owner must confirm their account on facebook.com' },
  467: { kind: 'reauth', reason: 'user_logged_out', explanation: 'the session ended (user logged out); reconnect the Page' },
  492: {
    kind: 'reauth',
    reason: 'role_removed',
    explanation: 'the token owner no longer has a role on the Page; restore the role, then reconnect',
  },
};

/** Rows keyed by code (subcode-specific rows are handled first). */
const CODES: Record<number, Row> = {
  1: {
    kind: 'unknown_outcome',
    reason: 'graph_unknown_error',
    explanation: 'Graph API unknown error (HTTP 500); the post may have been created',
  },
  2: {
    kind: 'unknown_outcome',
    reason: 'graph_service_error',
    explanation: 'Graph API temporary error (HTTP 500); the post may have been created',
  },
  3: { kind: 'permission', reason: 'capability_missing', explanation: 'the app lacks the capability for this call' },
  4: { kind: 'throttled_app', reason: 'app_rate_limited', explanation: 'application request limit reached' },
  10: {
    kind: 'permission',
    reason: 'permission_missing',
    explanation: 'the app does not have permission for this action (re-grant pages_manage_posts)',
  },
  17: { kind: 'throttled_app', reason: 'user_rate_limited', explanation: 'user request limit reached' },
  32: { kind: 'throttled_page', reason: 'page_rate_limited', explanation: 'Page request limit reached' },
  100: { kind: 'permanent', reason: 'invalid_parameter', explanation: 'Facebook rejected a parameter of the post' },
  102: { kind: 'reauth', reason: 'session_invalid', explanation: 'the API session is invalid; reconnect the Page' },
  104: { kind: 'permanent', reason: 'bad_signature', explanation: 'incorrect appsecret_proof / signature' },
  105: { kind: 'permanent', reason: 'too_many_parameters', explanation: 'too many parameters' },
  190: { kind: 'reauth', reason: 'token_invalid', explanation: 'the Page token is invalid; reconnect the Page' },
  194: { kind: 'permanent', reason: 'missing_parameter', explanation: 'a required parameter is missing' },
  197: { kind: 'permanent', reason: 'empty_post', explanation: 'the post is empty' },
  210: { kind: 'permanent', reason: 'user_not_visible', explanation: 'user not visible' },
  283: { kind: 'permission', reason: 'permission_missing', explanation: 'the token lacks pages_read_engagement / pages_manage_posts' },
  324: { kind: 'permanent', reason: 'bad_image', explanation: 'an image is missing, unreachable or invalid' },
  341: { kind: 'throttled_app', reason: 'app_rate_limited', explanation: 'feed action request limit reached' },
  368: { kind: 'throttled_page', reason: 'policy_block', explanation: 'Facebook temporarily blocked posting on this Page' },
  506: { kind: 'already_posted', reason: 'duplicate_post', explanation: 'Facebook reports the same post is already on the Page' },
  613: { kind: 'throttled_page', reason: 'page_rate_limited', explanation: 'calls to this Page exceeded the rate limit' },
  1500: { kind: 'permanent', reason: 'invalid_link', explanation: 'the link URL is invalid' },
  1705: {
    kind: 'reauth',
    reason: 'not_page_token',
    explanation: 'the call was made as a person, not as the Page (not a Page token); reconnect the Page',
  },
  1609005: { kind: 'permanent', reason: 'link_error', explanation: 'Facebook could not fetch the link' },
  2500: { kind: 'permanent', reason: 'query_error', explanation: 'Graph could not parse the request' },
  5101: { kind: 'permanent', reason: 'upload_too_large', explanation: 'the uploaded file is too large' },
  80001: {
    kind: 'throttled_page',
    reason: 'page_rate_limited',
    explanation: 'too many calls to this Page account (Business Use Case limit)',
  },
};

/** Rows keyed by subcode alone (Facebook returns these under varying codes). */
const SUBCODES: Record<number, Row> = {
  1390008: {
    kind: 'throttled_page',
    reason: 'posting_too_fast',
    explanation: 'Facebook limits how often this Page can post; waiting before retrying',
  },
  1366046: { kind: 'permanent', reason: 'photo_too_large', explanation: 'photos must be smaller than 4 MB and JPG or PNG' },
  1366051: { kind: 'already_posted', reason: 'duplicate_photos', explanation: 'Facebook reports these photos were already posted' },
  2069019: { kind: 'permanent', reason: 'invalid_file', explanation: 'the media file is invalid' },
  1404078: {
    kind: 'reauth',
    reason: 'publishing_authorization',
    explanation: 'the Page requires publishing authorization; an admin must complete it',
  },
  // 368 sub-cases that are not a "wait and retry" block (§4.3).
  1346003: { kind: 'permanent', reason: 'content_flagged', explanation: 'Facebook flagged this content as abusive' },
  1404102: {
    kind: 'permanent',
    reason: 'community_standards',
    explanation: 'Facebook rejected this content under its Community Standards',
  },
  4854002: {
    kind: 'reauth',
    reason: 'identity_confirmation_required',
    explanation: 'an admin must confirm their identity before publishing as this Page',
  },
};
const UPLOAD_SUBCODES = new Set([1363030, 1363019, 1363037, 1363033, 1363021, 1363041]);

/** Default wait when a throttle carries no estimate. */
export const DEFAULT_THROTTLE_MS = 5 * 60_000;

function classifyApiError(e: GraphApiError, op: 'write' | 'read' | 'delete'): Row {
  if (e.code === 100 && e.subcode === 33) {
    if (op === 'delete') return { kind: 'gone', reason: 'already_deleted', explanation: 'the post is already deleted' };
    if (op === 'read') {
      return { kind: 'transient', reason: 'not_yet_visible', explanation: 'the object is not readable yet (read-after-create lag)' };
    }
    return { kind: 'permanent', reason: 'object_not_found', explanation: 'the Page or object does not exist or is not accessible' };
  }
  if (e.code === 190) return TOKEN_SUBCODES[e.subcode ?? -1] ?? CODES[190]!;
  if (e.code === 368 && /already posted/i.test(e.message)) {
    return { kind: 'already_posted', reason: 'duplicate_post', explanation: 'Facebook reports this content was already posted' };
  }
  if (e.subcode !== undefined && SUBCODES[e.subcode]) return SUBCODES[e.subcode]!;
  if (e.subcode !== undefined && UPLOAD_SUBCODES.has(e.subcode)) {
    return { kind: 'transient', reason: 'upload_chunk_error', explanation: 'a media upload step failed' };
  }
  const row =
    CODES[e.code] ??
    (e.code >= 200 && e.code <= 299
      ? { kind: 'permission' as const, reason: 'permission_missing', explanation: 'permission missing or removed' }
      : undefined);
  if (row) {
    // A 500 on a read created nothing: a plain retry is safe.
    if (row.kind === 'unknown_outcome' && op !== 'write') return { ...row, kind: 'transient' };
    return row;
  }
  if (e.isTransient) return { kind: 'transient', reason: 'graph_transient', explanation: e.message };
  if (e.status >= 500) {
    return { kind: op === 'write' ? 'unknown_outcome' : 'transient', reason: 'graph_server_error', explanation: e.message };
  }
  return { kind: 'permanent', reason: 'graph_error', explanation: e.message };
}

/** Classifies any failure of a Graph call; `op` says whether the call could have created something. */
export function classifyFailure(err: unknown, op: 'write' | 'read' | 'delete'): Classification {
  if (err instanceof GraphApiError) {
    const row = classifyApiError(err, op);
    const c: Classification = { ...row };
    if (row.kind === 'throttled_page' || row.kind === 'throttled_app') {
      const minutes = err.usage?.page?.regainMinutes;
      c.retryAfterMs = minutes && minutes > 0 ? minutes * 60_000 : DEFAULT_THROTTLE_MS;
    }
    return c;
  }
  if (err instanceof GraphHttpError) {
    // A 5xx may have been processed; a 2xx certainly was (only its body is unusable): never blind-retry those writes.
    return op === 'write' && (err.status >= 500 || (err.status >= 200 && err.status < 300))
      ? {
          kind: 'unknown_outcome',
          reason: 'graph_http_error',
          explanation: `HTTP ${err.status} without a Graph error body; the post may have been created`,
        }
      : { kind: 'transient', reason: 'graph_http_error', explanation: `HTTP ${err.status} without a Graph error body` };
  }
  if (err instanceof GraphTransportError) {
    if (err.requestSent && op === 'write') {
      return {
        kind: 'unknown_outcome',
        reason: `network_${err.kind}`,
        explanation: `no answer (${err.kind}) after the request was sent; the post may have been created`,
      };
    }
    return { kind: 'transient', reason: `network_${err.kind}`, explanation: `network ${err.kind}` };
  }
  return { kind: 'transient', reason: 'internal_error', explanation: err instanceof Error ? err.message : String(err) };
}

/** Reasons stored on deliveries that no table row above names (they come from the branches of classifyApiError and classifyFailure). */
const OTHER_REASONS: Record<string, FailureKind> = {
  already_deleted: 'gone',
  not_yet_visible: 'transient',
  object_not_found: 'permanent',
  duplicate_post: 'already_posted',
  upload_chunk_error: 'transient',
  graph_transient: 'transient',
  graph_server_error: 'transient',
  graph_error: 'permanent',
  graph_http_error: 'transient',
  internal_error: 'transient',
};

let rowsByReason: Map<string, { kind: FailureKind; explanation: string }> | undefined;

/** The table row a stored reason came from: token subcodes first, then subcodes, then codes. */
function rowOf(reason: string): { kind: FailureKind; explanation: string } | undefined {
  if (!rowsByReason) {
    rowsByReason = new Map();
    for (const table of [TOKEN_SUBCODES, SUBCODES, CODES]) {
      for (const row of Object.values(table)) if (!rowsByReason.has(row.reason)) rowsByReason.set(row.reason, row);
    }
  }
  return rowsByReason.get(reason);
}

/**
 * The failure kind a stored delivery reason came from (`token_expired` → reauth, `bad_image` → permanent),
 * or undefined for reasons this classifier does not produce (`no_page`, `retries_exhausted`, …).
 */
export function kindOfReason(reason: string): FailureKind | undefined {
  if (reason.startsWith('network_')) return 'transient';
  return rowOf(reason)?.kind ?? OTHER_REASONS[reason];
}

/**
 * The kind and explanation of a stored delivery reason (`token_expired`, `bad_image`, …), for the views that
 * say what to do about a failure; undefined for reasons that are not Graph errors (`needs_reauth`, `no_page`…).
 */
export function describeReason(reason: string): { kind: FailureKind; explanation: string } | undefined {
  const row = rowOf(reason);
  return row ? { kind: row.kind, explanation: row.explanation } : undefined;
}
