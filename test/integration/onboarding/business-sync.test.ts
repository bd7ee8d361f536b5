import crypto from 'node:crypto';
import { simulatedPageId } from '../../../dev/stack';
import { testDatabases } from '../../helpers/databases';
import { waitForStatus } from '../../helpers/governance';
import { startTestStack, UNITS_TEXT, type TestStack } from '../../helpers/stack';

/**
 * Connecting every Page without handling Page tokens: a mapping import without tokens, the system
 * user's token checked and stored, and a sync of the 3,356 Pages of the 2025-07 tree over 35 pages
 * of `/me/accounts`, with Pages lacking CREATE_CONTENT and portfolio Pages mapped to no unit.
 * Coverage is checked against a count made here from the same inputs.
 */
jest.setTimeout(300_000);

const APP_ID = '100000000000001';
const SCOPES = ['pages_show_list', 'pages_manage_posts', 'pages_read_engagement', 'business_management'];
const rows = UNITS_TEXT.trim()
  .split('\n')
  .slice(1)
  .map((l) => {
    const [code, , level, , name] = l.split(',');
    return { code: code!, level: Number(level), name: name! };
  });
const units = [{ code: 'root', level: 0, name: 'Ủy ban Trung ương' }, ...rows];
const pageOf = new Map(units.map((u, i) => [u.code, simulatedPageId(i)]));
// Five units whose Pages sit in the portfolio but are not mapped; seven whose system-user grant lacks CREATE_CONTENT.
const UNMAPPED = new Set(rows.filter((_, i) => i % 700 === 3).map((u) => u.code));
const NO_CREATE = new Set(rows.filter((_, i) => i % 480 === 7 && !UNMAPPED.has(rows[i]!.code)).map((u) => u.code));
// Portfolio Pages that belong to no unit at all (one named like a ward, for the suggestion).
const EXTRA = Array.from({ length: 40 }, (_, i) => ({ id: `9${String(i).padStart(14, '0')}`, name: `Trang khác ${i}` }));
EXTRA[0]!.name = 'Ủy ban MTTQ Phường Ba Đình';

