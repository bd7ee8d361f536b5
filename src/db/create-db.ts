import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
  type DatabaseConnection,
  type Driver,
  type SqliteDatabase,
  type Transaction,
} from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { DatabaseConfig } from '../../config';
import { migrationProvider } from './migrations';
import { describeStoreError, storeErrorKind, type StoreErrorDescription } from './store-errors';
import type { Database } from './types';

// node-postgres returns int8 (bigserial ids, count(*)) as strings; ours stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export type Db = Kysely<Database>;
/** The store or a transaction on it. */
export type Executor = Db | Transaction<Database>;

export interface Store {
  db: Db;
  dialect: DatabaseConfig['kind'];
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  poolSize?: number;
  /** Where connection losses and start-up waits are logged (code, message and operation only). */
  log?: Pick<Logger, 'warn' | 'error' | 'info'>;
  /** Keep retrying an unreachable store for this long at start before giving up (0: one try). */
  startupTimeoutMs?: number;
}

/** The store did not answer within STORE_STARTUP_TIMEOUT_MS: the entry points print `message` (one line, no stack) and exit non-zero. */
export class StoreStartupError extends Error {
  override name = 'StoreStartupError';
  constructor(
    readonly target: string,
    readonly waitedMs: number,
    readonly last: StoreErrorDescription,
  ) {
    super(
      `The store is not reachable at ${target} after ${Math.round(waitedMs / 1000)} s (${last.code}: ${last.message}); giving up (STORE_STARTUP_TIMEOUT_MS).`,
    );
  }
}

/**
 * The PostgreSQL server answered but has no database of that name (SQLSTATE 3D000): waiting will not
 * help, so the entry points print `message` (one line, with the `createdb` command) and exit non-zero.
 */
export class MissingDatabaseError extends Error {
  override name = 'MissingDatabaseError';
  constructor(url: string) {
    super(missingDatabaseMessage(url));
  }
}

/** `database "x" does not exist on host:port — create it with: createdb -h host -p port -U user x` (never the password). */
export function missingDatabaseMessage(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'the database named in DATABASE_URL does not exist — create it with createdb';
  }
  const name = decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || 'postgres';
  const host = u.hostname || 'localhost';
  const port = u.port || '5432';
  const user = u.username ? ` -U ${decodeURIComponent(u.username)}` : '';
  return `database "${name}" does not exist on ${host}:${port} — create it with: createdb -h ${host} -p ${port}${user} ${name}`;
}

/** The store's address for logs and messages: a PostgreSQL URL without its password, or the SQLite file. */
export function storeTarget(config: DatabaseConfig): string {
  if (config.kind === 'sqlite') return `sqlite:${config.file}`;
  try {
    const url = new URL(config.url);
    if (url.password) url.password = '';
    return url.toString().replace(/:@/, '@');
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** Start-up retry delays: 250 ms doubling, capped here; one log line at most this often. */
const STARTUP_BACKOFF_CAP_MS = 5_000;
const STARTUP_LOG_EVERY_MS = 5_000;

/**
 * Opens the store, applies pending migrations and returns it. While the store is unreachable
 * (PostgreSQL down or starting, SQLite locked), waits with a capped backoff for up to
 * `startupTimeoutMs`, then throws StoreStartupError.
 */
export async function openStore(config: DatabaseConfig, opts: OpenStoreOptions = {}): Promise<Store> {
  const started = Date.now();
  const timeoutMs = opts.startupTimeoutMs ?? 0;
  let delay = 250;
  let lastLog = 0;
  for (let tries = 1; ; tries++) {
    try {
      const store = await openOnce(config, opts);
      if (tries > 1) opts.log?.info({ store: storeTarget(config), tries, waitedMs: Date.now() - started }, 'store reachable; starting');
      return store;
    } catch (err) {
      if (config.kind === 'postgres' && hasCode(err, '3D000')) throw new MissingDatabaseError(config.url);
      const kind = storeErrorKind(err);
      if (kind !== 'unreachable' && kind !== 'busy') throw err;
      const waited = Date.now() - started;
      const last = describeStoreError(err, 'open');
      if (waited >= timeoutMs) throw new StoreStartupError(storeTarget(config), waited, last);
      if (Date.now() - lastLog >= STARTUP_LOG_EVERY_MS) {
        lastLog = Date.now();
        opts.log?.warn(
          { store: storeTarget(config), ...last, tries, waitedMs: waited, timeoutMs },
          'store not reachable yet; waiting for it',
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, timeoutMs - waited))));
      delay = Math.min(delay * 2, STARTUP_BACKOFF_CAP_MS);
    }
  }
}

/** Whether the error or one of its causes (a failed migration wraps the driver's error) has this code. */
function hasCode(err: unknown, code: string): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === code) return true;
  }
  return false;
}

