/**
 * The Graph request pipeline: route → auth → BUC throttle → faults → handler
 * → after-process faults. Synchronous; the server applies latency, delays and
 * socket drops from the returned plan.
 */
import { extractToken, parseFields, parseParams, type Params } from './body';
import { debugToken } from './debug-token';
import {
  envelope,
  errorFor,
  invalidParam,
  missingTokenError,
  permissionError,
  SimGraphError,
  tokenErrorMessage,
  unparsableTokenError,
  unsupportedRequest,
  wwwAuthenticateValue,
} from './errors';
import { WRITE_OPS, type FaultEngine, type Op } from './faults';
import type { IdentityStore, PrincipalToken } from './identity';
import * as ob from './onboarding';
import * as h from './post-handlers';
import type { RandomStreams } from './prng';
import type { RateLimiter } from './rate-limit';
import type { SimStore, StoredPage } from './store';
import type { ResolvedOptions } from './types';
import { pageView, photoView } from './views';

export interface GraphInput {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
  now: number;
}

export interface ResponsePlan {
  status: number;
  body: string;
  headers: Record<string, string>;
  /** Destroy the socket instead of answering. */
  drop: boolean;
  /** Extra wait before answering (delay fault). */
  delayMs: number;
  op: Op;
}

export interface SimState {
  store: SimStore;
  identity: IdentityStore;
  limiter: RateLimiter;
  faults: FaultEngine;
  streams: RandomStreams;
  opts: ResolvedOptions;
  baseUrl: string;
  byEndpoint: Record<string, number>;
  logError(err: unknown): void;
}

const JSON_TYPE = 'application/json; charset=UTF-8';
const VERSION_RE = /^v\d+\.\d+$/;
const LIST_EDGES = new Set(['feed', 'posts', 'published_posts', 'scheduled_posts']);
const HTML_ERROR =
  '<!DOCTYPE html><html lang="en"><head><title>Facebook | Error</title></head><body><h1>Sorry, something went wrong.</h1><p>We\'re working on getting this fixed as soon as we can.</p></body></html>';

function classify(method: string, segs: string[]): Op {
  if (segs.length === 2 && segs[0] === 'dialog' && segs[1] === 'oauth') return 'dialog';
  if (segs.length === 2 && segs[0] === 'oauth' && segs[1] === 'access_token') return 'oauth';
  if (segs.length === 2 && segs[1] === 'accounts' && method === 'GET') return 'accounts';
  if (segs.length === 1) {
    if (segs[0] === 'debug_token') return 'debug_token';
    return method === 'GET' ? 'get' : method === 'POST' ? 'edit' : method === 'DELETE' ? 'delete' : 'other';
  }
  if (segs.length === 2) {
    if (method === 'POST' && segs[1] === 'feed') return 'feed';
    if (method === 'POST' && segs[1] === 'photos') return 'photos';
    if (method === 'GET' && LIST_EDGES.has(segs[1]!)) return 'list';
  }
  return 'other';
}

