import crypto from 'node:crypto';
import { sql } from 'kysely';
import type { Store } from '../../src/db/create-db';

async function tableNames(store: Store): Promise<string[]> {
  const q =
    store.dialect === 'postgres'
      ? sql<{
          name: string;
        }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`
      : sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`;
  return (await q.execute(store.db)).rows
    .map((r) => r.name)
    .filter((n) => !n.startsWith('kysely_'))
    .sort();
}

/**
 * Row count and SHA-256 of every row per table (every table of the store, found at run time): equal
 * snapshots mean an unchanged store. Rows are compared as sorted JSON, so no ordering column is needed.
 */
export async function snapshotStore(store: Store): Promise<Record<string, { rows: number; sha256: string }>> {
  const out: Record<string, { rows: number; sha256: string }> = {};
  for (const table of await tableNames(store)) {
    const rows = (await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(store.db)).rows;
    const lines = rows.map((r) => JSON.stringify(r, Object.keys(r).sort())).sort();
    out[table] = { rows: rows.length, sha256: crypto.createHash('sha256').update(lines.join('\n')).digest('hex') };
  }
  return out;
}
