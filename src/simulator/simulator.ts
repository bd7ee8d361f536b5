/**
 * Facebook Graph API simulator: a real HTTP server (node:http) implementing
 * the Page publishing surface of docs/graph-api.md, with a control API under
 * `/_sim/` and an in-process control surface for tests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BodyTooLargeError, readBody } from './body';
import { handleControl } from './control';
import { FaultEngine } from './faults';
import { GraphHandler, type SimState } from './graph-handler';
import { IdentityStore, type IdentitySnapshot } from './identity';
import { sampleLatency, validateLatency } from './latency';
import { RandomStreams } from './prng';
import { RateLimiter } from './rate-limit';
import { SimStore, toSimPost, type StoreSnapshot } from './store';
import type {
  DialogBehaviour,
  FaultRule,
  GraphSimulator,
  InvalidationSubcode,
  PageSeed,
  ResolvedOptions,
  SimPost,
  SimStats,
  SimulatorOptions,
  SystemUserSeed,
  UserSeed,
} from './types';

export type * from './types';

/** What `--state` keeps: Pages with their tokens and posts, photos, people and system users (not usage, faults or codes). */
export interface SimSnapshot {
  version: 1;
  store: StoreSnapshot;
  identity: IdentitySnapshot;
}

/** The simulator with its state as data: `npm run sim -- --state <file>` saves and restores it. */
export interface PersistentGraphSimulator extends GraphSimulator {
  /** A JSON-serialisable copy of the state; it holds every token the simulator issued. */
  exportState(): SimSnapshot;
  /** Replaces the state with a snapshot (from exportState, possibly of another run). */
  importState(snapshot: SimSnapshot): void;
  /** The Page's current token (the last seeded or re-issued one) while it is valid; undefined for an unknown Page or an invalidated token. */
  currentPageToken(pageId: string): string | undefined;
  /** Calls `listener` after each request has been answered (any request may have changed the state). */
  onChange(listener: () => void): void;
}

const GRAPH_BODY_LIMIT = 10 * 1024 * 1024;
const CONTROL_BODY_LIMIT = 64 * 1024 * 1024;
const CONTROL_PREFIX = '/_sim/';

function resolveOptions(o: SimulatorOptions): ResolvedOptions {
  const r: ResolvedOptions = {
    seed: o.seed ?? 1,
    latency: validateLatency(o.latency ?? { kind: 'fixed', ms: 0 }),
    errorRate: o.errorRate ?? 0,
    duplicateMode: o.duplicateMode ?? 'consecutive',
    duplicateWindowMs: o.duplicateWindowMs ?? 12 * 3_600_000,
    appId: o.appId ?? '100000000000001',
    appSecret: o.appSecret ?? 'sim-app-secret',
    redirectUris: o.redirectUris ?? [],
    loginConfigs: o.loginConfigs ?? {},
    defaultVersion: o.defaultVersion ?? 'v25.0',
    bucCallsPerDay: o.bucCallsPerDay ?? 4800,
    scheduleMaxLeadDays: o.scheduleMaxLeadDays ?? 30,
    now: o.now ?? Date.now,
    logger: o.logger,
  };
  if (!Number.isFinite(r.seed)) throw new TypeError('seed must be a number');
  if (!(r.errorRate >= 0 && r.errorRate <= 1)) throw new TypeError('errorRate must be in 0..1');
  if (!['off', 'consecutive', 'window'].includes(r.duplicateMode)) throw new TypeError('invalid duplicateMode');
  if (!(r.bucCallsPerDay > 0)) throw new TypeError('bucCallsPerDay must be > 0');
  if (!/^v\d+\.\d+$/.test(r.defaultVersion)) throw new TypeError('defaultVersion must look like v25.0');
  if (typeof r.appId !== 'string' || r.appId.length === 0) throw new TypeError('appId must be a non-empty string');
  if (typeof r.appSecret !== 'string' || r.appSecret.length === 0) throw new TypeError('appSecret must be a non-empty string');
  if (!Array.isArray(r.redirectUris) || !r.redirectUris.every((u) => typeof u === 'string' && URL.canParse(u))) {
    throw new TypeError('redirectUris must be an array of absolute URLs');
  }
  const configs = r.loginConfigs as unknown;
  if (
    !configs ||
    typeof configs !== 'object' ||
    Array.isArray(configs) ||
    !Object.values(configs).every((v) => Array.isArray(v) && v.every((x) => typeof x === 'string'))
  ) {
    throw new TypeError('loginConfigs must map config ids to arrays of permission names');
  }
  return r;
}