async function openOnce(config: DatabaseConfig, opts: OpenStoreOptions): Promise<Store> {
  let db: Db;
  if (config.kind === 'sqlite') {
    if (config.file !== ':memory:') fs.mkdirSync(path.dirname(config.file), { recursive: true });
    const database = new BetterSqlite3(config.file);
    // WAL lets the API read while workers write, and several processes share one file.
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    // SQLite's own busy handler blocks the event loop, so keep it short; BusyRetryDialect waits longer without blocking.
    database.pragma(`busy_timeout = ${SQLITE_SYNC_BUSY_MS}`);
    database.pragma('foreign_keys = ON');
    db = new Kysely<Database>({ dialect: new BusyRetryDialect({ database: withStatementCache(database) }, SQLITE_BUSY_WAIT_MS) });
  } else {
    // connectionTimeoutMillis: an unreachable server fails a request in seconds instead of hanging it.
    const pool = new pg.Pool({ connectionString: config.url, max: opts.poolSize ?? config.poolMax, connectionTimeoutMillis: 5_000 });
    watchPool(pool, opts.log);
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  const store: Store = { db, dialect: config.kind, close: () => db.destroy() };
  try {
    await migrate(store);
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw err;
  }
  return store;
}

/**
 * node-postgres emits 'error' on the pool for an idle client whose server went away, and on a
 * checked-out client when its connection dies (e.g. "terminating connection due to administrator
 * command"). Without a listener either one is an uncaught exception that ends the process. The
 * failed query itself still rejects and its caller handles that; here we only log, throttled, and
 * never the client object (node-postgres attaches it to the error).
 */
function watchPool(pool: pg.Pool, log: OpenStoreOptions['log']): void {
  let lastLog = 0;
  let suppressed = 0;
  const onError = (err: Error) => {
    if (Date.now() - lastLog < 5_000) {
      suppressed++;
      return;
    }
    lastLog = Date.now();
    log?.warn({ ...describeStoreError(err, 'connection'), ...(suppressed ? { suppressed } : {}) }, 'store connection lost');
    suppressed = 0;
  };
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', onError));
}

/** SQLite busy handling: the synchronous busy_timeout per statement, then async retries up to SQLITE_BUSY_WAIT_MS in all. */
const SQLITE_SYNC_BUSY_MS = 50;
const SQLITE_BUSY_WAIT_MS = 10_000;

/**
 * SqliteDialect whose statements are retried while the file is locked by another writer (SQLITE_BUSY
 * or SQLITE_LOCKED), with a growing pause that lets the event loop run (lock renewals, other
 * requests), up to `maxWaitMs`. After that the error reaches the caller, which reports the store busy.
 * SQLITE_BUSY_SNAPSHOT is not retried: the transaction's snapshot is stale and only a new transaction helps.
 */
class BusyRetryDialect extends SqliteDialect {
  constructor(
    config: ConstructorParameters<typeof SqliteDialect>[0],
    private readonly maxWaitMs: number,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    const inner = super.createDriver();
    const maxWaitMs = this.maxWaitMs;
    const wrapped = new WeakMap<DatabaseConnection, DatabaseConnection>();
    const wrap = (conn: DatabaseConnection): DatabaseConnection => {
      let w = wrapped.get(conn);
      if (!w) {
        w = {
          executeQuery: (query) => retryWhileBusy(() => conn.executeQuery(query), maxWaitMs),
          streamQuery: (query, chunkSize) => conn.streamQuery(query, chunkSize),
        };
        wrapped.set(conn, w);
      }
      return w;
    };
    // SqliteDriver keeps its state in private fields: call its methods on itself, not on a proxy.
    return new Proxy(inner, {
      get(target, prop) {
        if (prop === 'acquireConnection') return async () => wrap(await target.acquireConnection());
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }
}

async function retryWhileBusy<T>(run: () => Promise<T>, maxWaitMs: number): Promise<T> {
  const started = Date.now();
  let pause = 10;
  for (;;) {
    try {
      return await run();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const busy = typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code) && code !== 'SQLITE_BUSY_SNAPSHOT';
      if (!busy || Date.now() - started >= maxWaitMs) throw err;
      await new Promise((r) => setTimeout(r, pause + Math.floor(Math.random() * pause)));
      pause = Math.min(pause * 2, 250);
    }
  }
}

/** Most prepared statements kept per connection (IN-lists of varying length make distinct SQL). */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely prepares every statement anew; on the delivery hot path preparing cost as much as running.
 * better-sqlite3 statements are reusable, so keep the most recent ones (LRU by SQL text).
 */
function withStatementCache(database: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => database.close(),
    prepare(sqlText: string) {
      let stmt = cache.get(sqlText);
      if (stmt) {
        cache.delete(sqlText); // refresh LRU position
      } else {
        stmt = database.prepare(sqlText);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      }
      cache.set(sqlText, stmt);
      return stmt as unknown as ReturnType<SqliteDatabase['prepare']>;
    },
  };
}

export async function migrate(store: Store): Promise<void> {
  const migrator = new Migrator({ db: store.db, provider: migrationProvider(store.dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`database migration ${failed ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}

/** Cheap liveness query for /readyz. */
export async function pingStore(store: Store): Promise<void> {
  await sql`select 1`.execute(store.db);
}
