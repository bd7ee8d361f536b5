import axios, { isAxiosError, type AxiosInstance } from 'axios';
import type { LevelProgress } from '../services/read-models/post-levels.service';
import type { PostView } from '../services/read-models/post-views.service';
import type { ReorganiseInput, ReorganiseResult } from '../services/tree/reorganise.service';
import type { TargetSummary } from '../services/tree/target.service';

/** An error answer of the API (status >= 400), with the `error` body's code and details. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
    readonly details: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** No answer at all from the API (refused, unknown host, timeout): the CLI prints one line about it, no stack. */
export class ApiUnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly code: string,
  ) {
    super(`cannot reach the Lan Tỏa API at ${url} — is it running? (npm start; set LANTOA_API_URL or --url)`);
    this.name = 'ApiUnreachableError';
  }
}

/** Network error codes that mean "nothing answered" (rather than a bug of ours). */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNABORTED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

export type { ReorganiseInput, ReorganiseResult };

/** `POST /v1/targets/preview`: the service's summary, as the API answers it. */
export type TargetPreview = TargetSummary;

/** `GET /v1/posts/{id}/failures`: failed deliveries grouped by reason and Graph error code. */
export interface PostFailures {
  postId: string;
  total: number;
  items: Array<{
    reason: string | null;
    code: number | null;
    subcode: number | null;
    count: number;
    sampleMessage: string | null;
    /** What can be done: retry it, relink the Page first, or nothing (content refused). */
    action: 'retry' | 'relink' | 'none';
  }>;
}

/** `POST /v1/posts/{id}/retry`: what was requeued, and what was left and why. */
export interface RetryResult {
  id: string;
  status: string;
  requeued: number;
  /** Failed deliveries a retry left: their Page must be relinked first, or Facebook refused the content. */
  skipped: { needs_relink: number; permanent: number };
}

/** One problem of a 400 `validation_failed` answer of the reorganisation. */
export interface ReorganiseProblem {
  file: 'units' | 'merges';
  line: number;
  field: string;
  message: string;
}

export interface UnitPageView {
  pageId: string;
  label: string | null;
  tokenStatus: string;
  tokenStatusReason: string | null;
}

/** `GET /v1/units/{code}[?at=ISO]`. */
export interface UnitView {
  code: string;
  name: string;
  type: string;
  level: number;
  parentCode: string | null;
  childCount: number;
  page: { pageId: string; tokenStatus: string; tokenStatusReason: string | null } | null;
  pages: UnitPageView[];
  retiredAt: string | null;
  succeededBy: string[];
}

export interface KeyView {
  id: string;
  name: string;
  role: string;
  unit: string;
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
}

/** A reorganisation of 10,807 units is one long transaction: allow it more than the default timeout. */
const REORGANISE_TIMEOUT_MS = 600_000;

/** Thin REST client used by the CLI and the demo (they talk to the API like any internal tool). */
export class ApiClient {
  private readonly http: AxiosInstance;

  constructor(
    baseUrl: string,
    private readonly key: string,
  ) {
    this.http = axios.create({
      baseURL: baseUrl.replace(/\/+$/, ''),
      timeout: 120_000,
      validateStatus: () => true,
      maxBodyLength: Infinity,
      maxContentLength: Infinity,
    });
  }

  withKey(key: string): ApiClient {
    return new ApiClient(this.http.defaults.baseURL!, key);
  }

  private async call<T>(
    method: 'get' | 'post' | 'put' | 'patch' | 'delete',
    path: string,
    body?: unknown,
    contentType = 'application/json',
    timeout?: number,
  ): Promise<T> {
    const res = await this.http
      .request({
        method,
        url: path,
        data: body,
        ...(timeout !== undefined ? { timeout } : {}),
        headers: { authorization: `Bearer ${this.key}`, ...(body !== undefined ? { 'content-type': contentType } : {}) },
      })
      .catch((err: unknown) => {
        if (isAxiosError(err) && !err.response && err.code && UNREACHABLE_CODES.has(err.code)) {
          throw new ApiUnreachableError(this.http.defaults.baseURL!, err.code);
        }
        throw err;
      });
    if (res.status >= 400) {
      const e = (res.data as { error?: { code?: string; message?: string; details?: unknown } })?.error;
      throw new ApiError(
        `${method.toUpperCase()} ${path} → ${res.status} ${e?.code ?? ''}: ${e?.message ?? JSON.stringify(res.data)}`,
        res.status,
        e?.code,
        e?.details,
      );
    }
    return res.data as T;
  }

