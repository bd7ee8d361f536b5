import { testDatabases } from '../../helpers/databases';
import { startTestStack, UNITS_TEXT, type TestStack } from '../../helpers/stack';
import { AdminSessionService } from '../../../src/services/auth/admin-session.service';

describe('Bull Board at /admin/queues: admins only, by Bearer key or session cookie', () => {
  let s: TestStack;
  const keys: Record<string, string> = {};
  let adminKeyId = '';

  beforeAll(async () => {
    s = await startTestStack(testDatabases()[0]!, 'board', { workers: false });
    await s.deps.units.importCsv(UNITS_TEXT);
    for (const [name, role, unit] of [
      ['viewer', 'viewer', 'root'],
      ['editor', 'editor', 'root'],
      ['admin', 'admin', 'root'],
      ['hnAdmin', 'admin', '01'],
    ] as const) {
      const created = await s.admin.createKey({ name, role, unit });
      keys[name] = created.key;
      if (name === 'admin') adminKeyId = created.id;
    }
  });
  afterAll(() => s.dispose());

  const get = (url: string, headers: Record<string, string> = {}) => s.app.inject({ method: 'GET', url, headers });
  const sessionCookie = (res: { headers: Record<string, unknown> }) => {
    const header = String(res.headers['set-cookie']);
    return { header, value: /^lantoa_admin=([^;]*)/.exec(header)![1]! };
  };

  it('answers 401 without credentials (JSON for API calls, the sign-in form for a browser page load)', async () => {
    const api = await get('/admin/queues/api/queues');
    expect(api.statusCode).toBe(401);
    expect(api.json().error.code).toBe('UNAUTHENTICATED');
    const page = await get('/admin/queues', { accept: 'text/html,application/xhtml+xml' });
    expect(page.statusCode).toBe(401);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('<form method="post" action="/admin/session">');
    expect((await get('/admin/queues', { authorization: 'Bearer lt_unknown' })).statusCode).toBe(401);
  });

  it('answers 403 to keys that are not admins', async () => {
    for (const k of [keys.viewer!, keys.editor!]) {
      const res = await get('/admin/queues/api/queues', { authorization: `Bearer ${k}` });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('FORBIDDEN');
    }
  });

  it('serves the UI and its API to an admin Bearer key, listing every queue', async () => {
    const page = await get('/admin/queues', { authorization: `Bearer ${s.adminKey}` });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<html');
    const api = await get('/admin/queues/api/queues', { authorization: `Bearer ${keys.hnAdmin}` });
    expect(api.statusCode).toBe(200);
    const names = (api.json().queues as Array<{ name: string }>).map((q) => q.name).sort();
    expect(names).toEqual(['deliveries', 'fanout', 'maintenance', 'webhooks']);
  });

  it('turns an admin key into an HttpOnly, SameSite=Strict cookie that holds no key', async () => {
    const res = await s.app.inject({ method: 'POST', url: '/admin/session', payload: { key: keys.admin } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ role: 'admin', unit: 'root', expiresAt: expect.any(String) });
    const { header, value } = sessionCookie(res);
    expect(header).toMatch(/; Path=\/admin; HttpOnly; SameSite=Strict; Max-Age=\d+/);
    expect(header).not.toContain(keys.admin);
    expect(value.startsWith(`v1.${adminKeyId}.`)).toBe(true);

    const page = await get('/admin/queues', { cookie: `other=1; lantoa_admin=${value}` });
    expect(page.statusCode).toBe(200);
    expect((await get('/admin/queues/api/queues', { cookie: `lantoa_admin=${value}` })).statusCode).toBe(200);

    // A cookie-authenticated change from another origin is refused.
    const cross = await s.app.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/deliveries/pause',
      headers: { cookie: `lantoa_admin=${value}`, origin: 'https://evil.example' },
    });
    expect(cross.statusCode).toBe(403);

    const out = await s.app.inject({ method: 'DELETE', url: '/admin/session' });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^lantoa_admin=; .*Max-Age=0/);
  });

  it('signs in from the HTML form and redirects to the board', async () => {
    const res = await s.app.inject({
      method: 'POST',
      url: '/admin/session',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `key=${encodeURIComponent(keys.admin!)}`,
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/admin/queues');
    expect(sessionCookie(res).value).toMatch(/^v1\./);
    const wrong = await s.app.inject({
      method: 'POST',
      url: '/admin/session',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'key=lt_wrong',
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('role="alert"');
  });

  it('refuses sessions for non-admins, bad keys, tampered, expired or revoked-key cookies', async () => {
    expect((await s.app.inject({ method: 'POST', url: '/admin/session', payload: { key: keys.viewer } })).statusCode).toBe(403);
    expect((await s.app.inject({ method: 'POST', url: '/admin/session', payload: { key: 'lt_nope' } })).statusCode).toBe(401);
    expect((await s.app.inject({ method: 'POST', url: '/admin/session', payload: {} })).statusCode).toBe(400);

    const { value } = sessionCookie(await s.app.inject({ method: 'POST', url: '/admin/session', payload: { key: keys.admin } }));
    const [v, id, exp, mac] = value.split('.');
    const tampered = [`${v}.${id}.${Number(exp) + 1000}.${mac}`, `${v}.bootstrap-admin.${exp}.${mac}`, `${value}x`, 'garbage'];
    for (const t of tampered) expect((await get('/admin/queues/api/queues', { cookie: `lantoa_admin=${t}` })).statusCode).toBe(401);

    // Same signing key as the app (derived from TOKEN_ENCRYPTION_KEY), expiry in the past.
    const sessions = new AdminSessionService(s.deps.store.db, s.deps.keys, {
      ttlMs: 60_000,
      secret: s.config.tokenEncryptionKey,
      bootstrapAdmin: true,
    });
    const expired = sessions.issue(adminKeyId, Date.now() - 1);
    expect((await get('/admin/queues/api/queues', { cookie: `lantoa_admin=${expired}` })).statusCode).toBe(401);
    expect(
      (await get('/admin/queues/api/queues', { cookie: `lantoa_admin=${sessions.issue(adminKeyId, Date.now() + 60_000)}` })).statusCode,
    ).toBe(200);

    await s.deps.store.db.updateTable('api_keys').set({ revoked_at: new Date().toISOString() }).where('id', '=', adminKeyId).execute();
    expect((await get('/admin/queues/api/queues', { cookie: `lantoa_admin=${value}` })).statusCode).toBe(401);
  });
});