function safeDecode(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

/** A Graph URL's path segments (version removed), its version and what kind of call it is. */
function route(method: string, url: string, defaultVersion: string): { segs: string[]; version: string; op: Op; query: string } {
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  const segs = path
    .split('/')
    .filter((x) => x.length > 0)
    .map(safeDecode);
  let version = defaultVersion;
  if (segs.length > 0 && VERSION_RE.test(segs[0]!)) version = segs.shift()!;
  return { segs, version, op: classify(method, segs), query: q >= 0 ? url.slice(q + 1) : '' };
}

/** The Page a call is about, from its path alone: `/{page}/{edge}` or a `{page}_{post}` id. */
function pathPage(segs: string[]): string | undefined {
  return segs.length === 2 ? segs[0] : segs[0]?.includes('_') ? segs[0].split('_')[0] : undefined;
}

class PlannedDrop {}
class PlannedHtml {
  constructor(readonly status: number) {}
}

export class GraphHandler {
  constructor(private readonly s: SimState) {}

  /**
   * How long this request is held before it is processed at all (an `arrive-late` rule, matched on the
   * path's Page), or 0. The post it creates is created after the hold, as if it had arrived then.
   */
  arrivalHold(method: string, url: string, now: number): number {
    if (this.s.faults.size === 0) return 0;
    const { segs, op } = route(method, url, this.s.opts.defaultVersion);
    return this.s.faults.take('arrival', op, pathPage(segs), now)?.delayMs ?? 0;
  }

  handle(input: GraphInput): ResponsePlan {
    const { s } = this;
    const { segs, op, query, version } = route(input.method, input.url, s.opts.defaultVersion);
    s.byEndpoint[op] = (s.byEndpoint[op] ?? 0) + 1;

    const headers: Record<string, string> = {
      'content-type': JSON_TYPE,
      'facebook-api-version': version,
      'x-fb-trace-id': s.streams.traceId(),
    };
    const plan: ResponsePlan = { status: 200, body: '', headers, drop: false, delayMs: 0, op };
    let usagePage: string | undefined;
    try {
      const params = parseParams(query, input.body, input.contentType);
      const ctx: ob.OnboardingContext = {
        identity: s.identity,
        store: s.store,
        opts: s.opts,
        params,
        now: input.now,
        version,
        baseUrl: s.baseUrl,
      };
      if (op === 'dialog') return this.dialog(input.method, ctx, plan);
      const token = extractToken(params, input.authorization);
      if (op === 'debug_token') {
        plan.body = JSON.stringify(debugToken(s.store, s.identity, s.opts, params, token, (t) => this.isAppToken(t), input.now));
        return plan;
      }
      if (op === 'oauth') {
        // The token exchange authenticates with client_id/client_secret, not an access token.
        this.beforeFaults(op, undefined, input.now, plan);
        plan.body = JSON.stringify(this.afterFaults(op, undefined, input.now, ob.accessToken(ctx)));
        return plan;
      }
      if (token === undefined) throw missingTokenError();
      const principal = s.identity.tokens.get(token);
      if (principal) {
        ob.checkPrincipal(principal, s.opts, input.now);
        this.beforeFaults(op, undefined, input.now, plan);
        plan.body = JSON.stringify(this.afterFaults(op, undefined, input.now, this.principalDispatch(input.method, segs, ctx, principal)));
        return plan;
      }
      const rec = s.store.tokens.get(token);
      if (!rec) {
        if (this.isAppToken(token)) throw permissionError(WRITE_OPS.has(op));
        throw unparsableTokenError();
      }
      if (rec.invalidSubcode !== null) {
        throw new SimGraphError(190, tokenErrorMessage(rec.invalidSubcode, s.opts.appId, rec.invalidatedAt), {
          subcode: rec.invalidSubcode,
        });
      }
      usagePage = rec.pageId;
      const throttled = s.limiter.isThrottled(usagePage, input.now);
      s.limiter.record(usagePage, input.now);
      if (throttled) throw errorFor(80001);

      const faultPage = pathPage(segs) ?? usagePage;
      this.beforeFaults(op, faultPage, input.now, plan);
      s.store.promoteDue(input.now);
      const result = this.dispatch(input.method, segs, op, params, rec.pageId, version, input.now, faultPage);
      plan.body = JSON.stringify(this.afterFaults(op, faultPage, input.now, result));
    } catch (err) {
      if (err instanceof PlannedDrop) {
        plan.drop = true;
      } else if (err instanceof PlannedHtml) {
        plan.status = err.status;
        plan.body = HTML_ERROR;
        headers['content-type'] = 'text/html; charset=utf-8';
      } else {
        const ge = err instanceof SimGraphError ? err : this.unexpected(err);
        plan.status = ge.status;
        plan.body = JSON.stringify(envelope(ge, headers['x-fb-trace-id']!));
        if (ge.wwwAuthenticate) headers['www-authenticate'] = wwwAuthenticateValue(ge);
      }
    }
    if (usagePage !== undefined) {
      const usage = s.limiter.headerValue(usagePage, input.now);
      if (usage !== undefined) headers['x-business-use-case-usage'] = usage;
    }
    return plan;
  }

  /** After-process faults: the work is done, then the answer is lost or replaced by an error. */
  private afterFaults<T>(op: Op, pageId: string | undefined, now: number, result: T): T {
    const after = this.s.faults.take('after', op, pageId, now);
    if (after?.kind === 'drop-after-process') throw new PlannedDrop();
    if (after?.kind === 'error-after-process') {
      throw errorFor(after.code ?? 2, after.subcode, after.message, after.status, after.type);
    }
    return result;
  }

  /** The Login dialog answers HTML or a redirect, never the JSON envelope (it lives on www.facebook.com). */
  private dialog(method: string, ctx: ob.OnboardingContext, plan: ResponsePlan): ResponsePlan {
    const r = method === 'GET' ? ob.loginDialog(ctx) : ({ status: 400, html: HTML_ERROR } as const);
    plan.status = r.status;
    if (r.status === 302) {
      plan.headers = { location: r.location, 'cache-control': 'private, no-cache, no-store, must-revalidate' };
    } else {
      plan.headers = { 'content-type': 'text/html; charset=utf-8' };
      plan.body = r.html;
    }
    return plan;
  }

  /** What a user or system-user token can reach: /me, /me/permissions, /me/accounts and Page reads. */
  private principalDispatch(method: string, segs: string[], ctx: ob.OnboardingContext, t: PrincipalToken): unknown {
    const m = method === 'GET' ? 'get' : method === 'DELETE' ? 'delete' : 'post';
    const node = segs[0];
    if (node === undefined) throw new SimGraphError(2500, 'Unknown path components: /');
    const self = node === 'me' || node === t.subjectId;
    if (m !== 'get') {
      // Publishing needs a Page token: a user token on a Page edge gets the (#200) publish error.
      if (segs.length === 2 && this.s.store.pages.has(node)) throw permissionError(true);
      throw unsupportedRequest(m, node);
    }
    if (segs.length === 1) {
      if (self) return ob.meView(ctx, t);
      return ob.pageForPrincipal(ctx, t, node);
    }
    if (segs.length === 2 && self) {
      if (segs[1] === 'accounts') return ob.listAccounts(ctx, t, node);
      if (segs[1] === 'permissions') return ob.permissionsView(t);
    }
    if (!self && !this.s.store.pages.has(node)) throw unsupportedRequest(m, node);
    throw new SimGraphError(2500, `Unknown path components: /${segs.slice(1).join('/')}`);
  }

  private unexpected(err: unknown): SimGraphError {
    this.s.logError(err);
    return errorFor(1);
  }

  private isAppToken(token: string): boolean {
    return token.startsWith(`${this.s.opts.appId}|`) && token.length > this.s.opts.appId.length + 1;
  }

  private beforeFaults(op: Op, pageId: string | undefined, now: number, plan: ResponsePlan): void {
    const { s } = this;
    if (WRITE_OPS.has(op) && s.opts.errorRate > 0 && s.streams.faults() < s.opts.errorRate) throw errorFor(2);
    const rule = s.faults.take('before', op, pageId, now);
    if (!rule) return;
    switch (rule.kind) {
      case 'error':
        throw errorFor(rule.code ?? 2, rule.subcode, rule.message, rule.status, rule.type);
      case 'incident':
        throw errorFor(2);
      case 'html-error':
        throw new PlannedHtml(rule.status ?? 502);
      case 'drop-before-process':
        throw new PlannedDrop();
      case 'delay':
        plan.delayMs = rule.delayMs ?? 0;
        return;
      default:
        return;
    }
  }

  private ownPage(id: string, tokenPage: string, method: 'get' | 'post' | 'delete', writing: boolean): StoredPage {
    const page = this.s.store.pages.get(id);
    if (!page) throw unsupportedRequest(method, id);
    if (page.id !== tokenPage) throw permissionError(writing);
    return page;
  }

  private dispatch(
    method: string,
    segs: string[],
    op: Op,
    params: Params,
    tokenPage: string,
    version: string,
    now: number,
    faultPage: string | undefined,
  ): unknown {
    const { store } = this.s;
    const ctx: h.HandlerContext = { store, opts: this.s.opts, now, params, version, baseUrl: this.s.baseUrl };
    const m = method === 'GET' ? 'get' : method === 'DELETE' ? 'delete' : 'post';
    if (segs.length === 0) {
      if (method === 'POST') throw invalidParam('Batch requests are not supported by this simulator');
      throw new SimGraphError(2500, 'Unknown path components: /');
    }
    if (segs.length === 2) {
      const edge = segs[1]!;
      if (op === 'feed') return h.createFeedPost(ctx, this.ownPage(segs[0]!, tokenPage, m, true));
      if (op === 'photos') return h.createPhoto(ctx, this.ownPage(segs[0]!, tokenPage, m, true));
      if (op === 'list') {
        const page = this.ownPage(segs[0]!, tokenPage, m, false);
        // Read-after-create lag on listings too: a read-lag rule matching 'list' hides posts younger than its delayMs.
        const lag = this.s.faults.take('read', op, faultPage, now);
        return h.listPosts(ctx, page, edge as h.ListEdge, lag ? now - (lag.delayMs ?? 0) : undefined);
      }
      if (!store.pages.has(segs[0]!) && segs[0] !== 'me') throw unsupportedRequest(m, segs[0]!);
      throw new SimGraphError(2500, `Unknown path components: /${edge}`);
    }
    if (segs.length > 2) throw new SimGraphError(2500, `Unknown path components: /${segs.slice(1).join('/')}`);
    if (method !== 'GET' && method !== 'POST' && method !== 'DELETE') throw unsupportedRequest(m, segs[0]!);

    const id = segs[0]!;
    const fields = parseFields(params['fields']);
    if (id === 'me') {
      if (m !== 'get') throw unsupportedRequest(m, id);
      return pageView(store.pages.get(tokenPage)!, fields);
    }
    const post = store.posts.get(id);
    if (post) {
      if (post.isDeleted) throw unsupportedRequest(m, id);
      const page = store.pages.get(post.pageId)!;
      if (m === 'get') {
        if (post.pageId !== tokenPage) throw unsupportedRequest('get', id);
        // Read-after-create lag (§6.3.3): a freshly created post is not readable yet.
        const lag = this.s.faults.take('read', op, faultPage, now, (r) => now - post.createdAt < (r.delayMs ?? 0));
        if (lag) throw unsupportedRequest('get', id);
        return h.getPost(ctx, post, page);
      }
      if (post.pageId !== tokenPage) throw permissionError(false);
      return m === 'post' ? h.updatePost(ctx, post, page) : h.deletePost(ctx, post);
    }
    const photo = store.photos.get(id);
    if (photo && !photo.deleted) {
      if (photo.pageId !== tokenPage) {
        if (m === 'get') throw unsupportedRequest('get', id);
        throw permissionError(false);
      }
      if (m === 'get') return photoView(photo, fields, store.pages.get(photo.pageId)!, store.photos);
      if (m === 'delete') return h.deletePhoto(ctx, id);
      throw unsupportedRequest(m, id);
    }
    const page = store.pages.get(id);
    if (page && m === 'get') return pageView(page, fields);
    throw unsupportedRequest(m, id);
  }
}
