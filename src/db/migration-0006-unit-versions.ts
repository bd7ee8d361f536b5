import { sql, type Kysely, type Migration } from 'kysely';
import type { DatabaseConfig } from '../../config';

/**
 * Unit versions and several Pages per unit (the 2025 reorganisation).
 *
 * - `units` gets an internal `id`: a row is one version of a unit. A code is unique among active units
 *   only (`retired_at is null`); a retired version keeps its code, name, parent and path, plus
 *   `retired_at` and `succeeded_by` (JSON array of the new codes).
 * - `pages` is keyed by `page_id`: a unit has 0..n Pages, each with a label and a position; a retired
 *   Page (`retired_at`) keeps its encrypted token for recalls and edits of the posts it carries.
 * - deliveries, posts, keys and webhooks point at the version they were made against (`unit_id`,
 *   `target_unit_id`); their code columns stay, as the code of that version.
 *
 * Every existing code is unique when this runs, so each reference is backfilled by code.
 * SQLite cannot drop a primary key or a foreign key in place: the tables that referenced
 * `units(code)` are rebuilt with foreign keys off (SQLite's documented 12-step procedure), and
 * `foreign_key_check` must come back empty before they are switched on again.
 */
export function unitVersionsMigration(dialect: DatabaseConfig['kind']): Migration {
  return {
    async up(db: Kysely<any>) {
      if (dialect === 'postgres') return steps(db, 'postgres'); // Kysely runs PostgreSQL migrations in a transaction
      // Kysely runs SQLite migrations outside a transaction, on the one connection: foreign keys go off
      // (only possible outside a transaction), and the whole rebuild is one transaction of its own, so a
      // crash half-way leaves the store as it was.
      await sql`pragma foreign_keys = off`.execute(db);
      try {
        await sql`begin immediate`.execute(db);
        try {
          await steps(db, 'sqlite');
          const problems = await sql<{ table: string }>`pragma foreign_key_check`.execute(db);
          if (problems.rows.length) {
            throw new Error(`foreign key check failed after the unit-versions migration: ${JSON.stringify(problems.rows.slice(0, 5))}`);
          }
          await sql`commit`.execute(db);
        } catch (err) {
          await sql`rollback`.execute(db);
          throw err;
        }
      } finally {
        await sql`pragma foreign_keys = on`.execute(db);
      }
    },
  };
}