class Simulator implements PersistentGraphSimulator {
  private readonly initial: SimulatorOptions;
  private opts: ResolvedOptions;
  private readonly streams: RandomStreams;
  private readonly store: SimStore;
  private readonly identity = new IdentityStore();
  private readonly limiter: RateLimiter;
  private readonly faults: FaultEngine;
  private readonly state: SimState;
  private readonly handler: GraphHandler;
  private readonly timers = new Set<NodeJS.Timeout>();
  private server: Server | undefined;
  private baseUrl = '';
  private requests = 0;
  private readonly changeListeners: Array<() => void> = [];

  constructor(options: SimulatorOptions) {
    this.initial = { ...options };
    this.opts = resolveOptions(options);
    this.streams = new RandomStreams(this.opts.seed);
    this.store = new SimStore(() => this.streams.ids);
    this.limiter = new RateLimiter(this.opts.bucCallsPerDay);
    this.faults = new FaultEngine(() => this.streams.faults);
    this.state = {
      store: this.store,
      identity: this.identity,
      limiter: this.limiter,
      faults: this.faults,
      streams: this.streams,
      opts: this.opts,
      baseUrl: '',
      byEndpoint: {},
      logError: (err) => this.opts.logger?.error({ err }, 'graph simulator handler failed'),
    };
    this.handler = new GraphHandler(this.state);
  }

  get url(): string {
    return this.baseUrl;
  }

