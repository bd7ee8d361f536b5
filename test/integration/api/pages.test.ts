import { testDatabases } from '../../helpers/databases';
import { startTestStack, UNITS_TEXT, type TestStack } from '../../helpers/stack';

const TOKEN_A = 'EAAGsecretTokenAAAAAAAAAAAAAAAA';
const TOKEN_B = 'EAAGsecretTokenBBBBBBBBBBBBBBBB';

describe.each(testDatabases())('linking Pages on $name', (db) => {
  let s: TestStack;
  const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: string | object, type = 'application/json') =>
    s.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${s.adminKey}`, ...(payload !== undefined ? { 'content-type': type } : {}) },
      ...(payload !== undefined ? { payload } : {}),
    });
  const pageCount = async () => (await s.deps.store.db.selectFrom('pages').select('unit_code').execute()).length;

  beforeAll(async () => {
    s = await startTestStack(db, 'pages', { workers: false });
    await s.deps.units.importCsv(UNITS_TEXT);
  });
  afterAll(() => s.dispose());

  it('rejects a CSV with bad rows naming each line, and links nothing', async () => {
    const csv = [
      'unit_code,page_id,access_token',
      `01,111111111111111,${TOKEN_A}`,
      `nope,222222222222222,${TOKEN_A}`,
      `79,12ab,${TOKEN_A}`,
      '31,333333333333333,short', // an empty token would map the Page without one; a malformed one is refused
      `48,111111111111111,${TOKEN_B}`,
    ].join('\n');
    const res = await call('POST', '/v1/pages/import', csv, 'text/csv');
    expect(res.statusCode).toBe(400);
    const problems = res.json().error.details.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        { line: 3, field: 'unit_code', message: 'unknown unit nope' },
        { line: 4, field: 'page_id', message: '"12ab" is not a numeric Page id' },
        { line: 5, field: 'access_token', message: 'is missing or malformed' },
        { line: 6, field: 'page_id', message: 'Page 111111111111111 appears twice (line 2)' },
      ]),
    );
    expect(JSON.stringify(res.json())).not.toContain(TOKEN_A);
    expect(await pageCount()).toBe(0);
  });

  it('links Pages, encrypts tokens at rest and never returns them', async () => {
    const res = await call(
      'POST',
      '/v1/pages/import',
      `unit_code,page_id,access_token\n01,111111111111111,${TOKEN_A}\n79,222222222222222,${TOKEN_B}`,
      'text/csv',
    );
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ linked: 2, total: 2 });
    const rows = await s.deps.store.db.selectFrom('pages').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain('secretToken');
    expect(s.deps.cipher().decrypt(rows.find((r) => r.unit_code === '01')!.token_ciphertext!)).toBe(TOKEN_A);
    const unit = await call('GET', '/v1/units/01');
    expect(unit.json().page).toEqual({ pageId: '111111111111111', tokenStatus: 'unknown', tokenStatusReason: null });
    expect(unit.body).not.toContain('secretToken');
  });

  it('replaces a token with PUT, resetting needs_reauth, and refuses a Page owned by another unit', async () => {
    await s.deps.ledger.markPageNeedsReauth('111111111111111', 'password_changed: test');
    expect((await call('GET', '/v1/units/01')).json().page.tokenStatus).toBe('needs_reauth');
    const ok = await call('PUT', '/v1/units/01/page', { pageId: '111111111111111', accessToken: TOKEN_B });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ unitCode: '01', pageId: '111111111111111', tokenStatus: 'unknown' });
    expect((await call('GET', '/v1/units/01')).json().page.tokenStatus).toBe('unknown');
    const stolen = await call('PUT', '/v1/units/48/page', { pageId: '222222222222222', accessToken: TOKEN_A });
    expect(stolen.statusCode).toBe(400);
    expect(stolen.json().error.message).toContain('already linked to unit 79');
    const bad = await call('PUT', '/v1/units/48/page', { pageId: 'abc', accessToken: TOKEN_A });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain('body.pageId');
    expect(bad.body).not.toContain(TOKEN_A);
    expect((await call('PUT', '/v1/units/zz-unknown/page', { pageId: '5', accessToken: TOKEN_A })).statusCode).toBe(400);
  });

  it('gives a unit several Pages from one file, with labels, and unlinks one without losing its token', async () => {
    const csv = [
      'unit_code,page_id,access_token,label',
      `31,333333333333331,${TOKEN_A}x1,Trang chính`,
      `31,333333333333332,${TOKEN_B}x2,Xã cũ`,
      `31,333333333333333,${TOKEN_B}x3,`,
    ].join('\n');
    const res = await call('POST', '/v1/pages/import', csv, 'text/csv');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ linked: 3, total: 3 });
    const unit = (await call('GET', '/v1/units/31')).json();
    expect(unit.pages).toEqual([
      { pageId: '333333333333331', label: 'Trang chính', tokenStatus: 'unknown', tokenStatusReason: null },
      { pageId: '333333333333332', label: 'Xã cũ', tokenStatus: 'unknown', tokenStatusReason: null },
      { pageId: '333333333333333', label: null, tokenStatus: 'unknown', tokenStatusReason: null },
    ]);
    expect(unit.page).toEqual({ pageId: '333333333333331', tokenStatus: 'unknown', tokenStatusReason: null });
    expect((await s.deps.targets.summarize({ unit: '31', scope: 'self' })).pages).toBe(3);

    const gone = await call('DELETE', '/v1/units/31/pages/333333333333332');
    expect(gone.statusCode).toBe(200);
    expect((await call('GET', '/v1/units/31')).json().pages.map((g: { pageId: string }) => g.pageId)).toEqual([
      '333333333333331',
      '333333333333333',
    ]);
    const targeted = await s.deps.targets.resolve({ unit: '31', scope: 'self' });
    expect(targeted.map((t) => t.pageId)).toEqual(['333333333333331', '333333333333333']);
    const kept = await s.deps.store.db.selectFrom('pages').selectAll().where('page_id', '=', '333333333333332').executeTakeFirstOrThrow();
    expect(kept.retired_at).not.toBeNull();
    expect(s.deps.cipher().decrypt(kept.token_ciphertext!)).toBe(`${TOKEN_B}x2`);
    expect((await call('DELETE', '/v1/units/31/pages/333333333333332')).statusCode).toBe(404);
    // An unlinked Page may be linked again, to any unit.
    expect((await call('PUT', '/v1/units/48/page', { pageId: '333333333333332', accessToken: TOKEN_A, label: 'Mới' })).statusCode).toBe(
      200,
    );
    expect((await call('GET', '/v1/units/48')).json().pages).toContainEqual({
      pageId: '333333333333332',
      label: 'Mới',
      tokenStatus: 'unknown',
      tokenStatusReason: null,
    });
    const dup = await call('POST', '/v1/pages/import', `unit_code,page_id,access_token\n31,444,${TOKEN_A}\n48,444,${TOKEN_B}`, 'text/csv');
    expect(dup.statusCode).toBe(400);
    expect(dup.json().error.details.problems[0]).toMatchObject({ line: 3, field: 'page_id' });
  });
});