async function steps(db: Kysely<any>, dialect: DatabaseConfig['kind']): Promise<void> {
  if (dialect === 'sqlite') await sqliteUnits(db);
  else await postgresUnits(db);

  // Pages: a new table keyed by page_id, copied from the one-Page-per-unit table.
  await db.schema
    .createTable('pages_v6')
    .addColumn('page_id', 'text', (c) => c.primaryKey())
    .addColumn('unit_id', 'integer', (c) => c.notNull().references('units.id'))
    .addColumn('unit_code', 'text', (c) => c.notNull())
    .addColumn('label', 'text')
    .addColumn('position', 'integer', (c) => c.notNull().defaultTo(0))
    // Null: the Page is mapped to its unit but has no token yet (the Business Manager sync or a connect link brings it).
    .addColumn('token_ciphertext', 'text')
    .addColumn('token_status', 'text', (c) => c.notNull())
    .addColumn('token_status_reason', 'text')
    .addColumn('token_checked_at', 'text')
    /** JSON array of the Page tasks Facebook last reported for the token (`CREATE_CONTENT`, …). */
    .addColumn('tasks', 'text')
    .addColumn('retired_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await sql`insert into pages_v6 (page_id, unit_id, unit_code, label, position, token_ciphertext, token_status,
      token_status_reason, token_checked_at, retired_at, created_at, updated_at)
    select p.page_id, u.id, p.unit_code, null, 0, p.token_ciphertext, p.token_status, p.token_status_reason,
      p.token_checked_at, null, p.created_at, p.updated_at
    from pages p join units u on u.code = p.unit_code`.execute(db);
  await db.schema.dropTable('pages').execute();
  await sql`alter table pages_v6 rename to pages`.execute(db);
  await db.schema.createIndex('pages_unit_idx').on('pages').columns(['unit_id', 'position', 'page_id']).execute();
  await db.schema.createIndex('pages_status_idx').on('pages').column('token_status').execute();

  // References to the version of their time.
  for (const [table, column, codeColumn] of [
    ['deliveries', 'unit_id', 'unit_code'],
    ['posts', 'target_unit_id', 'target_unit_code'],
    ['api_keys', 'unit_id', 'unit_code'],
    ['webhooks', 'unit_id', 'unit_code'],
  ] as const) {
    await db.schema
      .alterTable(table)
      .addColumn(column, 'integer', (c) => c.references('units.id'))
      .execute();
    await sql`update ${sql.table(table)} set ${sql.ref(column)} = (select u.id from units u where u.code = ${sql.ref(`${table}.${codeColumn}`)})`.execute(
      db,
    );
  }
  // One row per (post, Page); a unit without a Page still gets one `skipped` row (page_id null).
  await db.schema.dropIndex('deliveries_post_unit_uq').execute();
  await db.schema.createIndex('deliveries_post_unit_idx').on('deliveries').columns(['post_id', 'unit_id']).execute();
  // Has this unit version been posted to? (a units import refuses to rename or move one that has)
  await db.schema.createIndex('deliveries_unit_idx').on('deliveries').column('unit_id').execute();
  await db.schema.createIndex('api_keys_unit_idx').on('api_keys').column('unit_id').execute();
}

const UNIT_COLUMNS = 'code, parent_code, level, type, name, path, created_at, updated_at';

async function unitIndexes(db: Kysely<any>): Promise<void> {
  // Active codes and paths are unique; retired versions keep theirs (a reused code has several rows).
  await sql`create unique index units_active_code_uq on units (code) where retired_at is null`.execute(db);
  await sql`create unique index units_active_path_uq on units (path) where retired_at is null`.execute(db);
  await db.schema.createIndex('units_code_idx').on('units').columns(['code', 'created_at']).execute();
  await db.schema.createIndex('units_path_idx').on('units').column('path').execute();
  await db.schema.createIndex('units_parent_idx').on('units').column('parent_id').execute();
  await db.schema.createIndex('units_level_idx').on('units').column('level').execute();
}

async function sqliteUnits(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('units_v6')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('parent_id', 'integer', (c) => c.references('units.id'))
    .addColumn('parent_code', 'text')
    .addColumn('level', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('retired_at', 'text')
    .addColumn('succeeded_by', 'text')
    .execute();
  // Parents first, so ids grow down the tree.
  await sql.raw(`insert into units_v6 (${UNIT_COLUMNS}) select ${UNIT_COLUMNS} from units order by level, path`).execute(db);
  await sql`update units_v6 set parent_id = (select p.id from units_v6 p where p.code = units_v6.parent_code)`.execute(db);
  await db.schema.dropTable('units').execute();
  await sql`alter table units_v6 rename to units`.execute(db);
  await unitIndexes(db);
  // Tables whose foreign key named units(code), which is no longer unique: rebuilt without it.
  for (const table of ['posts', 'api_keys', 'webhooks']) await sqliteDropCodeReference(db, table);
}

/** Rebuilds a SQLite table with its `references "units" ("code")` clauses removed (indexes and triggers kept). */
async function sqliteDropCodeReference(db: Kysely<any>, table: string): Promise<void> {
  const objects = await sql<{ type: string; name: string; sql: string | null }>`
    select type, name, sql from sqlite_master where tbl_name = ${table}`.execute(db);
  const create = objects.rows.find((o) => o.type === 'table')?.sql;
  if (!create) throw new Error(`table ${table} not found`);
  const stripped = create.replace(/\s+references\s+"?units"?\s*\(\s*"?code"?\s*\)/gi, '');
  if (stripped === create) return;
  const temp = `${table}_v6`;
  await sql.raw(stripped.replace(/^create table\s+"?[A-Za-z_]+"?/i, `create table "${temp}"`)).execute(db);
  await sql.raw(`insert into "${temp}" select * from "${table}"`).execute(db);
  await sql.raw(`drop table "${table}"`).execute(db);
  await sql.raw(`alter table "${temp}" rename to "${table}"`).execute(db);
  for (const o of objects.rows) if (o.type !== 'table' && o.sql) await sql.raw(o.sql).execute(db);
}

async function postgresUnits(db: Kysely<any>): Promise<void> {
  // Every foreign key that named units(code) goes first (the unit_id columns replace them).
  const fks = await sql<{ table: string; name: string }>`
    select conrelid::regclass::text as table, conname as name from pg_constraint
    where confrelid = 'units'::regclass and contype = 'f'`.execute(db);
  for (const fk of fks.rows) await sql`alter table ${sql.raw(fk.table)} drop constraint ${sql.ref(fk.name)}`.execute(db);
  await sql`alter table units drop constraint units_pkey`.execute(db);
  await sql`drop index if exists units_path_idx`.execute(db);
  await sql`drop index if exists units_parent_idx`.execute(db);
  await sql`drop index if exists units_level_idx`.execute(db);
  await sql`alter table units add column id serial primary key`.execute(db);
  await sql`alter table units add column parent_id integer references units (id)`.execute(db);
  await sql`alter table units add column retired_at text`.execute(db);
  await sql`alter table units add column succeeded_by text`.execute(db);
  await sql`alter table units alter column parent_code drop not null`.execute(db);
  await sql`update units set parent_id = p.id from units p where p.code = units.parent_code`.execute(db);
  await unitIndexes(db);
}