  start(port = 0, host = '127.0.0.1'): Promise<string> {
    if (this.server) return Promise.reject(new Error('simulator already started'));
    const server = createServer({ noDelay: true }, (req, res) => this.onRequest(req, res));
    // Longer than typical client idle timeouts so keep-alive sockets are closed by the client first.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const addr = server.address() as AddressInfo;
        const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
        this.baseUrl = `http://${h}:${addr.port}`;
        this.state.baseUrl = this.baseUrl;
        this.opts.logger?.info({ url: this.baseUrl }, 'graph simulator listening');
        resolve(this.baseUrl);
      });
    });
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  seedPages(pages: PageSeed[]): void {
    for (const p of pages) {
      if (typeof p?.token === 'string' && this.identity.tokens.has(p.token)) {
        throw new TypeError(`page ${p.id}: token is a system-user or user token`);
      }
    }
    this.store.seedPages(pages, this.opts.now());
  }

  seedUsers(users: UserSeed[]): void {
    if (!Array.isArray(users)) throw new TypeError('users must be an array');
    this.identity.seedUsers(users);
  }

  seedSystemUsers(users: SystemUserSeed[]): void {
    if (!Array.isArray(users)) throw new TypeError('system users must be an array');
    this.identity.seedSystemUsers(users, this.opts.now(), (t) => this.store.tokens.has(t));
  }

  setDialog(behaviour: DialogBehaviour): void {
    this.identity.setDialog(behaviour);
  }

  expireCodes(): number {
    return this.identity.expireCodes(this.opts.now());
  }

  expireUserTokens(): number {
    return this.identity.expireUserTokens(this.opts.now());
  }

  configure(patch: Partial<SimulatorOptions>): void {
    const merged = resolveOptions({ ...this.opts, ...patch });
    this.opts = merged;
    this.state.opts = merged;
    this.limiter.budgetPerDay = merged.bucCallsPerDay;
    if (patch.seed !== undefined) this.streams.reseed(merged.seed);
  }

  visibleCounts(): Map<string, number> {
    this.store.promoteDue(this.opts.now());
    const out = new Map<string, number>();
    for (const page of this.store.pages.values()) out.set(page.id, page.visible);
    return out;
  }

  postsOf(pageId: string): SimPost[] {
    this.store.promoteDue(this.opts.now());
    return (this.store.pages.get(pageId)?.posts ?? []).map(toSimPost);
  }

  invalidateToken(pageId: string, subcode: InvalidationSubcode): void {
    if (!this.store.pages.has(pageId)) throw new TypeError(`unknown page: ${pageId}`);
    this.store.invalidatePageTokens(pageId, subcode, this.opts.now());
  }

  setUsagePercent(pageId: string, percent: number, regainMinutes?: number): void {
    this.limiter.setPercent(pageId, percent, this.opts.now(), regainMinutes);
  }

  addFaults(rules: FaultRule[]): void {
    this.faults.add(rules, this.opts.now());
  }

  clearFaults(): void {
    this.faults.clear();
  }

  listFaults(): FaultRule[] {
    return this.faults.list();
  }

  requestCount(): number {
    return this.requests;
  }

  stats(): SimStats {
    this.store.promoteDue(this.opts.now());
    return {
      requests: this.requests,
      posts: this.store.posts.size,
      visible: this.store.totalVisible,
      byEndpoint: { ...this.state.byEndpoint },
    };
  }

  /**
   * Clears posts, photos, usage, faults, counters, codes, user tokens and the dialog, and restores the
   * construction options and seed. `keepPages` also keeps people and system users.
   */
  reset(opts: { keepPages?: boolean } = {}): void {
    this.store.clear(opts.keepPages === true);
    this.identity.clear(opts.keepPages === true);
    this.limiter.clear();
    this.faults.clear();
    this.requests = 0;
    this.state.byEndpoint = {};
    this.opts = resolveOptions(this.initial);
    this.state.opts = this.opts;
    this.limiter.budgetPerDay = this.opts.bucCallsPerDay;
    this.streams.reseed(this.opts.seed);
  }

  exportState(): SimSnapshot {
    this.store.promoteDue(this.opts.now());
    return JSON.parse(JSON.stringify({ version: 1, store: this.store.snapshot(), identity: this.identity.snapshot() })) as SimSnapshot;
  }

  importState(snapshot: SimSnapshot): void {
    const copy = JSON.parse(JSON.stringify(snapshot)) as SimSnapshot;
    this.store.restore(copy.store);
    this.identity.restore(copy.identity);
  }

  currentPageToken(pageId: string): string | undefined {
    const page = this.store.pages.get(pageId);
    const rec = page && this.store.tokens.get(page.token);
    return page && rec?.pageId === pageId && rec.invalidSubcode === null ? page.token : undefined;
  }

  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    if (this.changeListeners.length) res.once('close', () => this.changeListeners.forEach((l) => l()));
    if (url.startsWith(CONTROL_PREFIX)) {
      readBody(req, CONTROL_BODY_LIMIT).then(
        (raw) => {
          const q = url.indexOf('?');
          const result = handleControl(this, req.method ?? 'GET', q >= 0 ? url.slice(0, q) : url, raw);
          const body = JSON.stringify(result.body);
          res.writeHead(result.status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(body) });
          res.end(body);
        },
        () => req.socket.destroy(),
      );
      return;
    }
    this.requests++;
    readBody(req, GRAPH_BODY_LIMIT)
      .then(
        (raw) => this.serveGraph(req, res, url, raw),
        (err: unknown) => {
          if (err instanceof BodyTooLargeError && !res.headersSent) {
            res.writeHead(413, { connection: 'close' });
            res.end();
          }
          req.socket.destroy();
        },
      )
      .catch((err: unknown) => {
        this.opts.logger?.error({ err }, 'graph simulator request failed');
        req.socket.destroy();
      });
  }

  private async serveGraph(req: IncomingMessage, res: ServerResponse, url: string, raw: string): Promise<void> {
    // An arrive-late fault: the request reaches "Graph" only now (it is processed, and its post created, after the hold).
    const hold = this.handler.arrivalHold(req.method ?? 'GET', url, this.opts.now());
    if (hold > 0) await this.sleep(hold);
    const spec = this.opts.latency;
    const modelled = spec.kind === 'lognormal' || spec.ms > 0;
    let latency = 0;
    if (modelled) {
      latency = sampleLatency(spec, this.streams.latency);
      if (latency > 0) await this.sleep(latency);
    }
    const plan = this.handler.handle({
      method: req.method ?? 'GET',
      url,
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
      body: raw,
      now: this.opts.now(),
    });
    if (plan.drop) {
      req.socket.destroy();
      return;
    }
    if (plan.delayMs > 0) await this.sleep(plan.delayMs);
    if (res.destroyed || res.writableEnded) return;
    if (modelled) plan.headers['x-sim-latency-ms'] = String(latency);
    plan.headers['content-length'] = String(Buffer.byteLength(plan.body));
    res.writeHead(plan.status, plan.headers);
    res.end(plan.body);
  }
}

/** Creates a simulator; call `start()` to listen. */
export function createGraphSimulator(opts: SimulatorOptions = {}): PersistentGraphSimulator {
  return new Simulator(opts);
}
