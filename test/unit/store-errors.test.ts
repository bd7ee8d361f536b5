import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { installErrorHandler } from '../../src/api/errors';
import { storeTarget } from '../../src/db/create-db';
import { describeStoreError, isStoreUnavailable, redactUrl, storeErrorKind } from '../../src/db/store-errors';
import { createLogger } from '../../src/logger';

const err = (code: string | undefined, message = 'x', extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), code ? { code } : {}, extra);

describe('store error classification', () => {
  it.each([
    ['PostgreSQL admin shutdown 57P01', err('57P01', 'terminating connection due to administrator command'), 'unreachable'],
    ['PostgreSQL starting up 57P03', err('57P03', 'the database system is starting up'), 'unreachable'],
    ['connection failure 08006', err('08006'), 'unreachable'],
    ['ECONNREFUSED', err('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'), 'unreachable'],
    [
      'AggregateError of refused addresses',
      Object.assign(new AggregateError([err('ECONNREFUSED'), err('ECONNREFUSED')], ''), {}),
      'unreachable',
    ],
    ['pg: connection terminated', err(undefined, 'Connection terminated unexpectedly'), 'unreachable'],
    ['pg: connect timeout', err(undefined, 'timeout exceeded when trying to connect'), 'unreachable'],
    ['wrapped in a cause', new Error('database migration failed', { cause: err('57P01') }), 'unreachable'],
    ['SQLITE_BUSY', err('SQLITE_BUSY', 'database is locked'), 'busy'],
    ['SQLITE_BUSY_SNAPSHOT', err('SQLITE_BUSY_SNAPSHOT'), 'busy'],
    ['PostgreSQL deadlock_detected', err('40P01', 'deadlock detected'), 'busy'],
    ['PostgreSQL serialization_failure', err('40001', 'could not serialize access'), 'busy'],
    ['SQLITE_IOERR_WRITE', err('SQLITE_IOERR_WRITE', 'disk I/O error'), 'write_failed'],
    ['SQLITE_FULL', err('SQLITE_FULL', 'database or disk is full'), 'write_failed'],
  ])('%s → %s', (_name, e, kind) => {
    expect(storeErrorKind(e)).toBe(kind);
    expect(isStoreUnavailable(e)).toBe(true);
  });

  it.each([
    ['unique violation 23505', err('23505', 'duplicate key value violates unique constraint')],
    ['syntax error 42601', err('42601', 'syntax error at or near')],
    ['SQLITE_CONSTRAINT_UNIQUE', err('SQLITE_CONSTRAINT_UNIQUE')],
    ['a plain bug', new TypeError('cannot read properties of undefined')],
    ['not an error', 'boom'],
  ])('%s is not an outage', (_name, e) => {
    expect(isStoreUnavailable(e)).toBe(false);
  });

  it('describes an error by code, message and operation only: never the client node-postgres attaches', () => {
    const client = { connectionParameters: { user: 'lantoa', password: 'hunter2', host: 'db' }, _pool: { idle: [] } };
    const e = err('57P01', 'terminating connection due to administrator command (postgres://lantoa:hunter2@db:5432/ledger)', {
      client,
      severity: 'FATAL',
    });
    const d = describeStoreError(e, 'connection');
    expect(d).toEqual({
      code: '57P01',
      message: 'terminating connection due to administrator command (postgres://lantoa:***@db:5432/ledger)',
      op: 'connection',
    });
    expect(JSON.stringify(d)).not.toMatch(/hunter2|connectionParameters/);
  });

  it('names a PostgreSQL store without its password', () => {
    expect(storeTarget({ kind: 'postgres', url: 'postgres://lantoa:hunter2@db.internal:5432/ledger?sslmode=require', poolMax: 10 })).toBe(
      'postgres://lantoa@db.internal:5432/ledger?sslmode=require',
    );
    expect(storeTarget({ kind: 'postgres', url: 'postgres://lantoa@db:5432/ledger', poolMax: 10 })).toBe(
      'postgres://lantoa@db:5432/ledger',
    );
    expect(redactUrl('see postgresql://u:p%40ss@h/d')).toBe('see postgresql://u:***@h/d');
  });
});

describe('API error handler and store errors', () => {
  async function appThrowing(e: unknown) {
    const lines: string[] = [];
    const dest = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) });
    const app = Fastify({ loggerInstance: createLogger('info', 'test', dest as never) as FastifyBaseLogger });
    installErrorHandler(app);
    app.get('/boom', async () => {
      throw e;
    });
    await app.ready();
    const res = await app.inject({ method: 'GET', url: '/boom' });
    await app.close();
    return { res, lines };
  }

  it.each([
    ['57P01', 'store unavailable (57P01); retry later'],
    ['SQLITE_BUSY', 'store busy (SQLITE_BUSY): another writer holds the lock; retry later'],
    ['SQLITE_FULL', 'store cannot write (SQLITE_FULL); retry later'],
  ])('%s → 503 with Retry-After and the usual error shape', async (code, message) => {
    const { res, lines } = await appThrowing(err(code, 'the store said no', { client: { connectionParameters: { password: 'hunter2' } } }));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json()).toEqual({ error: { code: 'SERVICE_UNAVAILABLE', message } });
    const logged = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'store unavailable');
    expect(logged).toMatchObject({ code, message: 'the store said no', op: 'GET /boom' });
    expect(lines.join('')).not.toMatch(/hunter2|connectionParameters/);
  });

  it('a constraint violation is not an outage (500), and its log line carries no client internals', async () => {
    const { res, lines } = await appThrowing(err('23505', 'duplicate key', { client: { connectionParameters: { password: 'hunter2' } } }));
    expect(res.statusCode).toBe(500);
    expect(res.headers['retry-after']).toBeUndefined();
    expect(lines.join('')).not.toMatch(/hunter2|connectionParameters/);
  });
});
