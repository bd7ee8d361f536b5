import path from 'node:path';
import dotenv from 'dotenv';
import { EnvSchema, type Env } from './schema';

export type { Env } from './schema';

/** `poolMax`: most connections this process opens to PostgreSQL (PG_POOL_MAX, or `defaultPgPoolMax`). */
export type DatabaseConfig = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; poolMax: number };

export interface Config {
  readonly env: Env;
  readonly port: number;
  readonly host: string;
  readonly redisUrl: string;
  readonly database: DatabaseConfig;
  /** STORE_STARTUP_TIMEOUT_MS: how long a starting process waits for an unreachable store. */
  readonly storeStartupTimeoutMs: number;
  readonly graph: { readonly baseUrl: string; readonly version: string; readonly timeoutMs: number };
  readonly tokenEncryptionKey: Buffer | undefined;
  readonly adminApiKey: string | undefined;
  readonly queue: {
    readonly prefix: string;
    readonly concurrency: number;
    readonly attempts: number;
    readonly backoffMs: number;
    readonly fanoutChunkSize: number;
    /** Length of one minute of a post's spread, in ms (SPREAD_MINUTE_MS; shorter only in tests). */
    readonly spreadMinuteMs: number;
    readonly pageSpacingMs: number;
    readonly appSlowSpacingMs: number;
    readonly readbackDelayMs: number;
    /** BullMQ lockDuration and stalledInterval of the workers (WORKER_LOCK_MS). */
    readonly lockMs: number;
  };
  readonly logLevel: Env['LOG_LEVEL'];
  /** Retired encryption keys still accepted for decryption (key rotation). */
  readonly oldTokenEncryptionKeys: readonly Buffer[];
  /** Facebook app credentials for debug_token; undefined disables the token-health sweep. */
  readonly facebookApp: { readonly id: string; readonly secret: string } | undefined;
  /** Connecting Pages: the Login dialog, the public URL for connect links, the Business Manager sync interval. */
  readonly onboarding: {
    readonly loginConfigId: string | undefined;
    readonly dialogUrl: string;
    readonly publicBaseUrl: string | undefined;
    readonly syncEveryMs: number;
  };
  readonly tokenHealth: { readonly sweepEveryMs: number; readonly expiringWithinMs: number };
  /** Per-key request limit; `max: 0` is off. */
  readonly rateLimit: { readonly max: number; readonly windowMs: number };
}

/** Raised when the environment does not parse; `problems` names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * The process environment merged with `.env` (values already in the environment win).
 * This module is the only place that reads `process.env`.
 */
export function readEnv(): Record<string, string | undefined> {
  const fromFile: Record<string, string> = {};
  dotenv.config({ processEnv: fromFile, quiet: true });
  return { ...fromFile, ...process.env };
}

/**
 * Default PostgreSQL pool size of one process when PG_POOL_MAX is unset: one connection per delivery in
 * flight, plus 5 for the fan-out, webhook and governance workers, the reconciler and the API's requests,
 * capped at 60 so a high concurrency does not exhaust the server (deliveries then briefly wait for a connection).
 */
export function defaultPgPoolMax(workerConcurrency: number): number {
  return Math.min(workerConcurrency + 5, 60);
}

function parseDatabaseUrl(url: string, env: Env): DatabaseConfig {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    return { kind: 'sqlite', file: file === ':memory:' ? file : path.resolve(file) };
  }
  return { kind: 'postgres', url, poolMax: env.PG_POOL_MAX ?? defaultPgPoolMax(env.WORKER_CONCURRENCY) };
}

/** Parses the environment once; throws ConfigError listing every bad variable with what was expected. */
export function loadConfig(source: Record<string, string | undefined> = readEnv()): Config {
  // Empty (or blank) values count as unset, so `FOO=` in .env falls back to the default: an empty
  // ADMIN_API_KEY is no key at all (the service then warns how to create the first admin key).
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = String(i.path[0] ?? '?');
        const got = cleaned[name];
        const shown = got === undefined || /KEY|TOKEN|SECRET|PASSWORD/.test(name) ? '' : ` (got "${got}")`;
        return `${name}: ${i.message}${shown}`;
      }),
    );
  }
  const env = parsed.data;
  return Object.freeze({
    env,
    port: env.PORT,
    host: env.HOST,
    redisUrl: env.REDIS_URL,
    database: parseDatabaseUrl(env.DATABASE_URL, env),
    storeStartupTimeoutMs: env.STORE_STARTUP_TIMEOUT_MS,
    graph: { baseUrl: env.GRAPH_API_URL.replace(/\/+$/, ''), version: env.GRAPH_API_VERSION, timeoutMs: env.GRAPH_TIMEOUT_MS },
    tokenEncryptionKey: env.TOKEN_ENCRYPTION_KEY ? Buffer.from(env.TOKEN_ENCRYPTION_KEY, 'base64') : undefined,
    adminApiKey: env.ADMIN_API_KEY,
    queue: {
      prefix: env.QUEUE_PREFIX,
      concurrency: env.WORKER_CONCURRENCY,
      attempts: env.DELIVERY_ATTEMPTS,
      backoffMs: env.DELIVERY_BACKOFF_MS,
      fanoutChunkSize: env.FANOUT_CHUNK_SIZE,
      spreadMinuteMs: env.SPREAD_MINUTE_MS,
      pageSpacingMs: env.PAGE_MIN_SPACING_MS,
      appSlowSpacingMs: env.APP_SLOW_SPACING_MS,
      readbackDelayMs: env.READBACK_DELAY_MS,
      lockMs: env.WORKER_LOCK_MS,
    },
    logLevel: env.LOG_LEVEL,
    oldTokenEncryptionKeys: (env.TOKEN_ENCRYPTION_KEYS_OLD ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean)
      .map((k) => Buffer.from(k, 'base64')),
    facebookApp: env.FB_APP_ID && env.FB_APP_SECRET ? { id: env.FB_APP_ID, secret: env.FB_APP_SECRET } : undefined,
    onboarding: {
      loginConfigId: env.FB_LOGIN_CONFIG_ID,
      dialogUrl: env.FB_DIALOG_URL.replace(/\/+$/, ''),
      publicBaseUrl: env.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
      syncEveryMs: env.PAGE_SYNC_EVERY_MINUTES * 60_000,
    },
    tokenHealth: { sweepEveryMs: env.TOKEN_SWEEP_EVERY_MINUTES * 60_000, expiringWithinMs: env.TOKEN_EXPIRING_DAYS * 86_400_000 },
    rateLimit: { max: env.RATE_LIMIT_MAX, windowMs: env.RATE_LIMIT_WINDOW_MS },
  });
}

/** For entry points: load the config or print every problem and exit non-zero. */
export function loadConfigOrExit(source?: Record<string, string | undefined>): Config {
  try {
    return loadConfig(source);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
