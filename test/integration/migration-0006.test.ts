import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { openStore, type Store } from '../../src/db/create-db';
import { migrationProvider } from '../../src/db/migrations';
import { testDatabases } from '../helpers/databases';

/**
 * A store written by the release before unit versions (migrations up to 0005, one Page per unit,
 * everything keyed by unit code) upgrades in place: every reference gets the version id of its
 * code, the Pages keep their tokens, and the new constraints hold.
 */
describe.each(testDatabases())('migration 0006 (unit versions) on an existing $name store', (tdb) => {
  let dir: string;
  let config: { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; poolMax: number };
  let drop: () => Promise<void> = async () => {};
  let store: Store;

  beforeAll(async () => {
    if (tdb.name === 'sqlite') {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-m6-'));
      config = { kind: 'sqlite', file: path.join(dir, 'old.db') };
    } else {
      const created = await tdb.create();
      drop = created.drop;
      config = { kind: 'postgres', url: created.url, poolMax: 4 };
    }
    // The old release: migrate to 0005 and write a little of everything.
    const old = new Kysely<any>({
      dialect:
        config.kind === 'sqlite'
          ? new SqliteDialect({ database: new BetterSqlite3(config.file) })
          : new PostgresDialect({ pool: new pg.Pool({ connectionString: config.url, max: 2 }) }),
    });
    if (config.kind === 'sqlite') await sql`pragma foreign_keys = on`.execute(old);
    const res = await new Migrator({ db: old, provider: migrationProvider(config.kind) }).migrateTo('0005_fenced_claims');
    expect(res.error).toBeUndefined();
    const at = '2025-01-01T00:00:00.000Z';
    const unit = (code: string, parent: string, level: number, p: string) => ({
      code,
      parent_code: parent,
      level,
      type: 'Tỉnh',
      name: `Đơn vị ${code}`,
      path: p,
      created_at: at,
      updated_at: at,
    });
    await old
      .insertInto('units')
      .values([unit('01', 'root', 1, '/root/01/'), unit('001', '01', 2, '/root/01/001/'), unit('00001', '001', 3, '/root/01/001/00001/')])
      .execute();
    const page = (code: string, id: string) => ({
      unit_code: code,
      page_id: id,
      token_ciphertext: `v1.k.${id}`,
      token_status: 'valid',
      token_status_reason: null,
      token_checked_at: at,
      created_at: at,
      updated_at: at,
    });
    await old
      .insertInto('pages')
      .values([page('01', '101'), page('00001', '103')])
      .execute();
    await old
      .insertInto('posts')
      .values({
        id: 'p1',
        message: 'm',
        link: null,
        photos: '[]',
        target: '{"unit":"01","scope":"subtree"}',
        target_unit_code: '01',
        publish_at: null,
        status: 'published',
        created_by: 'k1',
        total: 3,
        created_at: at,
        updated_at: at,
      })
      .execute();
    const dlv = (code: string, pageId: string | null) => ({
      post_id: 'p1',
      unit_code: code,
      page_id: pageId,
      status: pageId ? 'published' : 'skipped',
      attempts: 1,
      created_at: at,
      updated_at: at,
    });
    await old
      .insertInto('deliveries')
      .values([dlv('01', '101'), dlv('001', null), dlv('00001', '103')])
      .execute();
    await old
      .insertInto('api_keys')
      .values({ id: 'k1', name: 'editor', role: 'editor', unit_code: '001', key_hash: 'h1', created_by: 'bootstrap-admin', created_at: at })
      .execute();
    await old
      .insertInto('webhooks')
      .values({
        id: 'w1',
        key_id: 'k1',
        unit_code: '001',
        url: 'https://x.test/h',
        events: '[]',
        secret_ciphertext: 'v1.s',
        created_at: at,
      })
      .execute();
    await old
      .insertInto('audit_log')
      .values({
        at,
        actor_key_id: 'bootstrap-admin',
        actor_name: 'admin',
        action: 'key.create',
        subject_type: 'key',
        subject_id: 'k1',
        subject_path: '/root/01/001/',
        details: '{}',
      })
      .execute();
    await old.destroy();

    store = await openStore(config);
  });
  afterAll(async () => {
    await store?.close();
    await drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('gives every reference the version of its code and keeps the Pages with their tokens', async () => {
    const db = store.db;
    const units = await db.selectFrom('units').selectAll().orderBy('level').execute();
    expect(units.map((u) => u.code)).toEqual(['root', '01', '001', '00001']);
    const id = new Map(units.map((u) => [u.code, u.id]));
    expect(units.map((u) => [u.code, u.parent_id, u.retired_at])).toEqual([
      ['root', null, null],
      ['01', id.get('root'), null],
      ['001', id.get('01'), null],
      ['00001', id.get('001'), null],
    ]);
    const pages = await db.selectFrom('pages').selectAll().orderBy('page_id').execute();
    expect(pages.map((g) => [g.page_id, g.unit_id, g.unit_code, g.token_ciphertext, g.token_status, g.retired_at])).toEqual([
      ['101', id.get('01'), '01', 'v1.k.101', 'valid', null],
      ['103', id.get('00001'), '00001', 'v1.k.103', 'valid', null],
    ]);
    const deliveries = await db.selectFrom('deliveries').select(['unit_code', 'unit_id']).orderBy('id').execute();
    expect(deliveries).toEqual([
      { unit_code: '01', unit_id: id.get('01') },
      { unit_code: '001', unit_id: id.get('001') },
      { unit_code: '00001', unit_id: id.get('00001') },
    ]);
    expect((await db.selectFrom('posts').select('target_unit_id').executeTakeFirstOrThrow()).target_unit_id).toBe(id.get('01'));
    expect((await db.selectFrom('api_keys').select('unit_id').executeTakeFirstOrThrow()).unit_id).toBe(id.get('001'));
    expect((await db.selectFrom('webhooks').select('unit_id').executeTakeFirstOrThrow()).unit_id).toBe(id.get('001'));
  });

  it('enforces the new constraints: one active code, a Page on at most one unit, real unit ids', async () => {
    const db = store.db;
    // By message, not `toThrow`: better-sqlite3's errors may come from another test file's realm, where `instanceof Error` fails.
    const unique = { message: expect.stringMatching(/unique/i) };
    const at = new Date().toISOString();
    const base = {
      parent_id: null,
      parent_code: 'root',
      level: 1,
      type: 'Tỉnh',
      name: 'x',
      created_at: at,
      updated_at: at,
      succeeded_by: null,
    };
    await expect(
      db
        .insertInto('units')
        .values({ ...base, code: '01', path: '/root/01b/', retired_at: null })
        .execute(),
    ).rejects.toMatchObject(unique);
    // A retired version may share the code and path of the active one.
    await db
      .insertInto('units')
      .values({ ...base, code: '01', path: '/root/01/', retired_at: at })
      .execute();
    await expect(
      db
        .insertInto('pages')
        .values({
          page_id: '101',
          unit_id: 1,
          unit_code: 'root',
          label: null,
          position: 1,
          token_ciphertext: 'v1.x',
          token_status: 'unknown',
          token_status_reason: null,
          token_checked_at: null,
          retired_at: null,
          created_at: at,
          updated_at: at,
        })
        .execute(),
    ).rejects.toMatchObject(unique);
    await expect(db.updateTable('deliveries').set({ unit_id: 999_999 }).where('unit_code', '=', '01').execute()).rejects.toMatchObject({
      message: expect.stringMatching(/foreign key/i),
    });
    // The audit log is kept, and stays append-only.
    expect((await db.selectFrom('audit_log').select('subject_id').execute()).map((r) => r.subject_id)).toEqual(['k1']);
    await expect(sql`delete from audit_log`.execute(db)).rejects.toMatchObject({ message: expect.stringMatching(/append-only/) });
  });
});
