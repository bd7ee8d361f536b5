import path from 'node:path';
import { ConfigError, defaultPgPoolMax, loadConfig } from '../../config';

const KEY = Buffer.alloc(32, 7).toString('base64');

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.host).toBe('127.0.0.1');
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.database).toEqual({ kind: 'sqlite', file: path.resolve('data/lantoa.db') });
    expect(c.graph).toEqual({ baseUrl: 'https://graph.facebook.com', version: 'v25.0', timeoutMs: 30_000 });
    expect(c.queue).toMatchObject({ prefix: 'lantoa', concurrency: 500, lockMs: 30_000 });
    expect(c.logLevel).toBe('info');
    expect(c.tokenEncryptionKey).toBeUndefined();
  });

  it('selects PostgreSQL for postgres URLs and resolves sqlite paths', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u@db:5432/x' }).database).toEqual({
      kind: 'postgres',
      url: 'postgres://u@db:5432/x',
      poolMax: 60,
    });
    expect(loadConfig({ DATABASE_URL: 'sqlite:/tmp/a.db' }).database).toEqual({ kind: 'sqlite', file: '/tmp/a.db' });
    expect(loadConfig({ DATABASE_URL: 'sqlite:rel/b.db' }).database).toEqual({ kind: 'sqlite', file: path.resolve('rel/b.db') });
    expect(loadConfig({ DATABASE_URL: 'sqlite::memory:' }).database).toEqual({ kind: 'sqlite', file: ':memory:' });
  });

  it('sizes the PostgreSQL pool from PG_POOL_MAX, else from WORKER_CONCURRENCY + 5 capped at 60', () => {
    const pg = (env: Record<string, string>) => {
      const db = loadConfig({ DATABASE_URL: 'postgres://u@db:5432/x', ...env }).database;
      return db.kind === 'postgres' ? db.poolMax : undefined;
    };
    expect(pg({})).toBe(60); // the default concurrency (500) + 5, capped
    expect(pg({ WORKER_CONCURRENCY: '10' })).toBe(15);
    expect(pg({ WORKER_CONCURRENCY: '200' })).toBe(60);
    expect(pg({ PG_POOL_MAX: '12', WORKER_CONCURRENCY: '200' })).toBe(12);
    expect(pg({ PG_POOL_MAX: '' })).toBe(60);
    expect(defaultPgPoolMax(1)).toBe(6);
    // SQLite has no pool: the variable is accepted and has no effect.
    expect(loadConfig({ PG_POOL_MAX: '8' }).database).toEqual({ kind: 'sqlite', file: path.resolve('data/lantoa.db') });
    for (const bad of ['0', '1', '1001', '2.5', 'many']) {
      expect(() => loadConfig({ PG_POOL_MAX: bad })).toThrow(/PG_POOL_MAX: /);
    }
  });

  it('decodes a 32-byte base64 encryption key', () => {
    expect(loadConfig({ TOKEN_ENCRYPTION_KEY: KEY }).tokenEncryptionKey).toEqual(Buffer.alloc(32, 7));
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '', LOG_LEVEL: '' }).port).toBe(3000);
    // `ADMIN_API_KEY=` (or blanks) in .env is no bootstrap key, not a 400-style config error.
    expect(loadConfig({ ADMIN_API_KEY: '' }).adminApiKey).toBeUndefined();
    expect(loadConfig({ ADMIN_API_KEY: '   ' }).adminApiKey).toBeUndefined();
    expect(loadConfig({ ADMIN_API_KEY: 'a-key-of-16-chars-or-more' }).adminApiKey).toBe('a-key-of-16-chars-or-more');
  });

  it('lists every bad variable with what was expected, and never echoes secrets', () => {
    let err: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://x',
        REDIS_URL: 'localhost:6379',
        TOKEN_ENCRYPTION_KEY: 'short-secret-value',
        WORKER_CONCURRENCY: '0',
        LOG_LEVEL: 'loud',
        GRAPH_API_VERSION: '25',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    const names = problems.map((p) => p.split(':')[0]).sort();
    expect(names).toEqual([
      'DATABASE_URL',
      'GRAPH_API_VERSION',
      'LOG_LEVEL',
      'PORT',
      'REDIS_URL',
      'TOKEN_ENCRYPTION_KEY',
      'WORKER_CONCURRENCY',
    ]);
    expect(problems.find((p) => p.startsWith('TOKEN_ENCRYPTION_KEY'))).toContain('32 bytes');
    expect(problems.find((p) => p.startsWith('DATABASE_URL'))).toContain('sqlite:<path> or postgres://');
    expect((err as Error).message).not.toContain('short-secret-value');
  });
});

describe('loadConfig: governance settings', () => {
  it('reads retired encryption keys, app credentials, token-health and rate-limit settings', () => {
    const old = Buffer.alloc(32, 9).toString('base64');
    const c = loadConfig({
      TOKEN_ENCRYPTION_KEY: KEY,
      TOKEN_ENCRYPTION_KEYS_OLD: `${old}, ${KEY}`,
      FB_APP_ID: '123',
      FB_APP_SECRET: 'abcdefgh',
      TOKEN_SWEEP_EVERY_MINUTES: '30',
      TOKEN_EXPIRING_DAYS: '3',
      RATE_LIMIT_MAX: '0',
    });
    expect(c.oldTokenEncryptionKeys).toEqual([Buffer.alloc(32, 9), Buffer.alloc(32, 7)]);
    expect(c.facebookApp).toEqual({ id: '123', secret: 'abcdefgh' });
    expect(c.tokenHealth).toEqual({ sweepEveryMs: 30 * 60_000, expiringWithinMs: 3 * 86_400_000 });
    expect(c.rateLimit).toEqual({ max: 0, windowMs: 60_000 });
  });

  it('defaults: no retired keys, no app (sweep off), 600 requests a minute per key', () => {
    const c = loadConfig({});
    expect(c.oldTokenEncryptionKeys).toEqual([]);
    expect(c.facebookApp).toBeUndefined();
    expect(c.rateLimit).toEqual({ max: 600, windowMs: 60_000 });
  });

  it('wants FB_APP_ID and FB_APP_SECRET together, and never echoes the secret or a key', () => {
    let err: unknown;
    try {
      loadConfig({ FB_APP_SECRET: 'top-secret-app-secret', TOKEN_ENCRYPTION_KEYS_OLD: 'not-a-key-value' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['FB_APP_ID', 'TOKEN_ENCRYPTION_KEYS_OLD']);
    expect((err as Error).message).not.toContain('top-secret-app-secret');
    expect((err as Error).message).not.toContain('not-a-key-value');
  });
});
