import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type SqliteDatabase } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../../config';
import { migrationProvider } from './migrations';
import type { Database } from './types';

// node-postgres returns int8 (bigserial ids, count(*)) as strings; ours stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export type Db = Kysely<Database>;

export interface Store {
  db: Db;
  dialect: DatabaseConfig['kind'];
  close(): Promise<void>;
}

/** Opens the store, applies pending migrations and returns it. */
export async function openStore(config: DatabaseConfig, opts: { poolSize?: number } = {}): Promise<Store> {
  let db: Db;
  if (config.kind === 'sqlite') {
    if (config.file !== ':memory:') fs.mkdirSync(path.dirname(config.file), { recursive: true });
    const database = new BetterSqlite3(config.file);
    // WAL lets the API read while workers write, and several processes share one file.
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('busy_timeout = 10000');
    database.pragma('foreign_keys = ON');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
  } else {
    const pool = new pg.Pool({ connectionString: config.url, max: opts.poolSize ?? config.poolMax });
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  const store: Store = { db, dialect: config.kind, close: () => db.destroy() };
  try {
    await migrate(store);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return store;
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
    throw new Error(`database migration ${failed ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Cheap liveness query for /readyz. */
export async function pingStore(store: Store): Promise<void> {
  await sql`select 1`.execute(store.db);
}
