import { testDatabases } from '../../helpers/databases';
import { startTestStack, UNITS_TEXT, type TestStack } from '../../helpers/stack';

describe.each(testDatabases())('authentication, roles and four eyes on $name', (db) => {
  let s: TestStack;
  const keys: Record<string, string> = {};
  const call = (key: string | undefined, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
    s.app.inject({
      method,
      url,
      headers: key ? { authorization: `Bearer ${key}` } : {},
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
  const postBody = (unit = '01') => ({ message: 'Kiểm tra quyền', target: { unit, scope: 'subtree' } });

  beforeAll(async () => {
    s = await startTestStack(db, 'auth', { workers: false });
    await s.deps.units.importCsv(UNITS_TEXT);
    for (const [name, role, unit] of [
      ['editor', 'editor', 'root'],
      ['editor2', 'editor', 'root'],
      ['approver', 'approver', 'root'],
      ['viewer', 'viewer', 'root'],
      ['hnEditor', 'editor', '01'],
      ['hnApprover', 'approver', '01'],
      ['hnAdmin', 'admin', '01'],
    ] as const) {
      const res = await call(s.adminKey, 'POST', '/v1/keys', { name, role, unit });
      expect(res.statusCode).toBe(201);
      keys[name] = res.json().key;
    }
  });
  afterAll(() => s.dispose());

  it('answers 401 without a key, with a malformed header and with an unknown key', async () => {
    for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer lt_nope' }]) {
      const res = await s.app.inject({ method: 'GET', url: '/v1/posts', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('UNAUTHENTICATED');
    }
  });

  it('shows a new key once and stores only its hash', async () => {
    const res = await call(s.adminKey, 'POST', '/v1/keys', { name: 'once', role: 'viewer', unit: '79' });
    const body = res.json();
    expect(body).toEqual({
      id: expect.stringMatching(/^key_/),
      key: expect.stringMatching(/^lt_[A-Za-z0-9_-]{43}$/),
      name: 'once',
      role: 'viewer',
      unit: '79',
    });
    const row = await s.deps.store.db.selectFrom('api_keys').selectAll().where('id', '=', body.id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(body.key);
    expect(row.key_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('answers 403 for the wrong role', async () => {
    expect((await call(keys.viewer, 'POST', '/v1/posts', postBody())).statusCode).toBe(403);
    expect((await call(keys.approver, 'POST', '/v1/posts', postBody())).statusCode).toBe(403);
    expect((await call(keys.editor, 'POST', '/v1/keys', { name: 'x', role: 'viewer', unit: 'root' })).statusCode).toBe(403);
    expect((await call(keys.editor, 'POST', '/v1/units/import', undefined)).statusCode).toBe(403);
    const post = (await call(keys.editor, 'POST', '/v1/posts', postBody())).json();
    const res = await call(keys.editor2, 'POST', `/v1/posts/${post.id}/approve`);
    expect(res.statusCode).toBe(403);
    expect(res.json().error.message).toContain('may not approve');
  });

  it('never lets the author approve, not even an admin', async () => {
    const post = (await call(s.adminKey, 'POST', '/v1/posts', postBody())).json();
    expect(post.status).toBe('pending_approval');
    const res = await call(s.adminKey, 'POST', `/v1/posts/${post.id}/approve`);
    expect(res.statusCode).toBe(403);
    expect(res.json().error.message).toBe('the author of a post may not approve it');
    expect((await s.deps.postViews.get(await s.deps.keys.authenticate(s.adminKey), post.id)).status).toBe('pending_approval');
    const ok = await call(keys.approver, 'POST', `/v1/posts/${post.id}/approve`);
    expect(ok.statusCode).toBe(202);
    expect(ok.json()).toMatchObject({ id: post.id, status: 'approved' });
    const again = await call(keys.approver, 'POST', `/v1/posts/${post.id}/approve`);
    expect(again.statusCode).toBe(409);
  });

  it('keeps editors and approvers inside their own branch', async () => {
    expect((await call(keys.hnEditor, 'POST', '/v1/posts', postBody('79'))).statusCode).toBe(403);
    expect((await call(keys.hnEditor, 'POST', '/v1/posts', postBody('root'))).statusCode).toBe(403);
    const national = (await call(keys.editor, 'POST', '/v1/posts', postBody('root'))).json();
    expect((await call(keys.hnApprover, 'POST', `/v1/posts/${national.id}/approve`)).statusCode).toBe(403);
    const local = await call(keys.hnEditor, 'POST', '/v1/posts', postBody('00004'));
    expect(local.statusCode).toBe(201);
    expect((await call(keys.hnApprover, 'POST', `/v1/posts/${local.json().id}/approve`)).statusCode).toBe(202);
    expect((await call(keys.hnAdmin, 'POST', '/v1/keys', { name: 'x', role: 'editor', unit: '79' })).statusCode).toBe(403);
    expect((await call(keys.hnAdmin, 'POST', '/v1/keys', { name: 'x', role: 'editor', unit: '00004' })).statusCode).toBe(201);
    // A province viewer does not see another province's post.
    const hcm = (await call(keys.editor, 'POST', '/v1/posts', postBody('79'))).json();
    expect((await call(keys.hnEditor, 'GET', `/v1/posts/${hcm.id}`)).statusCode).toBe(404);
  });

  it('rejects bad input with a 400 naming the field and creates nothing', async () => {
    const before = (await s.deps.store.db.selectFrom('posts').select('id').execute()).length;
    const cases: Array<[unknown, string]> = [
      [{ target: { unit: '01', scope: 'subtree' } }, 'body.message'],
      [{ message: '', target: { unit: '01', scope: 'subtree' } }, 'body.message'],
      [{ message: 'x', target: { unit: '01', scope: 'everything' } }, 'body.target.scope'],
      [{ message: 'x', target: { unit: 'nope', scope: 'subtree' } }, 'body.target.unit'],
      [{ message: 'x', target: { unit: '01', scope: 'subtree', levels: [7] } }, 'body.target'],
      // Valid parts that together reach no unit.
      [{ message: 'x', target: { unit: '01', scope: 'subtree', exclude: ['01'] } }, 'body.target'],
      [{ message: 'x', link: 'javascript:alert(1)', target: { unit: '01', scope: 'subtree' } }, 'body.link'],
      [{ message: 'x', photos: ['ftp://a/b.jpg'], target: { unit: '01', scope: 'subtree' } }, 'body.photos.0'],
      [{ message: 'x', publishAt: 'tomorrow', target: { unit: '01', scope: 'subtree' } }, 'body.publishAt'],
      [{ message: 'x', publishAt: '2020-01-01T00:00:00Z', target: { unit: '01', scope: 'subtree' } }, 'body.publishAt'],
      [{ message: 'x', target: { unit: '01', scope: 'subtree' }, extra: 1 }, 'body'],
    ];
    for (const [payload, field] of cases) {
      const res = await call(keys.editor, 'POST', '/v1/posts', payload);
      expect({ field, status: res.statusCode }).toEqual({ field, status: 400 });
      expect(res.json().error.message).toContain(field);
      // Every problem's field path starts with where it came from, schema-checked or not.
      for (const problem of res.json().error.details.problems) expect(problem.field).toMatch(/^(body|query|params)(\.|$)/);
    }
    expect((await call(keys.editor, 'GET', '/v1/posts/not-a-uuid')).statusCode).toBe(400);
    expect((await call(keys.editor, 'GET', '/v1/posts?limit=0')).statusCode).toBe(400);
    expect((await call(keys.editor, 'GET', '/v1/posts?cursor=garbage')).json().error.details).toMatchObject({
      field: 'query.cursor',
      problems: [{ field: 'query.cursor', message: 'not a cursor returned by this API' }],
    });
    expect((await call(keys.editor, 'GET', '/v1/posts?limit=0')).json().error.details.problems[0].field).toBe('query.limit');
    // 415 names the type the route takes.
    const xml = await s.app.inject({
      method: 'POST',
      url: '/v1/posts',
      headers: { authorization: `Bearer ${keys.editor}`, 'content-type': 'application/xml' },
      payload: '<post/>',
    });
    expect(xml.statusCode).toBe(415);
    expect(xml.json().error.message).toMatch(/^this route takes application\/json, not application\/xml/);
    const csvAsJson = await s.app.inject({
      method: 'POST',
      url: '/v1/units/import',
      headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/vnd.ms-excel' },
      payload: 'code,parent_code,level,type,name\n',
    });
    expect(csvAsJson.statusCode).toBe(415);
    expect(csvAsJson.json().error.message).toContain('this route takes text/csv, not application/vnd.ms-excel');
    expect((await s.deps.store.db.selectFrom('posts').select('id').execute()).length).toBe(before);
  });
});
