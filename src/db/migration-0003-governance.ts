import { sql, type Kysely, type Migration } from 'kysely';
import type { DatabaseConfig } from '../../config';

/**
 * Governance: the append-only audit log, post edits, recall columns and Idempotency-Key records.
 * The audit log is append-only in the database itself: triggers reject UPDATE, DELETE (and TRUNCATE
 * on PostgreSQL), so neither the API, the CLI nor a stray script can rewrite history.
 */
export function governanceMigration(dialect: DatabaseConfig['kind']): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('audit_log')
        .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
          dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor_key_id', 'text', (c) => c.notNull())
        .addColumn('actor_name', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('subject_type', 'text', (c) => c.notNull())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('subject_path', dialect === 'postgres' ? sql`text collate "C"` : sql`text`, (c) => c.notNull())
        .addColumn('details', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_subject_idx').on('audit_log').columns(['subject_id', 'id']).execute();
      await db.schema.createIndex('audit_actor_idx').on('audit_log').columns(['actor_key_id', 'id']).execute();
      await db.schema.createIndex('audit_path_idx').on('audit_log').columns(['subject_path', 'id']).execute();
      await db.schema.createIndex('audit_at_idx').on('audit_log').columns(['at', 'id']).execute();
      if (dialect === 'postgres') {
        await sql`create function audit_log_append_only() returns trigger language plpgsql as $$
          begin raise exception 'audit_log is append-only'; end $$`.execute(db);
        await sql`create trigger audit_log_no_change before update or delete on audit_log for each row execute function audit_log_append_only()`.execute(
          db,
        );
        await sql`create trigger audit_log_no_truncate before truncate on audit_log for each statement execute function audit_log_append_only()`.execute(
          db,
        );
      } else {
        await sql`create trigger audit_log_no_update before update on audit_log begin select raise(abort, 'audit_log is append-only'); end`.execute(
          db,
        );
        await sql`create trigger audit_log_no_delete before delete on audit_log begin select raise(abort, 'audit_log is append-only'); end`.execute(
          db,
        );
      }

      await db.schema
        .createTable('post_edits')
        .addColumn('post_id', 'text', (c) => c.notNull().references('posts.id'))
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('previous_message', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('requested_by', 'text', (c) => c.notNull())
        .addColumn('requested_at', 'text', (c) => c.notNull())
        .addColumn('approved_by', 'text')
        .addColumn('approved_at', 'text')
        .addColumn('completed_at', 'text')
        .addColumn('applied', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('failed', 'integer', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('post_edits_pk', ['post_id', 'revision'])
        .execute();
      await db.schema.createIndex('post_edits_status_idx').on('post_edits').column('status').execute();

      await db.schema
        .createTable('idempotency_keys')
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('idem_key', 'text', (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('post_id', 'text', (c) => c.notNull().references('posts.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['key_id', 'idem_key'])
        .execute();

      for (const col of ['recalled_by', 'recalled_at', 'recall_reason']) {
        await db.schema.alterTable('posts').addColumn(col, 'text').execute();
      }
      await db.schema
        .alterTable('posts')
        .addColumn('recall_round', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('deliveries')
        .addColumn('edit_revision', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('deliveries').addColumn('edit_status', 'text').execute();
      await db.schema.alterTable('deliveries').addColumn('edit_error', 'text').execute();
      await db.schema.createIndex('deliveries_post_edit_idx').on('deliveries').columns(['post_id', 'edit_status']).execute();
    },
  };
}
