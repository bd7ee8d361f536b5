import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Accepts `sqlite:<path>` (relative, absolute or `:memory:`) or `postgres://…` / `postgresql://…`. */
const databaseUrl = z
  .string()
  .trim()
  .refine((v) => /^sqlite:.+/.test(v) || /^postgres(ql)?:\/\/.+/.test(v), {
    message: 'expected sqlite:<path> or postgres://user@host:port/db',
  });

/** 32 random bytes, base64 encoded (e.g. `openssl rand -base64 32`). */
const encryptionKey = z
  .string()
  .trim()
  .refine((v) => /^[A-Za-z0-9+/_-]+={0,2}$/.test(v) && Buffer.from(v, 'base64').length === 32, {
    message: 'expected 32 bytes encoded as base64 (openssl rand -base64 32)',
  });

/** Comma-separated list of retired encryption keys (same format), still accepted for decryption. */
const oldEncryptionKeys = z
  .string()
  .trim()
  .refine((v) => v.split(',').every((k) => /^[A-Za-z0-9+/_-]+={0,2}$/.test(k.trim()) && Buffer.from(k.trim(), 'base64').length === 32), {
    message: 'expected a comma-separated list of 32-byte base64 keys',
  });

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

/** Default of WORKER_CONCURRENCY (README, "Choosing WORKER_CONCURRENCY"). */
export const DEFAULT_WORKER_CONCURRENCY = 500;

