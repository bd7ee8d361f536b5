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

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

/** Every variable the service reads. Parsed once at start; see .env.example for comments. */
export const EnvSchema = z.object({
  /** HTTP port of the REST API. */
  PORT: int(3000, 0, 65535),
  /** Interface the API binds to. */
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  /** Redis holding the BullMQ queues (needs `maxmemory-policy noeviction`). */
  REDIS_URL: z.string().trim().regex(/^rediss?:\/\/.+/, 'expected redis://host:port[/db]').default('redis://127.0.0.1:6379'),
  /** The store, which is the ledger of record: SQLite file by default, PostgreSQL when a postgres:// URL. */
  DATABASE_URL: databaseUrl.default('sqlite:./data/lantoa.db'),
  /** Base URL of the Graph API (the simulator's URL in tests, demo and bench). */
  GRAPH_API_URL: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).default('https://graph.facebook.com'),
  /** Graph API version prefix. */
  GRAPH_API_VERSION: z.string().trim().regex(/^v\d+\.\d+$/, 'expected a version like v25.0').default('v25.0'),
  /** Per-request timeout for Graph calls, in ms. */
  GRAPH_TIMEOUT_MS: int(30_000, 100, 600_000),
  /** AES-256-GCM key for Page tokens at rest. Required by `npm start` and the workers. */
  TOKEN_ENCRYPTION_KEY: encryptionKey.optional(),
  /** Bootstrap admin API key over `root`; use it to create the real keys. */
  ADMIN_API_KEY: z.string().trim().min(16, 'expected at least 16 characters').optional(),
  /** Deliveries processed at once by each worker process. */
  WORKER_CONCURRENCY: int(50, 1, 1000),
  /** Prefix of every BullMQ key in Redis. */
  QUEUE_PREFIX: z.string().trim().regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, _ or -').default('lantoa'),
  /** Attempts per delivery before it is marked failed (transient errors only). */
  DELIVERY_ATTEMPTS: int(10, 1, 50),
  /** Base delay of the exponential retry backoff, in ms (10 attempts × 7 s base ≈ one hour in total). */
  DELIVERY_BACKOFF_MS: int(7_000, 10, 3_600_000),
  /** Delivery jobs added per addBulk call during fan-out. */
  FANOUT_CHUNK_SIZE: int(500, 1, 5000),
  /** pino level. */
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  /**
   * Lock of an active job, in ms (BullMQ lockDuration; the stalled-job check runs at the same interval).
   * A job whose worker died (kill -9) is re-run elsewhere after roughly one to two of these.
   * BullMQ's default is 30 s; the reliability suite uses a few seconds to recover faster.
   */
  WORKER_LOCK_MS: int(30_000, 1_000, 600_000),
  /**
   * How often the reconciler re-enqueues what the store says is unfinished, in ms (a BullMQ job scheduler;
   * each worker also re-creates the scheduler within this period if Redis forgot it). The suite uses a few seconds.
   */
  RECONCILE_INTERVAL_MS: int(30_000, 1_000, 3_600_000),
});

export type Env = z.infer<typeof EnvSchema>;
