import { sql } from 'kysely';
import { openStore, type Store } from '../../../src/db/create-db';
import { isTransactionConflict } from '../../../src/db/store-errors';
import { transact } from '../../../src/db/transact';
import { storeConfigOf, testDatabases, type TestDatabase } from '../../helpers/databases';

/** Resolves once `n` parties have arrived: both transactions hold their first lock before either asks for the second. */
function barrier(n: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return () => {
    if (++arrived === n) open();
    return opened;
  };
}

/**
 * Two transactions that lock the same two rows in opposite orders: PostgreSQL aborts one with a
 * deadlock (40P01). `transact` runs the loser again, so both changes land; without it one fails.
 */
const onPostgres = testDatabases().filter((d) => d.name === 'postgres');
// SQLite has one writer, so two of its transactions cannot deadlock: without TEST_DATABASE_URL the file's tests are
// listed as skipped (an empty describe.each table would fail the whole file).
const unset: TestDatabase = { name: 'postgres', create: () => Promise.reject(new Error('TEST_DATABASE_URL is not set')) };
const eachDatabase = onPostgres.length > 0 ? describe.each(onPostgres) : describe.skip.each([unset]);

eachDatabase('transactions that deadlock, on $name', (db) => {
  let store: Store;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const created = await db.create();
    drop = created.drop;
    store = await openStore(storeConfigOf(created.url));
    await sql`create table t (id int primary key, v int not null)`.execute(store.db);
  });
  afterAll(async () => {
    await store?.close();
    await drop?.();
  });

  const reset = () => sql`delete from t; insert into t values (1, 0), (2, 0)`.execute(store.db);
  const crossed = (run: typeof transact) => {
    const bothLocked = barrier(2);
    const body = (first: number, second: number) => async (trx: Parameters<Parameters<typeof transact>[1]>[0]) => {
      await sql`update t set v = v + 1 where id = ${first}`.execute(trx);
      await bothLocked();
      await sql`update t set v = v + 1 where id = ${second}`.execute(trx);
    };
    return Promise.allSettled([run(store.db, body(1, 2)), run(store.db, body(2, 1))]);
  };

  it('without a retry, one of two crossed transactions fails with a deadlock', async () => {
    await reset();
    const plain: typeof transact = (d, fn) => d.transaction().execute(fn);
    const results = await crossed(plain);
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect(isTransactionConflict((failed[0] as PromiseRejectedResult).reason)).toBe(true);
  });

  it('with transact, the loser runs again and both changes land', async () => {
    await reset();
    const results = await crossed(transact);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    const rows = await sql<{ id: number; v: number }>`select id, v from t order by id`.execute(store.db);
    expect(rows.rows).toEqual([
      { id: 1, v: 2 },
      { id: 2, v: 2 },
    ]);
  });
});

describe('transact on any store', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore({ kind: 'sqlite', file: ':memory:' });
  });
  afterAll(() => store.close());

  it('runs a conflicted transaction again, and gives up after four tries', async () => {
    let runs = 0;
    const conflict = () => Object.assign(new Error('deadlock detected'), { code: '40P01' });
    await expect(
      transact(store.db, async () => {
        if (++runs < 3) throw conflict();
        return 'done';
      }),
    ).resolves.toBe('done');
    expect(runs).toBe(3);
    runs = 0;
    await expect(
      transact(store.db, async () => {
        runs++;
        throw conflict();
      }),
    ).rejects.toMatchObject({ code: '40P01' });
    expect(runs).toBe(4);
  });

  it('does not run again a transaction that failed for any other reason', async () => {
    let runs = 0;
    await expect(
      transact(store.db, async () => {
        runs++;
        throw Object.assign(new Error('duplicate key'), { code: '23505' });
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(runs).toBe(1);
  });
});
