import type { Logger } from 'pino';

export type LatencySpec = { kind: 'fixed'; ms: number } | { kind: 'lognormal'; medianMs: number; sigma: number };

export type DuplicateMode = 'off' | 'consecutive' | 'window';

export interface SimulatorOptions {
  /** Seed for every random choice (latency, errors, ids, trace ids). @defaultValue 1 */
  seed?: number;
  /** Latency applied to every Graph request before it is processed. @defaultValue fixed 0 ms */
  latency?: LatencySpec;
  /** Fraction (0..1) of write calls failing with HTTP 500 code 2 before anything is created. @defaultValue 0 */
  errorRate?: number;
  /** Duplicate-post rule of spec §6.1. @defaultValue 'consecutive' */
  duplicateMode?: DuplicateMode;
  /** Window for `duplicateMode: 'window'`, in ms. @defaultValue 12 h */
  duplicateWindowMs?: number;
  /** App id reported by debug_token; app tokens look like `{appId}|{secret}`. @defaultValue '100000000000001' */
  appId?: string;
  /** App secret the OAuth token exchange checks (`client_secret`). debug_token accepts any `{appId}|…`. @defaultValue 'sim-app-secret' */
  appSecret?: string;
  /** The app's "Valid OAuth Redirect URIs"; the dialog accepts a `redirect_uri` only on an exact match. @defaultValue [] */
  redirectUris?: string[];
  /** Facebook Login for Business configurations: `config_id` → the permissions it grants (unlisted ids grant a default set). @defaultValue {} */
  loginConfigs?: Record<string, string[]>;
  /** Version used for unversioned paths and reported in `facebook-api-version`. @defaultValue 'v25.0' */
  defaultVersion?: string;
  /** Per-Page call budget per rolling 24 h for the BUC usage percentage. @defaultValue 4800 */
  bucCallsPerDay?: number;
  /** Longest allowed lead for `scheduled_publish_time`, in days (min lead is 10 min). @defaultValue 30 */
  scheduleMaxLeadDays?: number;
  /** Optional logger; tokens are never logged. */
  logger?: Logger;
  /** Clock (ms since epoch), injectable for tests. @defaultValue Date.now */
  now?: () => number;
}

export type ResolvedOptions = Required<Omit<SimulatorOptions, 'logger'>> & { logger?: Logger };

export interface SimPost {
  id: string;
  pageId: string;
  message?: string;
  link?: string;
  /** Photo ids attached to the post (feed `attached_media`, or the photo of a photo post). */
  attachedMedia: string[];
  /** ms since epoch */
  createdAt: number;
  updatedAt: number;
  isPublished: boolean;
  /** unix seconds, set while the post is scheduled */
  scheduledPublishTime?: number;
  isDeleted: boolean;
  isHidden: boolean;
  clientMutationId?: string;
  permalinkUrl: string;
  /** Which edge created it. */
  via: 'feed' | 'photos';
}

export type FaultKind =
  | 'error'
  | 'html-error'
  | 'drop-before-process'
  | 'drop-after-process'
  | 'delay'
  | 'error-after-process'
  | 'read-lag'
  | 'incident'
  | 'arrive-late';

/** `oauth` = /oauth/access_token, `accounts` = /{user}/accounts (the Login dialog itself takes no faults). */
export type FaultEndpoint = 'feed' | 'photos' | 'get' | 'edit' | 'delete' | 'list' | 'oauth' | 'accounts' | 'any-write' | 'any';

export interface FaultRule {
  kind: FaultKind;
  /** Only requests targeting this Page (path page, post-id prefix, or token's Page). */
  pageId?: string;
  /**
   * Which calls match; default 'any-write' for incident, 'get' for read-lag, 'any' otherwise.
   * read-lag on 'get' answers 100/33 for a young post; on 'list' (or 'any') it leaves young posts out of the listing.
   */
  endpoint?: FaultEndpoint;
  /** Probability (0..1, seeded) that a matching call is hit. @defaultValue 1 */
  rate?: number;
  /** Apply to the next N matching calls only, then the rule is removed. */
  count?: number;
  /** error / error-after-process: Graph error code (default 2). */
  code?: number;
  subcode?: number;
  /** HTTP status override (default derived from the code; html-error default 502). */
  status?: number;
  message?: string;
  type?: string;
  /**
   * delay: respond this many ms late (the work is done on time); read-lag: posts younger than this are not readable;
   * arrive-late: the request is held this long before it is processed at all (a retransmitted request, a slow front end).
   */
  delayMs?: number;
  /** incident: absolute end (ms since epoch). */
  untilMs?: number;
  /** incident: duration from when the rule is added, in ms (alternative to untilMs). */
  durationMs?: number;
}

export type PageSeed = { id: string; name?: string; token: string };

/** A Page a person or system user can act on, with the tasks they may perform (MANAGE, CREATE_CONTENT, …). */
export type PageGrant = { id: string; tasks: string[] };

/** A person (test user) who can sign in through the Login dialog. */
export type UserSeed = { id: string; name?: string; pages: PageGrant[] };

/** A business system user with its token; `expiresAt` in ms since epoch, 0 or absent = never expires. */
export type SystemUserSeed = { id: string; name?: string; token: string; scopes: string[]; pages: PageGrant[]; expiresAt?: number };

/**
 * What the Login dialog does (until changed): consent as `userId`, sharing those Pages
 * (`'all'`, the default, = every Page the person can act on, current and future), or deny.
 */
export type DialogBehaviour = { userId: string; share?: string[] | 'all' } | { deny: true };

export type InvalidationSubcode = 460 | 463 | 492 | 458 | 467;

export interface SimStats {
  requests: number;
  posts: number;
  visible: number;
  byEndpoint: Record<string, number>;
}

export interface GraphSimulator {
  start(port?: number, host?: string): Promise<string>;
  stop(): Promise<void>;
  readonly url: string;
  seedPages(pages: PageSeed[]): void;
  configure(patch: Partial<SimulatorOptions>): void;
  visibleCounts(): Map<string, number>;
  postsOf(pageId: string): SimPost[];
  invalidateToken(pageId: string, subcode: InvalidationSubcode): void;
  requestCount(): number;
  reset(opts?: { keepPages?: boolean }): void;
  /** Set a Page's BUC usage; with regainMinutes the synthetic calls age out after that many minutes. */
  setUsagePercent(pageId: string, percent: number, regainMinutes?: number): void;
  addFaults(rules: FaultRule[]): void;
  clearFaults(): void;
  listFaults(): FaultRule[];
  stats(): SimStats;
  /** People who can sign in through `/dialog/oauth`; re-seeding a person replaces their Pages. */
  seedUsers(users: UserSeed[]): void;
  /** System users whose tokens work on /me, /me/accounts and debug_token; re-seeding replaces the previous token. */
  seedSystemUsers(users: SystemUserSeed[]): void;
  /** What every following Login dialog does. */
  setDialog(behaviour: DialogBehaviour): void;
  /** Makes every authorization code issued so far expired (the exchange then answers 100/36007). Returns how many. */
  expireCodes(): number;
  /** Makes every user token (code flow and long-lived) expired (190/463). Returns how many. */
  expireUserTokens(): number;
}
