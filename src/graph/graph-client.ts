/**
 * The only module that talks to the Graph API. One axios instance with
 * keep-alive agents; one function builds URLs; tokens travel only in the
 * `Authorization: Bearer` header and never reach errors or logs. No retries
 * here: retrying is the queue's decision (house style §5.4c).
 */
import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { Logger } from 'pino';
import {
  GraphHttpError,
  GraphTransportError,
  parseGraphErrorEnvelope,
  type GraphEndpoint,
  type TransportFailureKind,
} from './graph-errors';
import { fencedTransport, type Fence, type FenceScope, type WriteOptions } from './fence-transport';
import { parseUsageHeaders, type GraphUsage } from './usage';
import { boundUnackedData } from './unacked-timeout';

export type { Fence, WriteOptions } from './fence-transport';
export type { GraphUsage } from './usage';
export type { GraphEndpoint, GraphFailure } from './graph-errors';

export interface GraphClientOptions {
  /** e.g. `https://graph.facebook.com` or the simulator's URL; no trailing version. */
  baseUrl: string;
  /** e.g. `v25.0` */
  version: string;
  /** Whole-request deadline. @defaultValue 30000 */
  timeoutMs?: number;
  /** Keep-alive sockets per host. @defaultValue 256 */
  maxSockets?: number;
  logger?: Logger;
  /** Observer called once per request with token-free facts (metrics hook). Must be cheap; a throw is ignored. */
  onRequest?: (info: GraphRequestInfo) => void;
}

/** What an observer learns about one Graph request: never a token, URL or body. */
export interface GraphRequestInfo {
  endpoint: GraphEndpoint;
  /** `graph_error`: Graph's JSON error envelope; `http_error`: a non-JSON answer; `timeout` / `network_error`: no answer. */
  outcome: 'ok' | 'graph_error' | 'http_error' | 'timeout' | 'network_error';
  /** HTTP status, or null without an answer. */
  status: number | null;
  /** Graph error code of a `graph_error`, else null. */
  errorCode: number | null;
  durationMs: number;
}

export interface GraphResponse<T> {
  data: T;
  usage: GraphUsage | null;
  status: number;
  traceId?: string;
}

type Method = 'GET' | 'POST' | 'DELETE';
type Query = Record<string, string | number | undefined>;