describe.each(testDatabases())('Business Manager sync on $name', (db) => {
  let s: TestStack;
  const suToken = `EAAGsu${crypto.randomBytes(24).toString('base64url')}`;
  const weakToken = `EAAGweak${crypto.randomBytes(20).toString('base64url')}`;
  const tokens = new Map(units.map((u) => [u.code, `EAAGpg${crypto.randomBytes(20).toString('base64url')}`]));
  const call = (method: 'GET' | 'PUT' | 'POST', url: string, payload?: unknown, key?: string) =>
    s.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key ?? s.adminKey}`, ...(typeof payload === 'string' ? { 'content-type': 'text/csv' } : {}) },
      ...(payload !== undefined ? { payload: payload as string } : {}),
    });

  beforeAll(async () => {
    s = await startTestStack(db, 'bizsync', { env: { FB_APP_ID: APP_ID, FB_APP_SECRET: 'sim-app-secret' } });
    await s.deps.units.importCsv(UNITS_TEXT);
    s.sim.seedPages([
      ...units.map((u) => ({ id: pageOf.get(u.code)!, token: tokens.get(u.code)!, name: `UBMTTQ ${u.name}` })),
      ...EXTRA.map((e) => ({ id: e.id, token: `EAAGx${crypto.randomBytes(20).toString('base64url')}`, name: e.name })),
    ]);
    s.sim.seedSystemUsers([
      {
        id: '61550000000001',
        name: 'Lan Tỏa publisher',
        token: suToken,
        scopes: SCOPES,
        pages: [
          ...units.map((u) => ({
            id: pageOf.get(u.code)!,
            tasks: NO_CREATE.has(u.code) ? ['ANALYZE', 'MODERATE'] : ['CREATE_CONTENT', 'MODERATE'],
          })),
          ...EXTRA.map((e) => ({ id: e.id, tasks: ['CREATE_CONTENT'] })),
        ],
      },
      { id: '61550000000002', token: weakToken, scopes: ['pages_show_list'], pages: [] },
    ]);
  });
  afterAll(() => s?.dispose());

  it('maps Pages to units without tokens', async () => {
    const csv = [
      'unit_code,page_id,access_token',
      ...units.filter((u) => !UNMAPPED.has(u.code)).map((u) => `${u.code},${pageOf.get(u.code)},`),
    ].join('\n');
    const res = await call('POST', '/v1/pages/import', csv);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ linked: units.length - UNMAPPED.size, total: units.length - UNMAPPED.size });
    const unit = (await call('GET', '/v1/units/01')).json();
    expect(unit.pages).toEqual([{ pageId: pageOf.get('01'), label: null, tokenStatus: 'no_token', tokenStatusReason: null }]);
  });

  it('refuses a token that is not a system user with the publishing scopes, naming what is missing', async () => {
    const pageToken = await call('PUT', '/v1/business/connection', { systemUserToken: tokens.get('01') });
    expect(pageToken.statusCode).toBe(400);
    expect(pageToken.json().error.message).toContain('not a SYSTEM_USER token');
    const unknown = await call('PUT', '/v1/business/connection', { systemUserToken: 'EAAGnotatokenatall' });
    expect(unknown.statusCode).toBe(400);
    const weak = await call('PUT', '/v1/business/connection', { systemUserToken: weakToken });
    expect(weak.statusCode).toBe(400);
    expect(weak.json().error.message).toContain('scopes missing: pages_manage_posts, business_management');
    expect((await call('GET', '/v1/business/connection')).json().connected).toBe(false);
    const viewer = await s.admin.createKey({ name: 'viewer', role: 'viewer', unit: 'root' });
    expect((await call('GET', '/v1/business/connection', undefined, viewer.key)).statusCode).toBe(403);
  });

  it('stores the system-user token encrypted and never shows it', async () => {
    const res = await call('PUT', '/v1/business/connection', { systemUserToken: suToken });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain(suToken);
    expect(res.json()).toMatchObject({ connected: true, status: 'valid', tokenType: 'SYSTEM_USER', systemUserId: '61550000000001' });
    expect(res.json().scopes).toEqual(expect.arrayContaining(['pages_show_list', 'pages_manage_posts', 'business_management']));
    const row = await s.deps.store.db.selectFrom('business_connection').selectAll().executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(suToken);
    expect(s.deps.cipher().decrypt(row.token_ciphertext)).toBe(suToken);
  });

  it('syncs every mapped Page over 35 pages of /me/accounts, with the right counts', async () => {
    const before = s.sim.requestCount();
    const res = await call('POST', '/v1/pages/sync?suggest=true');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const mapped = units.length - UNMAPPED.size;
    expect(body.requests).toBe(Math.ceil((units.length + EXTRA.length) / 100));
    expect(body.requests).toBeGreaterThanOrEqual(34);
    expect(s.sim.requestCount() - before).toBeGreaterThanOrEqual(body.requests);
    expect(body.pages).toMatchObject({
      seen: units.length + EXTRA.length,
      matched: mapped,
      tokensUpdated: mapped,
      missingCreateContent: NO_CREATE.size,
      mappedNotSeen: 0,
    });
    expect(body.pages.unmapped.map((u: { pageId: string }) => u.pageId).sort()).toEqual(
      [...[...UNMAPPED].map((c) => pageOf.get(c)!), ...EXTRA.map((e) => e.id)].sort(),
    );
    expect(body.units.withoutPage).toBe(UNMAPPED.size);
    const baDinh = body.pages.unmapped.find((u: { pageId: string }) => u.pageId === EXTRA[0]!.id);
    expect(baDinh.suggestions).toEqual([{ unitCode: '00004', unitName: 'Phường Ba Đình', match: 'exact' }]);
    expect(res.body).not.toContain(suToken);
    for (const t of tokens.values()) expect(res.body).not.toContain(t);

    // The stored tokens are the Pages' own, and a Page without CREATE_CONTENT needs re-authorisation.
    const hn = await s.deps.store.db.selectFrom('pages').selectAll().where('page_id', '=', pageOf.get('01')!).executeTakeFirstOrThrow();
    expect(s.deps.cipher().decrypt(hn.token_ciphertext!)).toBe(tokens.get('01'));
    expect(hn.token_status).toBe('valid');
    const blocked = [...NO_CREATE][0]!;
    expect((await call('GET', `/v1/units/${blocked}`)).json().pages[0]).toMatchObject({
      tokenStatus: 'needs_reauth',
      tokenStatusReason: expect.stringContaining('missing_task_create_content'),
    });
    // A second sync changes no token.
    expect((await call('POST', '/v1/pages/sync')).json().pages.tokensUpdated).toBe(0);
    expect((await call('GET', '/v1/business/connection')).json()).toMatchObject({
      lastSync: { matched: mapped },
      lastSyncAt: expect.any(String),
    });
  });

  it('reports coverage per level that matches a count made from the inputs', async () => {
    const res = await call('GET', '/v1/units/root/coverage');
    expect(res.statusCode).toBe(200);
    const expected = [0, 1, 2].map((level) => {
      const at = units.filter((u) => u.level === level);
      const missing = at.filter((u) => UNMAPPED.has(u.code)).length;
      const needsReauth = at.filter((u) => NO_CREATE.has(u.code)).length;
      return { level, units: at.length, connected: at.length - missing - needsReauth, needsReauth, expiring: 0, missing };
    });
    expect(res.json().levels).toEqual(expected);
    expect(res.json().levels.reduce((n: number, l: { units: number }) => n + l.units, 0)).toBe(3_356);
    // Per child subtree, and the units in one state.
    const kids = (await call('GET', '/v1/units/root/coverage?children=true')).json().children;
    expect(kids).toHaveLength(34);
    const hnKids = kids.find((k: { code: string }) => k.code === '01').totals;
    const hnCodes = new Set(['01', ...rowsOfProvince('01')]);
    expect(hnKids).toEqual({
      units: hnCodes.size,
      connected: [...hnCodes].filter((c) => !UNMAPPED.has(c) && !NO_CREATE.has(c)).length,
      needsReauth: [...hnCodes].filter((c) => NO_CREATE.has(c)).length,
      expiring: 0,
      missing: [...hnCodes].filter((c) => UNMAPPED.has(c)).length,
    });
    const preview = (await call('POST', '/v1/targets/preview', { target: { unit: 'root', scope: 'subtree' } })).json();
    expect(preview).toMatchObject({ units: 3_356, withoutHealthyPage: UNMAPPED.size + NO_CREATE.size });
    const missing = (await call('GET', '/v1/units/root/coverage?list=missing')).json().units;
    expect(missing.items.map((u: { code: string }) => u.code).sort()).toEqual([...UNMAPPED].sort());
    expect((await call('GET', '/v1/units/root/coverage?list=bogus')).statusCode).toBe(400);
    // A province's own subtree, and scope: a province key cannot read the root's coverage.
    const hn = await s.admin.createKey({ name: 'HN viewer', role: 'viewer', unit: '01' });
    expect((await call('GET', '/v1/units/root/coverage', undefined, hn.key)).statusCode).toBe(403);
    const own = (await call('GET', '/v1/units/01/coverage', undefined, hn.key)).json();
    expect(own.levels.map((l: { units: number }) => l.units)).toEqual([
      1,
      units.filter((u) => u.level === 2 && rowsOfProvince('01').has(u.code)).length,
    ]);
  });

  it('publishes a national post to every connected Page; the others fail or skip without a Graph call', async () => {
    const editor = s.admin.withKey((await s.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
    const approver = s.admin.withKey((await s.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
    const post = await editor.createPost({ message: 'Sau đồng bộ', target: { unit: 'root', scope: 'subtree' } });
    await approver.approve(post.id);
    const done = await waitForStatus(editor, post.id, ['published', 'partially_failed', 'failed'], 240_000);
    expect(done.counts).toMatchObject({
      published: units.length - UNMAPPED.size - NO_CREATE.size,
      failed: NO_CREATE.size,
      skipped: UNMAPPED.size,
    });
  });
});

function rowsOfProvince(code: string): Set<string> {
  return new Set(
    UNITS_TEXT.trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','))
      .filter((f) => f[1] === code)
      .map((f) => f[0]!),
  );
}