  importUnits(csv: string | Buffer, opts: { inPlace?: boolean } = {}) {
    const url = opts.inPlace ? '/v1/units/import?inPlace=true' : '/v1/units/import';
    return this.call<{ created: number; updated: number; total: number }>('post', url, csv, 'text/csv');
  }
  /** PUT /v1/business/connection: the Business Manager system user's token (checked, stored encrypted). */
  connectBusiness(systemUserToken: string) {
    return this.call<{ connected: boolean; status: string | null; scopes: string[] }>('put', '/v1/business/connection', {
      systemUserToken,
    });
  }
  /** POST /v1/pages/sync: every mapped Page's token from the system user. */
  syncPages(opts: { suggest?: boolean } = {}) {
    return this.call<{
      pages: {
        seen: number;
        matched: number;
        tokensUpdated: number;
        missingCreateContent: number;
        unmapped: Array<{ pageId: string; name: string | null }>;
      };
      units: { withoutPage: number };
      requests: number;
    }>('post', `/v1/pages/sync${opts.suggest ? '?suggest=true' : ''}`, {});
  }
  importPages(csv: string | Buffer) {
    return this.call<{ linked: number; total: number }>('post', '/v1/pages/import', csv, 'text/csv');
  }
  /** Plans (dry run, the default) or applies a reorganisation of the unit tree (admin of root). */
  reorganise(input: ReorganiseInput) {
    return this.call<ReorganiseResult>('post', '/v1/units/reorganise', input, 'application/json', REORGANISE_TIMEOUT_MS);
  }
  /** A unit as it is now, or the version that was active at `at` (ISO time; it may have retired since). */
  getUnit(code: string, at?: string) {
    return this.call<UnitView>('get', `/v1/units/${encodeURIComponent(code)}${at ? `?at=${encodeURIComponent(at)}` : ''}`);
  }
  /** Moves a key to another (active) unit, e.g. one suspended because its unit retired (admin). */
  rescopeKey(id: string, unit: string) {
    return this.call<KeyView>('patch', `/v1/keys/${encodeURIComponent(id)}`, { unit });
  }
  createKey(body: { name: string; role: string; unit: string }) {
    return this.call<{ id: string; key: string; name: string; role: string; unit: string }>('post', '/v1/keys', body);
  }
  createPost(body: unknown) {
    return this.call<PostView>('post', '/v1/posts', body);
  }
  approve(id: string) {
    return this.call<{ id: string; status: string }>('post', `/v1/posts/${id}/approve`, {});
  }
  reject(id: string, reason: string) {
    return this.call<{ id: string; status: 'rejected'; rejection: { by: string; at: string; reason: string } }>(
      'post',
      `/v1/posts/${id}/reject`,
      { reason },
    );
  }
  cancel(id: string) {
    return this.call<{ id: string; status: string }>('post', `/v1/posts/${id}/cancel`, {});
  }
  retry(id: string, reasons?: string[]) {
    return this.call<RetryResult>('post', `/v1/posts/${id}/retry`, reasons ? { reasons } : {});
  }
  putPage(unitCode: string, pageId: string, accessToken: string, label?: string) {
    return this.call<{ unitCode: string; pageId: string; tokenStatus: string }>('put', `/v1/units/${encodeURIComponent(unitCode)}/page`, {
      pageId,
      accessToken,
      ...(label ? { label } : {}),
    });
  }
  /** A one-time link with which the unit's Page admin connects the Page (the URL is shown only in this answer). */
  createConnectLink(unitCode: string) {
    return this.call<{ url: string; expiresAt: string }>('post', `/v1/units/${encodeURIComponent(unitCode)}/connect-links`, {});
  }
  previewTarget(target: unknown) {
    return this.call<TargetPreview>('post', '/v1/targets/preview', { target });
  }
  listPosts(query: Record<string, string | number> = {}) {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
    return this.call<{ items: PostView[]; nextCursor: string | null }>('get', `/v1/posts${qs ? `?${qs}` : ''}`);
  }
  failures(id: string) {
    return this.call<PostFailures>('get', `/v1/posts/${id}/failures`);
  }
  /** Display names of keys (authors, approvers); keys outside the caller's branch are left out. */
  keyNames(ids: string[]) {
    return this.call<{ items: Array<{ id: string; name: string; role: string; unitCode: string }> }>(
      'get',
      `/v1/keys/names?ids=${encodeURIComponent(ids.join(','))}`,
    );
  }
  recall(id: string, reason: string) {
    return this.call<{ id: string; status: string; queued: number }>('post', `/v1/posts/${id}/recall`, { reason });
  }
  editPost(id: string, message: string) {
    return this.call<{ postId: string; revision: number; status: string }>('patch', `/v1/posts/${id}`, { message });
  }
  approveEdit(id: string, revision: number) {
    return this.call<{ postId: string; revision: number; status: string }>('post', `/v1/posts/${id}/edits/${revision}/approve`, {});
  }
  revokeKey(id: string) {
    return this.call<{ id: string; revokedAt: string }>('delete', `/v1/keys/${id}`);
  }
  audit(query: Record<string, string | number> = {}) {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
    return this.call<{
      items: Array<{
        id: number;
        at: string;
        actor: { keyId: string; name: string };
        action: string;
        subject: { type: string; id: string };
        details: Record<string, unknown>;
      }>;
      nextCursor: string | null;
    }>('get', `/v1/audit${qs ? `?${qs}` : ''}`);
  }
  getPost(id: string) {
    return this.call<PostView>('get', `/v1/posts/${id}`);
  }
  postLevels(id: string) {
    return this.call<{ postId: string; status: string; levels: LevelProgress[] }>('get', `/v1/posts/${id}/levels`);
  }
  deliveries(id: string, query: Record<string, string | number> = {}) {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
    return this.call<{ items: Array<Record<string, unknown>>; nextCursor: string | null }>(
      'get',
      `/v1/posts/${id}/deliveries${qs ? `?${qs}` : ''}`,
    );
  }
}