const SNIPPET_CHARS = 300;
/** Failures that happen before any byte of the request can have reached the server. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_INVALID_URL',
  'ERR_INVALID_ARG_TYPE',
]);
const RESET = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED_SOCKET']);

function makeRedactor(secrets: string[]): (s: string) => string {
  const list = secrets.filter((t) => t.length > 0);
  return (s: string) => {
    let out = s;
    for (const t of list) out = out.split(t).join('[redacted]');
    return out.replace(/(access_token|input_token)=(?!\[redacted\])[^&\s"'<>()]+/gi, '$1=[redacted]');
  };
}

function errnoOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const cause = e?.cause?.code;
  if (typeof cause === 'string') return cause;
  return typeof e?.code === 'string' ? e.code : undefined;
}

function transportError(err: unknown, endpoint: GraphEndpoint, redact: (s: string) => string): GraphTransportError {
  const errno = errnoOf(err);
  const outer = (err as { code?: unknown } | null)?.code;
  const detail = err instanceof Error ? redact(err.message).slice(0, 200) : undefined;
  let kind: TransportFailureKind;
  let requestSent: boolean;
  if (outer === 'ECONNABORTED' || outer === 'ETIMEDOUT' || outer === 'ERR_CANCELED' || errno === 'ETIMEDOUT') {
    // Our deadline fired: the request may well be processed by Graph anyway.
    kind = 'timeout';
    requestSent = true;
  } else if (errno === 'ECONNREFUSED') {
    kind = 'refused';
    requestSent = false;
  } else if (errno !== undefined && RESET.has(errno)) {
    kind = 'reset';
    requestSent = true;
  } else {
    kind = 'other';
    requestSent = !(errno !== undefined && NOT_SENT.has(errno));
  }
  return new GraphTransportError({ kind, requestSent, endpoint, errno, detail });
}

export class GraphClient {
  private readonly baseUrl: string;
  private readonly version: string;
  private readonly timeoutMs: number;
  private readonly logger: Logger | undefined;
  private readonly onRequest: GraphClientOptions['onRequest'];
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly http: AxiosInstance;

  constructor(opts: GraphClientOptions) {
    const base = new URL(opts.baseUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError('baseUrl must be http(s)');
    if (!/^v\d+\.\d+$/.test(opts.version)) throw new TypeError(`version must look like v25.0, got ${opts.version}`);
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.version = opts.version;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.logger = opts.logger;
    this.onRequest = opts.onRequest;
    const maxSockets = opts.maxSockets ?? 256;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
    // The kernel drops a connection whose sent bytes stay unacknowledged past the request deadline,
    // so a write can reach Graph no later than its deadline, even from a paused process (unacked-timeout.ts).
    boundUnackedData(this.httpAgent, this.timeoutMs, this.logger);
    boundUnackedData(this.httpsAgent, this.timeoutMs, this.logger);
    this.http = axios.create({
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      timeout: this.timeoutMs,
      validateStatus: () => true,
      maxRedirects: 0, // never forward the Authorization header anywhere else
      proxy: false,
      responseType: 'text',
      transformResponse: [(d: unknown) => d],
      headers: { Accept: 'application/json', 'User-Agent': 'lantoa-graph-client' },
    });
  }

  /** The one place that builds Graph URLs. */
  private buildUrl(segments: string[], query?: Query): string {
    const path = segments.map(encodeURIComponent).join('/');
    let url = `${this.baseUrl}/${this.version}/${path}`;
    if (query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
      const s = qs.toString();
      if (s.length > 0) url += `?${s}`;
    }
    return url;
  }

  private observe(
    endpoint: GraphEndpoint,
    outcome: GraphRequestInfo['outcome'],
    status: number | null,
    errorCode: number | null,
    started: number,
  ): void {
    if (!this.onRequest) return;
    try {
      this.onRequest({ endpoint, outcome, status, errorCode, durationMs: performance.now() - started });
    } catch {
      /* an observer never fails a Graph call */
    }
  }

  private async call<T>(
    endpoint: GraphEndpoint,
    method: Method,
    segments: string[],
    token: string,
    opts: { query?: Query; body?: Record<string, unknown>; secrets?: string[]; fence?: Fence } = {},
  ): Promise<GraphResponse<T>> {
    // Built only on a failure (the success path never redacts).
    const redact = (text: string) => makeRedactor([token, ...(opts.secrets ?? [])])(text);
    const started = performance.now();
    let res: AxiosResponse<unknown>;
    // The fence runs synchronously right before the request is handed to axios: from here to the socket
    // write there are only microtasks and nextTicks, no I/O wait (on a kept-alive socket). If it throws,
    // nothing was sent.
    opts.fence?.();
    const scope: FenceScope | undefined = opts.fence ? { fence: opts.fence } : undefined;
    // The whole-request deadline: a timer cleared as soon as the call settles. (AbortSignal.timeout's
    // timer and signal lived on for the full timeout after every request: thousands per fan-out.)
    const abort = new AbortController();
    const deadline = setTimeout(() => abort.abort(new DOMException('The operation timed out.', 'TimeoutError')), this.timeoutMs);
    try {
      res = await this.http.request({
        method,
        url: this.buildUrl(segments, opts.query),
        data: opts.body,
        headers: { Authorization: `Bearer ${token}` },
        signal: abort.signal,
        ...(scope ? { transport: fencedTransport(scope) } : {}),
      });
    } catch (err) {
      clearTimeout(deadline);
      // The fence refused when the new connection came up: nothing was written.
      if (scope?.refused) throw scope.refused;
      // Never rethrow or attach the axios error: its config carries the Authorization header.
      const failure = transportError(err, endpoint, redact);
      this.observe(endpoint, failure.kind === 'timeout' ? 'timeout' : 'network_error', null, null, started);
      this.logger?.debug(
        { endpoint, kind: failure.kind, errno: failure.errno, ms: Math.round(performance.now() - started) },
        'graph call failed (transport)',
      );
      throw failure;
    }
    clearTimeout(deadline);
    const usage = parseUsageHeaders(res.headers as unknown as Record<string, unknown>);
    const traceHeader = (res.headers as Record<string, unknown>)['x-fb-trace-id'];
    const traceId = typeof traceHeader === 'string' ? traceHeader : undefined;
    const text = typeof res.data === 'string' ? res.data : res.data === undefined || res.data === null ? '' : String(res.data);
    let body: unknown;
    let isJson: boolean;
    try {
      body = JSON.parse(text);
      isJson = true;
    } catch {
      isJson = false;
    }
    const ms = Math.round(performance.now() - started);
    if (isJson) {
      const apiError = parseGraphErrorEnvelope(body, res.status, endpoint, usage, redact, traceId);
      if (apiError) {
        this.logger?.debug(
          { endpoint, status: res.status, code: apiError.code, subcode: apiError.subcode, fbtraceId: apiError.fbtraceId, ms },
          'graph call failed',
        );
        this.observe(endpoint, 'graph_error', res.status, apiError.code, started);
        throw apiError;
      }
      if (res.status >= 200 && res.status < 300 && body !== null && typeof body === 'object') {
        this.logger?.debug({ endpoint, status: res.status, traceId, usagePercent: usage?.maxPercent, ms }, 'graph call ok');
        this.observe(endpoint, 'ok', res.status, null, started);
        return { data: body as T, usage, status: res.status, ...(traceId ? { traceId } : {}) };
      }
    }
    this.logger?.debug({ endpoint, status: res.status, traceId, ms }, 'graph call failed (non-JSON answer)');
    this.observe(endpoint, 'http_error', res.status, null, started);
    throw new GraphHttpError({ status: res.status, endpoint, bodySnippet: redact(text.slice(0, SNIPPET_CHARS)), usage });
  }

  /** POST /{page-id}/feed — text/link post, optionally unpublished or with attached unpublished photos. */
  createFeedPost(
    pageId: string,
    token: string,
    body: { message?: string; link?: string; published?: boolean; attachedMedia?: string[]; fields?: string[] },
    write: WriteOptions = {},
  ): Promise<GraphResponse<{ id: string; permalink_url?: string }>> {
    const data: Record<string, unknown> = {};
    if (body.message !== undefined) data['message'] = body.message;
    if (body.link !== undefined) data['link'] = body.link;
    if (body.published !== undefined) data['published'] = body.published;
    if (body.attachedMedia && body.attachedMedia.length > 0) {
      data['attached_media'] = body.attachedMedia.map((id) => ({ media_fbid: id }));
    }
    if (body.fields && body.fields.length > 0) data['fields'] = body.fields.join(',');
    return this.call('feed', 'POST', [pageId, 'feed'], token, { body: data, ...write });
  }

  /** POST /{page-id}/photos by URL; `published: false` stages a photo for `attached_media`. */
  uploadPhoto(
    pageId: string,
    token: string,
    body: { url: string; published: boolean; caption?: string },
    write: WriteOptions = {},
  ): Promise<GraphResponse<{ id: string; post_id?: string }>> {
    const data: Record<string, unknown> = { url: body.url, published: body.published };
    if (body.caption !== undefined) data['caption'] = body.caption;
    return this.call('photos', 'POST', [pageId, 'photos'], token, { body: data, ...write });
  }

  /** GET /{post-id}?fields=… */
  getPost(postId: string, token: string, fields: string[]): Promise<GraphResponse<Record<string, unknown>>> {
    return this.call('post.get', 'GET', [postId], token, {
      query: { fields: fields.length > 0 ? fields.join(',') : undefined },
    });
  }

  /** POST /{post-id} — edit the message and/or publish (`isPublished: true` is idempotent). */
  updatePost(
    postId: string,
    token: string,
    body: { message?: string; isPublished?: boolean },
    write: WriteOptions = {},
  ): Promise<GraphResponse<{ success: boolean }>> {
    const data: Record<string, unknown> = {};
    if (body.message !== undefined) data['message'] = body.message;
    if (body.isPublished !== undefined) data['is_published'] = body.isPublished;
    return this.call('post.update', 'POST', [postId], token, { body: data, ...write });
  }

  /** DELETE /{post-id}; a second delete fails with 100/33. */
  deletePost(postId: string, token: string, write: WriteOptions = {}): Promise<GraphResponse<{ success: boolean }>> {
    return this.call('post.delete', 'DELETE', [postId], token, write);
  }

  /** GET /{page-id}/published_posts, newest first, cursor paged. */
  listPublishedPosts(
    pageId: string,
    token: string,
    opts: { limit?: number; after?: string; fields?: string[] } = {},
  ): Promise<GraphResponse<{ data: Array<Record<string, unknown>>; paging?: unknown }>> {
    return this.call('published_posts', 'GET', [pageId, 'published_posts'], token, {
      query: {
        limit: opts.limit,
        after: opts.after,
        fields: opts.fields && opts.fields.length > 0 ? opts.fields.join(',') : undefined,
      },
    });
  }

  /** GET /debug_token; the inspected token is a query parameter by API design, so it is redacted from failures. */
  debugToken(inputToken: string, appToken: string): Promise<GraphResponse<{ data: Record<string, unknown> }>> {
    return this.call('debug_token', 'GET', ['debug_token'], appToken, {
      query: { input_token: inputToken },
      secrets: [inputToken],
    });
  }

  /**
   * GET /me/accounts: the Pages the token's person or system user can act on, with a Page token and
   * the tasks of each, cursor paged (`limit` at most 100). Follow `paging.cursors.after` while `paging.next` is set.
   */
  listAccounts(
    token: string,
    opts: { limit?: number; after?: string } = {},
  ): Promise<
    GraphResponse<{
      data: Array<{ id: string; name?: string; access_token?: string; tasks?: string[] }>;
      paging?: { cursors?: { after?: string }; next?: string };
    }>
  > {
    return this.call('accounts', 'GET', ['me', 'accounts'], token, {
      query: { fields: 'id,name,access_token,tasks', limit: opts.limit ?? 100, after: opts.after },
    });
  }

  /**
   * GET /oauth/access_token: an OAuth code (with the dialog's redirect URI) or, with
   * `fbExchangeToken`, a short-lived user token for a long-lived one. The app secret, the code and
   * the tokens are query parameters by API design, so all of them are redacted from failures.
   */
  exchangeToken(
    app: { id: string; secret: string },
    grant: { code: string; redirectUri: string } | { fbExchangeToken: string },
  ): Promise<GraphResponse<{ access_token: string; token_type?: string; expires_in?: number }>> {
    const query =
      'code' in grant
        ? { client_id: app.id, client_secret: app.secret, redirect_uri: grant.redirectUri, code: grant.code }
        : { grant_type: 'fb_exchange_token', client_id: app.id, client_secret: app.secret, fb_exchange_token: grant.fbExchangeToken };
    const secret = 'code' in grant ? grant.code : grant.fbExchangeToken;
    return this.call('oauth.access_token', 'GET', ['oauth', 'access_token'], `${app.id}|${app.secret}`, {
      query,
      secrets: [app.secret, secret],
    });
  }

  /** Destroys the keep-alive sockets. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
