import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { DatabaseConfig } from '../../config';
import { governanceMigration } from './migration-0003-governance';
import { unitVersionsMigration } from './migration-0006-unit-versions';
import { deliveryCountsMigration } from './migration-0010-delivery-counts';

type Dialect = DatabaseConfig['kind'];

/**
 * One set of migrations for both dialects. Differences are confined to the id column type and the
 * collation of `units.path` (PostgreSQL must compare it bytewise for the prefix range scan).
 */
function migrations(dialect: Dialect): Record<string, Migration> {
  const pathType = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    '0001_core': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('units')
          .addColumn('code', 'text', (c) => c.primaryKey())
          .addColumn('parent_code', 'text', (c) => c.references('units.code'))
          .addColumn('level', 'integer', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('path', pathType, (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('units_path_idx').on('units').column('path').unique().execute();
        await db.schema.createIndex('units_parent_idx').on('units').column('parent_code').execute();
        await db.schema.createIndex('units_level_idx').on('units').column('level').execute();

        await db.schema
          .createTable('pages')
          .addColumn('unit_code', 'text', (c) => c.primaryKey().references('units.code'))
          .addColumn('page_id', 'text', (c) => c.notNull().unique())
          .addColumn('token_ciphertext', 'text', (c) => c.notNull())
          .addColumn('token_status', 'text', (c) => c.notNull())
          .addColumn('token_status_reason', 'text')
          .addColumn('token_checked_at', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('pages_status_idx').on('pages').column('token_status').execute();

        await db.schema
          .createTable('posts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('message', 'text', (c) => c.notNull())
          .addColumn('link', 'text')
          .addColumn('photos', 'text', (c) => c.notNull())
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('target_unit_code', 'text', (c) => c.notNull().references('units.code'))
          .addColumn('publish_at', 'text')
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('approved_by', 'text')
          .addColumn('cancelled_by', 'text')
          .addColumn('total', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('approved_at', 'text')
          .addColumn('started_at', 'text')
          .addColumn('completed_at', 'text')
          .execute();
        await db.schema.createIndex('posts_created_idx').on('posts').columns(['created_at', 'id']).execute();
        await db.schema.createIndex('posts_status_idx').on('posts').columns(['status', 'created_at']).execute();

        await db.schema
          .createTable('deliveries')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('post_id', 'text', (c) => c.notNull().references('posts.id'))
          .addColumn('unit_code', 'text', (c) => c.notNull())
          .addColumn('page_id', 'text')
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('fb_post_id', 'text')
          .addColumn('permalink', 'text')
          .addColumn('error_code', 'integer')
          .addColumn('error_subcode', 'integer')
          .addColumn('error_message', 'text')
          .addColumn('reason', 'text')
          .addColumn('attempt_started_at', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('published_at', 'text')
          .execute();
        await db.schema.createIndex('deliveries_post_unit_uq').on('deliveries').columns(['post_id', 'unit_code']).unique().execute();
        await db.schema.createIndex('deliveries_post_page_uq').on('deliveries').columns(['post_id', 'page_id']).unique().execute();
        await db.schema.createIndex('deliveries_post_status_idx').on('deliveries').columns(['post_id', 'status']).execute();

        await db.schema
          .createTable('api_keys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('unit_code', 'text', (c) => c.notNull().references('units.code'))
          .addColumn('key_hash', 'text', (c) => c.notNull().unique())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'text')
          .execute();

        // There is always one root unit (the central committee).
        const now = new Date().toISOString();
        await db
          .insertInto('units')
          .values({
            code: 'root',
            parent_code: null,
            level: 0,
            type: 'Trung ương',
            name: 'Ủy ban Trung ương',
            path: '/root/',
            created_at: now,
            updated_at: now,
          })
          .execute();
      },
    },
    '0002_delivery_rounds': {
      // A retried delivery gets a new job id (dlv-<id>-r<round>): the failed job of the previous
      // round may still exist in Redis, and a re-add with its id would be ignored.
      async up(db: Kysely<any>) {
        await db.schema
          .alterTable('deliveries')
          .addColumn('job_round', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
      },
    },
    '0003_governance': governanceMigration(dialect),
    '0004_webhooks': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('webhooks')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('key_id', 'text', (c) => c.notNull())
          .addColumn('unit_code', 'text', (c) => c.notNull().references('units.code'))
          .addColumn('url', 'text', (c) => c.notNull())
          .addColumn('events', 'text', (c) => c.notNull())
          .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('deleted_at', 'text')
          .execute();
        await db.schema.createIndex('webhooks_key_idx').on('webhooks').column('key_id').execute();
        await db.schema
          .createTable('webhook_deliveries')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('webhook_id', 'text', (c) => c.notNull().references('webhooks.id'))
          .addColumn('event_id', 'text', (c) => c.notNull())
          .addColumn('event_type', 'text', (c) => c.notNull())
          .addColumn('attempt', 'integer', (c) => c.notNull())
          .addColumn('status_code', 'integer')
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('error', 'text')
          .addColumn('duration_ms', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('webhook_deliveries_hook_idx').on('webhook_deliveries').columns(['webhook_id', 'id']).execute();
      },
    },
    // Fenced claims: a publish, recall or edit attempt holds the row under a token and a lease.
    '0005_fenced_claims': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('deliveries').addColumn('claim_token', 'text').execute();
        await db.schema.alterTable('deliveries').addColumn('lease_until', 'text').execute();
      },
    },
    '0006_unit_versions': unitVersionsMigration(dialect),
    // The organisation's Business Manager connection: one system-user token (encrypted) and its last check and sync.
    '0007_business_connection': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('business_connection')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('token_ciphertext', 'text', (c) => c.notNull())
          .addColumn('token_type', 'text', (c) => c.notNull())
          .addColumn('subject_id', 'text')
          .addColumn('scopes', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text')
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('status_reason', 'text')
          .addColumn('checked_at', 'text', (c) => c.notNull())
          .addColumn('last_sync_at', 'text')
          .addColumn('last_sync', 'text')
          .addColumn('updated_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    // Self-service connect links: a one-time link (stored as SHA-256) for one unit, the OAuth state bound to it
    // (hashed), and, between the callback and the Page pick only, the long-lived user token (encrypted).
    '0008_connect_links': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('connect_links')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('unit_id', 'integer', (c) => c.notNull().references('units.id'))
          .addColumn('unit_code', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('used_at', 'text')
          .addColumn('page_id', 'text')
          .addColumn('state_hash', 'text')
          .addColumn('user_token_ciphertext', 'text')
          .addColumn('session_expires_at', 'text')
          .execute();
        await db.schema.createIndex('connect_links_state_idx').on('connect_links').column('state_hash').unique().execute();
        await db.schema.createIndex('connect_links_unit_idx').on('connect_links').column('unit_id').execute();
      },
    },
    // Rejection (issue 11): an approver refuses a pending post or edit with a reason; a rejected post can be
    // resubmitted once as a new post (`resubmit_of`, unique, so two concurrent resubmissions cannot both win).
    '0009_post_rejection': {
      async up(db: Kysely<any>) {
        for (const table of ['posts', 'post_edits']) {
          for (const col of ['rejected_by', 'rejected_at', 'rejection_reason']) {
            await db.schema.alterTable(table).addColumn(col, 'text').execute();
          }
        }
        await db.schema.alterTable('posts').addColumn('resubmit_of', 'text').execute();
        await db.schema.createIndex('posts_resubmit_of_uq').on('posts').column('resubmit_of').unique().execute();
      },
    },
    // Status reads in O(1) (issue 12): counts per post, level and tree node, maintained by the ledger's writes.
    '0010_delivery_counts': deliveryCountsMigration(dialect),
    // Optional spread (issue 12): a post's deliveries go out evenly over `spread_minutes`; the fan-out plans the
    // window (`spread_ends_at`) and gives each delivery row its slot (`not_before`), so a re-run, a retry or
    // the reconciler never sends it early.
    '0011_post_spread': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('posts').addColumn('spread_minutes', 'integer').execute();
        await db.schema.alterTable('posts').addColumn('spread_ends_at', 'text').execute();
        await db.schema.alterTable('deliveries').addColumn('not_before', 'text').execute();
      },
    },
    // The deliveries list of a post (`GET /v1/posts/{id}/deliveries`) pages by id: with this index it reads its
    // 100 rows in id order and stops, instead of sorting every delivery of the post (10,807 for a national one).
    '0012_deliveries_post_id': {
      async up(db: Kysely<any>) {
        await db.schema.createIndex('deliveries_post_id_idx').on('deliveries').columns(['post_id', 'id']).execute();
      },
    },
  };
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
