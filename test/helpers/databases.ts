import crypto from 'node:crypto';
import pg from 'pg';
import type { DatabaseConfig } from '../../config';
import { loadTestEnv } from '../../config/test-env';

export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  /** A fresh, empty database URL for one test file. */
  create(): Promise<{ url: string; drop(): Promise<void> }>;
}

const sqlite: TestDatabase = {
  name: 'sqlite',
  create: async () => ({ url: 'sqlite::memory:', drop: async () => {} }),
};

/** PostgreSQL when TEST_DATABASE_URL is set (.ci/run sets it): each test file gets its own database. */
function postgres(adminUrl: string): TestDatabase {
  return {
    name: 'postgres',
    async create() {
      const name = `lantoa_t_${crypto.randomBytes(5).toString('hex')}`;
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`create database ${name}`);
      await admin.end();
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return {
        url: url.toString(),
        async drop() {
          const c = new pg.Client({ connectionString: adminUrl });
          await c.connect();
          await c.query(`drop database if exists ${name} with (force)`);
          await c.end();
        },
      };
    },
  };
}

export function testDatabases(): TestDatabase[] {
  const url = loadTestEnv().testDatabaseUrl;
  return url ? [sqlite, postgres(url)] : [sqlite];
}

/** The store settings for a test database URL, for a test that opens the store itself (a small pool: it makes few connections). */
export function storeConfigOf(url: string, poolMax = 4): DatabaseConfig {
  return url.startsWith('sqlite:') ? { kind: 'sqlite', file: url.slice('sqlite:'.length) } : { kind: 'postgres', url, poolMax };
}
