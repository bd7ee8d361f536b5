import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTestEnv } from '../../config/test-env';
import { openStore, type Store } from '../../src/db/create-db';
import { generateEncryptionKey } from '../../src/security/token-cipher';
import { KeysService, NO_ADMIN_WARNING } from '../../src/services/auth/keys.service';
import { storeConfigOf, testDatabases } from '../helpers/databases';
import { ROOT, spawnNode, TSX } from '../helpers/processes';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';

const run = (script: string, args: string[], env: Record<string, string>) => spawnNode([TSX, path.join(ROOT, script), ...args], env);
describe.each(testDatabases())('lantoa keys bootstrap on $name', (db) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-bootstrap-'));
  let url: string;
  let drop: () => Promise<void>;
  let store: Store;
  const cli = async (...args: string[]) => {
    const p = run('src/cli/main.ts', ['keys', 'bootstrap', ...args], { DATABASE_URL: url });
    const code = await p.exited;
    return { code, ...p.output() };
  };

  beforeAll(async () => {
    // A file, not :memory:, for SQLite: the CLI is another process on the same store.
    ({ url, drop } = db.name === 'sqlite' ? { url: `sqlite:${dir}/lantoa.db`, drop: async () => {} } : await db.create());
    store = await openStore(storeConfigOf(url, 2));
  });
  afterAll(async () => {
    await store?.close();
    await drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates the first admin key over root once, audited; refuses a second unless --force', async () => {
    const keys = new KeysService(store.db, undefined);
    expect(await keys.hasAdminAccess()).toBe(false);

    const first = await cli();
    expect({ code: first.code, err: first.err }).toEqual({ code: 0, err: expect.stringContaining('only time the key is shown') });
    const created = JSON.parse(first.out) as { id: string; key: string; name: string; role: string; unit: string };
    expect(created).toEqual({
      id: expect.stringMatching(/^key_/),
      key: expect.stringMatching(/^lt_/),
      name: expect.any(String),
      role: 'admin',
      unit: 'root',
    });
    expect(created.name).not.toMatch(/ADMIN_API_KEY/);
    // The key works: an admin over root, and the service no longer warns.
    expect(await keys.authenticate(created.key)).toMatchObject({ keyId: created.id, role: 'admin', unitCode: 'root' });
    expect(await keys.hasAdminAccess()).toBe(true);
    // Only the hash is stored.
    const row = await store.db.selectFrom('api_keys').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(created.key);
    const audit = await store.db.selectFrom('audit_log').selectAll().where('action', '=', 'key.bootstrap').execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor_key_id: 'system:keys-bootstrap',
      subject_type: 'key',
      subject_id: created.id,
      subject_path: '/root/',
    });
    expect(audit[0]!.details).not.toContain(created.key);

    const again = await cli('--name', 'second');
    expect(again.code).toBe(1);
    expect(again.out).toBe('');
    expect(again.err).toContain(`Refused: an active admin key of root already exists (${created.id}`);
    expect(again.err).toContain('--force');
    expect(await store.db.selectFrom('api_keys').select('id').execute()).toHaveLength(1);

    const forced = await cli('--force', '--name', 'second admin');
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.out)).toMatchObject({ name: 'second admin', role: 'admin', unit: 'root' });
    expect(await store.db.selectFrom('audit_log').select('id').where('action', '=', 'key.bootstrap').execute()).toHaveLength(2);
  }, 120_000);
});

describe('start-up without an admin key, and with a PostgreSQL database that does not exist', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-noadmin-'));
  const prefix = uniquePrefix('noadmin');
  afterAll(async () => {
    await dropPrefix(prefix);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an empty ADMIN_API_KEY counts as unset: the service starts and says once how to create the first admin key', async () => {
    const p = run('src/main.ts', ['--role=api'], {
      DATABASE_URL: `sqlite:${dir}/a.db`,
      TOKEN_ENCRYPTION_KEY: generateEncryptionKey(),
      ADMIN_API_KEY: '',
      PORT: '0',
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'info',
    });
    try {
      await p.waitForOutput(/no admin key/, 90_000);
    } finally {
      expect(await p.terminate(30_000)).toBe(0);
    }
    const lines = p
      .output()
      .out.split('\n')
      .filter((l) => l.includes('no admin key'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, msg: NO_ADMIN_WARNING });
    expect(NO_ADMIN_WARNING).toContain('lantoa keys bootstrap');
  }, 120_000);

  const pgUrl = loadTestEnv().testDatabaseUrl;
  (pgUrl ? it : it.skip)(
    'a missing PostgreSQL database is one line with the createdb command, exit 1 (service, worker, CLI)',
    async () => {
      const u = new URL(pgUrl!);
      const name = `lantoa_missing_${crypto.randomBytes(4).toString('hex')}`;
      u.pathname = `/${name}`;
      const env = { DATABASE_URL: u.toString(), TOKEN_ENCRYPTION_KEY: generateEncryptionKey(), REDIS_URL, QUEUE_PREFIX: prefix };
      const expected = `database "${name}" does not exist on ${u.hostname}:${u.port || '5432'} — create it with: createdb -h ${u.hostname} -p ${u.port || '5432'}${u.username ? ` -U ${u.username}` : ''} ${name}`;
      for (const [script, args] of [
        ['src/main.ts', []],
        ['workers/main.ts', []],
        ['src/cli/main.ts', ['keys', 'bootstrap']],
      ] as const) {
        const p = run(script, [...args], { ...env, METRICS_PORT: '0' });
        const code = await p.exited;
        const err = p.output().err.trim();
        expect({ script, code, err }).toEqual({ script, code: 1, err: expected });
      }
    },
    180_000,
  );
});
