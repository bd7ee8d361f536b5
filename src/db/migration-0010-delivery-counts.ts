import { sql, type Kysely, type Migration } from 'kysely';
import type { DatabaseConfig } from '../../config';
import { countScopes } from './count-scopes';

const CHUNK = 500;

/**
 * Status reads in O(1): `delivery_counts` holds the counts the ledger maintains with every write of
 * `deliveries` (see src/services/delivery/delivery-counts.ts). Each delivery row gets the path and level
 * of its unit version (so a transition knows its counter scopes without a read) and `prev_status` (so a
 * conditional UPDATE's RETURNING tells the status it moved from). Existing rows are backfilled and the
 * counters built from them, in the migration's transaction.
 */
export function deliveryCountsMigration(dialect: DatabaseConfig['kind']): Migration {
  return {
    async up(db: Kysely<any>) {
      if (dialect === 'postgres') return steps(db); // Kysely runs PostgreSQL migrations in a transaction
      // Kysely runs SQLite migrations outside a transaction: make it one, so a crash half-way leaves the store as it was.
      await sql`begin immediate`.execute(db);
      try {
        await steps(db);
        await sql`commit`.execute(db);
      } catch (err) {
        await sql`rollback`.execute(db);
        throw err;
      }
    },
  };
}

async function steps(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('deliveries').addColumn('unit_path', 'text').execute();
  await db.schema.alterTable('deliveries').addColumn('unit_level', 'integer').execute();
  await db.schema.alterTable('deliveries').addColumn('prev_status', 'text').execute();
  await sql`update deliveries set
      unit_path = (select u.path from units u where u.id = deliveries.unit_id),
      unit_level = (select u.level from units u where u.id = deliveries.unit_id)
    where unit_id is not null`.execute(db);

  await db.schema
    .createTable('delivery_counts')
    .addColumn('post_id', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('level', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('n', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('delivery_counts_pk', ['post_id', 'scope', 'level', 'status'])
    .execute();

  const groups = await db
    .selectFrom('deliveries')
    .select((eb) => ['post_id', 'unit_path', 'unit_level', 'status', eb.fn.countAll<number>().as('n')])
    .groupBy(['post_id', 'unit_path', 'unit_level', 'status'])
    .execute();
  const counts = new Map<string, { post_id: string; scope: string; level: number; status: string; n: number }>();
  for (const g of groups as Array<{ post_id: string; unit_path: string | null; unit_level: number | null; status: string; n: number }>) {
    const level = g.unit_level ?? -1;
    for (const scope of countScopes(g.unit_path)) {
      const key = JSON.stringify([g.post_id, scope, level, g.status]);
      const row = counts.get(key) ?? { post_id: g.post_id, scope, level, status: g.status, n: 0 };
      row.n += Number(g.n);
      counts.set(key, row);
    }
  }
  const rows = [...counts.values()];
  for (let i = 0; i < rows.length; i += CHUNK) {
    await db
      .insertInto('delivery_counts')
      .values(rows.slice(i, i + CHUNK))
      .execute();
  }
}
