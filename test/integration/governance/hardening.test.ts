import { once } from 'node:events';
import { sql } from 'kysely';
import { Redis } from 'ioredis';
import { buildApp } from '../../../src/api/app';
import { testDatabases } from '../../helpers/databases';
import { REDIS_URL } from '../../helpers/redis';
import { startTestStack, UNITS_TEXT, type TestStack } from '../../helpers/stack';

describe.each(testDatabases())('API hardening on $name', (db) => {
  let s: TestStack;
  const keys: Record<string, { id: string; key: string }> = {};
  const call = (
    key: string,
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    payload?: unknown,
    headers: Record<string, string> = {},
  ) =>
    s.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key}`, ...headers },
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });

  beforeAll(async () => {
    s = await startTestStack(db, 'harden', { workers: false });
    await s.deps.units.importCsv(UNITS_TEXT);
    const admin = await s.deps.keys.authenticate(s.adminKey);
    for (const [name, role] of [
      ['editor', 'editor'],
      ['editor2', 'editor'],
      ['victim', 'viewer'],
    ] as const) {
      keys[name] = await s.deps.keys.create(admin, { name, role, unit: 'root' });
    }
  });
  afterAll(() => s?.dispose());

  it('sends security headers on every answer and keeps the docs reachable', async () => {
    const res = await s.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toContain('max-age=');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect((await s.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
    expect([200, 302]).toContain((await s.app.inject({ method: 'GET', url: '/docs/' })).statusCode);
  });

  it('limits each key separately, in Redis shared by every API process, answering 429 with Retry-After', async () => {
    const limitedStack = await startTestStack(db, 'ratelimit', {
      workers: false,
      env: { RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_MS: '60000' },
    });
    const second = await buildApp(limitedStack.deps); // another API process on the same Redis
    // Requests pass unlimited while the connection is still being made (the limiter skips on a
    // Redis error so approvals never fail with it): count only once Redis answers.
    if (limitedStack.deps.redis.status !== 'ready') await once(limitedStack.deps.redis, 'ready');
    const admin = await limitedStack.deps.keys.authenticate(limitedStack.adminKey);
    const limitedKey = await limitedStack.deps.keys.create(admin, { name: 'limited', role: 'viewer', unit: 'root' });
    const otherKey = await limitedStack.deps.keys.create(admin, { name: 'other', role: 'viewer', unit: 'root' });
    const call = (key: string, method: 'GET', url: string) =>
      limitedStack.app.inject({ method, url, headers: { authorization: `Bearer ${key}` } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const app = i % 2 ? second : limitedStack.app;
        statuses.push(
          (await app.inject({ method: 'GET', url: '/v1/queues', headers: { authorization: `Bearer ${limitedKey.key}` } })).statusCode,
        );
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
      const limited = await call(limitedKey.key, 'GET', '/v1/posts');
      expect(limited.statusCode).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.json().error).toMatchObject({ code: 'RATE_LIMITED', message: expect.stringContaining('retry after') });
      expect((await call(otherKey.key, 'GET', '/v1/posts')).statusCode).toBe(200);
      const r = new Redis(REDIS_URL);
      try {
        const prefix = limitedStack.config.queue.prefix;
        expect(await r.keys(`${prefix}:ratelimit:*`)).toContain(`${prefix}:ratelimit:${limitedKey.id}`);
      } finally {
        r.disconnect();
      }
    } finally {
      await second.close();
      await limitedStack.dispose();
    }
  });

  it('answers the same post for a repeated Idempotency-Key and body, 409 for another body, and never creates two', async () => {
    const body = { message: 'Thông báo có khóa chống trùng', target: { unit: '01', scope: 'subtree' } };
    const h = { 'idempotency-key': 'req-2026-0001' };
    const first = await call(keys.editor!.key, 'POST', '/v1/posts', body, h);
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    // Same request again (key order differs), and five concurrent copies: always the same post.
    const reordered = { target: { scope: 'subtree', unit: '01' }, message: 'Thông báo có khóa chống trùng' };
    const again = await Promise.all([0, 1, 2, 3, 4, 5].map(() => call(keys.editor!.key, 'POST', '/v1/posts', reordered, h)));
    for (const res of again) {
      expect(res.statusCode).toBe(201);
      expect(res.headers['idempotent-replayed']).toBe('true');
      expect(res.json().id).toBe(first.json().id);
    }
    const other = await call(keys.editor!.key, 'POST', '/v1/posts', { ...body, message: 'Nội dung khác' }, h);
    expect(other.statusCode).toBe(409);
    expect(other.json().error).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('Idempotency-Key') });
    const rows = await s.deps.store.db.selectFrom('posts').select('id').where('message', '=', body.message).execute();
    expect(rows).toHaveLength(1);
    // Keys are per API key: another caller's identical Idempotency-Key is its own request.
    const otherCaller = await call(keys.editor2!.key, 'POST', '/v1/posts', body, h);
    expect(otherCaller.statusCode).toBe(201);
    expect(otherCaller.json().id).not.toBe(first.json().id);
    expect((await call(keys.editor!.key, 'POST', '/v1/posts', body, { 'idempotency-key': 'has spaces in it' })).statusCode).toBe(400);
  });

  it('rejects oversized bodies with 413 in the one error shape', async () => {
    const huge = await call(keys.editor!.key, 'POST', '/v1/posts', {
      message: 'x'.repeat(1_100_000),
      target: { unit: '01', scope: 'self' },
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error.code).toBe('PAYLOAD_TOO_LARGE');
    const post = await s.deps.posts.create(await s.deps.keys.authenticate(keys.editor!.key), {
      message: 'giới hạn',
      target: { unit: '01', scope: 'self' },
    });
    const recall = await call(s.adminKey, 'POST', `/v1/posts/${post.id}/recall`, { reason: 'r'.repeat(20_000) });
    expect(recall.statusCode).toBe(413);
  });

  it('answers 400, never 500, for input PostgreSQL cannot store or compare (NUL characters, out-of-range cursors)', async () => {
    const post = await s.deps.posts.create(await s.deps.keys.authenticate(keys.editor!.key), {
      message: 'có giao',
      target: { unit: '01', scope: 'self' },
    });
    const cursor = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const cases: Array<[string, Awaited<ReturnType<typeof call>>, string]> = [
      [
        'post message',
        await call(keys.editor!.key, 'POST', '/v1/posts', { message: 'a\u0000b', target: { unit: '01', scope: 'self' } }),
        'body.message',
      ],
      [
        'post link',
        await call(keys.editor!.key, 'POST', '/v1/posts', {
          message: 'a',
          link: 'https://a.vn/\u0000',
          target: { unit: '01', scope: 'self' },
        }),
        'body.link',
      ],
      ['key name', await call(s.adminKey, 'POST', '/v1/keys', { name: 'x\u0000', role: 'viewer', unit: '01' }), 'body.name'],
      ['recall reason', await call(s.adminKey, 'POST', `/v1/posts/${post.id}/recall`, { reason: 'abc\u0000' }), 'body.reason'],
      ['edit message', await call(s.adminKey, 'PATCH', `/v1/posts/${post.id}`, { message: '\u0000x' }), 'body.message'],
      ['audit subject', await call(s.adminKey, 'GET', '/v1/audit?subject=%00'), 'query.subject'],
      ['post cursor', await call(s.adminKey, 'GET', `/v1/posts?cursor=${cursor({ c: '\u0000', i: 'x' })}`), 'cursor'],
      ['delivery cursor', await call(s.adminKey, 'GET', `/v1/posts/${post.id}/deliveries?cursor=${cursor({ i: 1e21 })}`), 'cursor'],
      ['audit cursor', await call(s.adminKey, 'GET', `/v1/audit?cursor=${cursor({ i: -1e300 })}`), 'cursor'],
    ];
    for (const [what, res, field] of cases) {
      expect({ what, status: res.statusCode, names: res.json().error.message.includes(field) }).toEqual({ what, status: 400, names: true });
    }
    const csv = await s.app.inject({
      method: 'POST',
      url: '/v1/pages/import',
      headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'text/csv' },
      payload: 'unit_code,page_id,access_token\n0\u00001,5,EAAGabcdefghij',
    });
    expect(csv.statusCode).toBe(400);
    expect(csv.json().error.message).toContain('line 2');
    // An unknown unit filter matches nothing (it used to reach PostgreSQL as a NUL-bearing string).
    const none = await call(s.adminKey, 'GET', `/v1/posts/${post.id}/deliveries?unit=0`);
    expect(none.statusCode).toBe(200);
    expect(none.json().items).toEqual([]);
  });

  it('lists keys without secrets, and a revoked key stops working with its next request', async () => {
    const before = await call(keys.victim!.key, 'GET', '/v1/posts');
    expect(before.statusCode).toBe(200);
    const list = await call(s.adminKey, 'GET', '/v1/keys');
    expect(list.statusCode).toBe(200);
    const text = list.body;
    for (const k of Object.values(keys)) expect(text).not.toContain(k.key);
    expect(text).not.toMatch(/[0-9a-f]{64}/); // no key hash either
    expect(list.json().items.find((k: { id: string }) => k.id === keys.victim!.id)).toMatchObject({
      name: 'victim',
      role: 'viewer',
      unit: 'root',
      revokedAt: null,
    });

    const revoked = await call(s.adminKey, 'DELETE', `/v1/keys/${keys.victim!.id}`);
    expect(revoked.statusCode).toBe(200);
    const after = await call(keys.victim!.key, 'GET', '/v1/posts');
    expect(after.statusCode).toBe(401);
    expect((await call(s.adminKey, 'DELETE', `/v1/keys/${keys.victim!.id}`)).json().revokedAt).toBe(revoked.json().revokedAt);
    expect((await call(s.adminKey, 'GET', '/v1/keys')).json().items.map((k: { id: string }) => k.id)).not.toContain(keys.victim!.id);
    expect((await call(s.adminKey, 'GET', '/v1/keys?includeRevoked=true')).json().items.map((k: { id: string }) => k.id)).toContain(
      keys.victim!.id,
    );
    const audit = await call(s.adminKey, 'GET', `/v1/audit?subject=${keys.victim!.id}`);
    expect(audit.json().items.map((e: { action: string }) => e.action)).toEqual(['key.create', 'key.revoke']);
  });

  it('keeps the audit log append-only: the database refuses UPDATE and DELETE, and the API has no route for either', async () => {
    const { db: kdb } = s.deps.store;
    const n = async () =>
      Number(
        (
          await kdb
            .selectFrom('audit_log')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = await n();
    expect(before).toBeGreaterThan(0);
    // (Compared as messages: errors raised by the native SQLite driver may come from another realm than the test's.)
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 'accepted',
        (e: unknown) => String((e as { message?: unknown })?.message ?? e),
      );
    expect(await outcome(kdb.updateTable('audit_log').set({ actor_name: 'someone else' }).execute())).toMatch(/append-only/);
    expect(await outcome(kdb.deleteFrom('audit_log').execute())).toMatch(/append-only/);
    if (s.deps.store.dialect === 'postgres') expect(await outcome(sql`truncate audit_log`.execute(kdb))).toMatch(/append-only/);
    expect(await n()).toBe(before);
    for (const method of ['DELETE', 'PATCH', 'PUT', 'POST'] as const) {
      expect((await call(s.adminKey, method, '/v1/audit', method === 'DELETE' ? undefined : {})).statusCode).toBe(404);
    }
    const since = await call(s.adminKey, 'GET', `/v1/audit?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    expect(since.json().items).toEqual([]);
    expect((await call(s.adminKey, 'GET', '/v1/audit?since=yesterday')).statusCode).toBe(400);
  });
});
