import path from 'node:path';
import { ConfigError, loadConfig } from '../../config';

const KEY = Buffer.alloc(32, 7).toString('base64');

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.host).toBe('127.0.0.1');
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.database).toEqual({ kind: 'sqlite', file: path.resolve('data/lantoa.db') });
    expect(c.graph).toEqual({ baseUrl: 'https://graph.facebook.com', version: 'v25.0', timeoutMs: 30_000 });
    expect(c.queue).toMatchObject({ prefix: 'lantoa', concurrency: 50, lockMs: 30_000 });
    expect(c.logLevel).toBe('info');
    expect(c.tokenEncryptionKey).toBeUndefined();
  });

  it('selects PostgreSQL for postgres URLs and resolves sqlite paths', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u@db:5432/x' }).database).toEqual({ kind: 'postgres', url: 'postgres://u@db:5432/x' });
    expect(loadConfig({ DATABASE_URL: 'sqlite:/tmp/a.db' }).database).toEqual({ kind: 'sqlite', file: '/tmp/a.db' });
    expect(loadConfig({ DATABASE_URL: 'sqlite:rel/b.db' }).database).toEqual({ kind: 'sqlite', file: path.resolve('rel/b.db') });
    expect(loadConfig({ DATABASE_URL: 'sqlite::memory:' }).database).toEqual({ kind: 'sqlite', file: ':memory:' });
  });

  it('decodes a 32-byte base64 encryption key', () => {
    expect(loadConfig({ TOKEN_ENCRYPTION_KEY: KEY }).tokenEncryptionKey).toEqual(Buffer.alloc(32, 7));
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '', LOG_LEVEL: '' }).port).toBe(3000);
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
    expect(names).toEqual(['DATABASE_URL', 'GRAPH_API_VERSION', 'LOG_LEVEL', 'PORT', 'REDIS_URL', 'TOKEN_ENCRYPTION_KEY', 'WORKER_CONCURRENCY']);
    expect(problems.find((p) => p.startsWith('TOKEN_ENCRYPTION_KEY'))).toContain('32 bytes');
    expect(problems.find((p) => p.startsWith('DATABASE_URL'))).toContain('sqlite:<path> or postgres://');
    expect((err as Error).message).not.toContain('short-secret-value');
  });
});