/** Every variable the service reads. Parsed once at start; see .env.example for comments. */
export const EnvSchema = z
  .object({
    /** HTTP port of the REST API. */
    PORT: int(3000, 0, 65535),
    /** Interface the API binds to. */
    HOST: z.string().trim().min(1).default('127.0.0.1'),
    /** Redis holding the BullMQ queues (needs `maxmemory-policy noeviction`). */
    REDIS_URL: z
      .string()
      .trim()
      .regex(/^rediss?:\/\/.+/, 'expected redis://host:port[/db]')
      .default('redis://127.0.0.1:6379'),
    /** The store, which is the ledger of record: SQLite file by default, PostgreSQL when a postgres:// URL. */
    DATABASE_URL: databaseUrl.default('sqlite:./data/lantoa.db'),
    /**
     * At start, how long to wait for an unreachable store (PostgreSQL down or restarting, SQLite file
     * locked) before exiting non-zero, in ms. The process retries with a capped backoff meanwhile; 0 = one try.
     */
    STORE_STARTUP_TIMEOUT_MS: int(60_000, 0, 3_600_000),
    /** Base URL of the Graph API (the simulator's URL in tests, demo and bench). */
    GRAPH_API_URL: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).default('https://graph.facebook.com'),
    /** Graph API version prefix. */
    GRAPH_API_VERSION: z
      .string()
      .trim()
      .regex(/^v\d+\.\d+$/, 'expected a version like v25.0')
      .default('v25.0'),
    /** Per-request timeout for Graph calls, in ms. */
    GRAPH_TIMEOUT_MS: int(30_000, 100, 600_000),
    /** AES-256-GCM key for Page tokens at rest. Required by `npm start` and the workers. */
    TOKEN_ENCRYPTION_KEY: encryptionKey.optional(),
    /** Bootstrap admin API key over `root`; use it to create the real keys. */
    ADMIN_API_KEY: z.string().trim().min(16, 'expected at least 16 characters').optional(),
    /** Deliveries processed at once by each worker process. */
    WORKER_CONCURRENCY: int(DEFAULT_WORKER_CONCURRENCY, 1, 1000),
    /**
     * Most PostgreSQL connections one process opens (ignored for SQLite). Unset: min(WORKER_CONCURRENCY + 5, 60)
     * (see `defaultPgPoolMax`). Size PostgreSQL's `max_connections` for the sum over every process.
     */
    PG_POOL_MAX: z.coerce.number().int().min(2).max(1000).optional(),
    /** Prefix of every BullMQ key in Redis. */
    QUEUE_PREFIX: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, _ or -')
      .default('lantoa'),
    /** Attempts per delivery before it is marked failed (transient errors only). */
    DELIVERY_ATTEMPTS: int(10, 1, 50),
    /** Base delay of the exponential retry backoff, in ms (10 attempts × 7 s base ≈ one hour in total). */
    DELIVERY_BACKOFF_MS: int(7_000, 10, 3_600_000),
    /** Delivery jobs added per addBulk call during fan-out. */
    FANOUT_CHUNK_SIZE: int(500, 1, 5000),
    /**
     * Length of one minute of a post's `spread`, in ms. 60000 in production; tests shorten it so a spread
     * of a few "minutes" runs in seconds (the API contract stays whole minutes).
     */
    SPREAD_MINUTE_MS: int(60_000, 10, 60_000),
    /** Minimum time between two writes to the same Page, in ms (stretched when Meta reports usage ≥ 80 %). */
    PAGE_MIN_SPACING_MS: int(2_000, 0, 3_600_000),
    /** Spacing between any two writes while the app's usage is ≥ 80 %, in ms. */
    APP_SLOW_SPACING_MS: int(100, 0, 60_000),
    /**
     * After an attempt whose outcome is unknown, wait at least this long before reading the Page back
     * (Graph can take a moment to list a just-created post; reading too early would post it twice).
     */
    READBACK_DELAY_MS: int(15_000, 0, 3_600_000),
    /** pino level. */
    LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),

    // --- ops: metrics, webhooks, queue UI (issue 5) ---
    /** When set, `/metrics` (API and worker listener) requires `Authorization: Bearer <METRICS_TOKEN>`; unset = open on the bind address. */
    METRICS_TOKEN: z.string().trim().min(16, 'expected at least 16 characters').optional(),
    /** Port of the metrics listener of `npm run start:worker` processes (the API serves `/metrics` on PORT); 0 = no listener. */
    METRICS_PORT: int(9464, 0, 65535),
    /** Interface the worker metrics listener binds to (0.0.0.0 inside containers so Prometheus can scrape it). */
    METRICS_HOST: z.string().trim().min(1).default('127.0.0.1'),
    /** Attempts per webhook delivery (5xx, 408, 429 and network errors are retried; other 4xx are not). */
    WEBHOOK_ATTEMPTS: int(8, 1, 30),
    /** Base delay of the exponential webhook retry backoff, in ms (8 attempts × 10 s base ≈ 21 min in total). */
    WEBHOOK_BACKOFF_MS: int(10_000, 10, 3_600_000),
    /** Per-request timeout of a webhook POST, in ms. */
    WEBHOOK_TIMEOUT_MS: int(10_000, 100, 120_000),
    /** Lifetime of the HttpOnly session cookie that `POST /admin/session` sets for the queue UI, in ms. */
    ADMIN_SESSION_TTL_MS: int(1_800_000, 60_000, 86_400_000),
    // Governance and security (issue 4).
    /** Retired TOKEN_ENCRYPTION_KEY values, comma-separated: still decrypt; `lantoa tokens rotate-key` re-encrypts with the current key. */
    TOKEN_ENCRYPTION_KEYS_OLD: oldEncryptionKeys.optional(),
    /** Facebook app id; with FB_APP_SECRET it forms the app token for debug_token (token health). Unset: no token sweep. */
    FB_APP_ID: z
      .string()
      .trim()
      .regex(/^\d{1,32}$/, 'expected a numeric app id')
      .optional(),
    /** Facebook app secret (never logged). Required together with FB_APP_ID. */
    FB_APP_SECRET: z.string().trim().min(8, 'expected at least 8 characters').optional(),
    /** Facebook Login for Business configuration id; set, the connect links' dialog sends `config_id` instead of `scope`. */
    FB_LOGIN_CONFIG_ID: z
      .string()
      .trim()
      .regex(/^\d{1,32}$/, 'expected a numeric configuration id')
      .optional(),
    /** Base URL of the Facebook Login dialog (the simulator's URL in tests and the demo). */
    FB_DIALOG_URL: z.url({ error: 'expected an http(s) URL' }).default('https://www.facebook.com'),
    /** Public base URL of this API, for the connect links and the OAuth redirect URI (`<PUBLIC_BASE_URL>/connect/callback`). */
    PUBLIC_BASE_URL: z.url({ error: 'expected an http(s) URL' }).optional(),
    /** Minutes between two syncs of the Page tokens from the Business Manager system user (when connected). */
    PAGE_SYNC_EVERY_MINUTES: int(1440, 5, 43_200),
    /** Minutes between two debug_token sweeps of every Page token; also the age after which a fan-out re-checks a Page first. */
    TOKEN_SWEEP_EVERY_MINUTES: int(360, 1, 10_080),
    /** A token expiring within this many days is marked `expiring`. */
    TOKEN_EXPIRING_DAYS: int(7, 1, 90),
    /** Requests per API key per window (Redis-backed, answered 429 with Retry-After); 0 turns the limit off. */
    RATE_LIMIT_MAX: int(600, 0, 1_000_000),
    /** Length of the rate-limit window, in ms. */
    RATE_LIMIT_WINDOW_MS: int(60_000, 1_000, 3_600_000),

    // --- reliability (issue 3, item 8) ---
    /**
     * Lock of an active job, in ms (BullMQ lockDuration; the stalled-job check runs at the same interval).
     * A job whose worker died (kill -9) is re-run elsewhere after roughly one to two of these. Keep it well
     * above the longest event-loop stall a worker can have. BullMQ's default is 30 s; the reliability suite
     * uses a few seconds to recover faster.
     */
    WORKER_LOCK_MS: int(30_000, 1_000, 600_000),
  })
  .superRefine((env, ctx) => {
    if ((env.FB_APP_ID === undefined) !== (env.FB_APP_SECRET === undefined)) {
      const missing = env.FB_APP_ID === undefined ? 'FB_APP_ID' : 'FB_APP_SECRET';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'FB_APP_ID and FB_APP_SECRET must be set together' });
    }
  });

export type Env = z.infer<typeof EnvSchema>;
