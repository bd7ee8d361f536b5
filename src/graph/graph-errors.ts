/**
 * Typed failures of Graph calls (house style §5.4b). Parsing only: what a
 * failure *means* is decided in classify.ts. None of these objects ever holds
 * a token, a URL with a token, request headers or the underlying HTTP error.
 */
import type { GraphUsage } from './usage';

/** Token-free label of the call that failed. */
export type GraphEndpoint =
  'feed' | 'photos' | 'post.get' | 'post.update' | 'post.delete' | 'published_posts' | 'debug_token' | 'accounts' | 'oauth.access_token';

/** Graph answered with the JSON error envelope (§4.1). */
export class GraphApiError extends Error {
  override readonly name = 'GraphApiError';
  readonly status: number;
  readonly code: number;
  readonly subcode?: number;
  readonly type?: string;
  readonly isTransient?: boolean;
  readonly fbtraceId?: string;
  readonly userTitle?: string;
  readonly userMessage?: string;
  readonly usage: GraphUsage | null;
  readonly endpoint: GraphEndpoint;

  constructor(init: {
    message: string;
    status: number;
    code: number;
    subcode?: number;
    type?: string;
    isTransient?: boolean;
    fbtraceId?: string;
    userTitle?: string;
    userMessage?: string;
    usage: GraphUsage | null;
    endpoint: GraphEndpoint;
  }) {
    super(init.message);
    this.status = init.status;
    this.code = init.code;
    if (init.subcode !== undefined) this.subcode = init.subcode;
    if (init.type !== undefined) this.type = init.type;
    if (init.isTransient !== undefined) this.isTransient = init.isTransient;
    if (init.fbtraceId !== undefined) this.fbtraceId = init.fbtraceId;
    if (init.userTitle !== undefined) this.userTitle = init.userTitle;
    if (init.userMessage !== undefined) this.userMessage = init.userMessage;
    this.usage = init.usage;
    this.endpoint = init.endpoint;
  }
}

/** Graph answered with something that is not JSON (e.g. an HTML 502/504 page). */
export class GraphHttpError extends Error {
  override readonly name = 'GraphHttpError';
  readonly status: number;
  readonly endpoint: GraphEndpoint;
  /** First characters of the body, tokens redacted. */
  readonly bodySnippet: string;
  readonly usage: GraphUsage | null;

  constructor(init: { status: number; endpoint: GraphEndpoint; bodySnippet: string; usage?: GraphUsage | null }) {
    super(`Graph ${init.endpoint} answered HTTP ${init.status} without a JSON body`);
    this.status = init.status;
    this.endpoint = init.endpoint;
    this.bodySnippet = init.bodySnippet;
    this.usage = init.usage ?? null;
  }
}

export type TransportFailureKind = 'timeout' | 'reset' | 'refused' | 'other';

/** No HTTP answer: timeout, connection reset/refused, DNS failure… */
export class GraphTransportError extends Error {
  override readonly name = 'GraphTransportError';
  readonly kind: TransportFailureKind;
  /** True when the request may have reached Graph (timeouts, resets after connect): a write may have happened. */
  readonly requestSent: boolean;
  readonly endpoint: GraphEndpoint;
  /** System error code such as ECONNRESET, when known. */
  readonly errno?: string;

  constructor(init: { kind: TransportFailureKind; requestSent: boolean; endpoint: GraphEndpoint; errno?: string; detail?: string }) {
    super(
      `Graph ${init.endpoint} transport failure (${init.kind}${init.errno ? `, ${init.errno}` : ''})${init.detail ? `: ${init.detail}` : ''}`,
    );
    this.kind = init.kind;
    this.requestSent = init.requestSent;
    this.endpoint = init.endpoint;
    if (init.errno !== undefined) this.errno = init.errno;
  }
}

export type GraphFailure = GraphApiError | GraphHttpError | GraphTransportError;

export function isGraphFailure(err: unknown): err is GraphFailure {
  return err instanceof GraphApiError || err instanceof GraphHttpError || err instanceof GraphTransportError;
}

function optNumber(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return undefined;
}

function optString(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/**
 * Builds a GraphApiError from a parsed body when it is the §4.1 envelope
 * (`{"error":{"message","type","code",…}}`); returns null otherwise.
 * `redact` scrubs secrets (the call's tokens) out of every copied string.
 */
export function parseGraphErrorEnvelope(
  body: unknown,
  status: number,
  endpoint: GraphEndpoint,
  usage: GraphUsage | null,
  redact: (s: string) => string = (s) => s,
  fallbackTraceId?: string,
): GraphApiError | null {
  if (!body || typeof body !== 'object') return null;
  const raw = (body as Record<string, unknown>)['error'];
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const e = raw as Record<string, unknown>;
  const code = optNumber(e['code']);
  const message = optString(e['message']);
  if (code === undefined && message === undefined) return null;
  const userTitle = optString(e['error_user_title']);
  const userMessage = optString(e['error_user_msg']);
  const transient = e['is_transient'];
  return new GraphApiError({
    message: redact(message ?? `Graph error code ${code}`),
    status,
    code: code ?? 0,
    subcode: optNumber(e['error_subcode']),
    type: optString(e['type']),
    isTransient: typeof transient === 'boolean' ? transient : undefined,
    fbtraceId: optString(e['fbtrace_id']) ?? fallbackTraceId,
    userTitle: userTitle === undefined ? undefined : redact(userTitle),
    userMessage: userMessage === undefined ? undefined : redact(userMessage),
    usage,
    endpoint,
  });
}
