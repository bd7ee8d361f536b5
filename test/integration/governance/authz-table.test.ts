import crypto from 'node:crypto';
import type { Principal, Role } from '../../../src/services/auth/keys.service';
import { testDatabases } from '../../helpers/databases';
import { startTestStack, UNITS_TEXT, UNITS_TEXT_2025_03, type TestStack } from '../../helpers/stack';

/**
 * Every role × every relation between the caller's unit and the unit acted on × every action, on two trees.
 * On the current tree (2025-07) the caller sits at province 01 (Hà Nội); the unit acted on is 01 itself, its
 * commune 00004, root (an ancestor) or the sibling province 79. The 2025-03 tree is kept for an ancestor that
 * is not root, which only three levels give: the caller sits at district 001 (Ba Đình); the unit acted on is
 * 001 itself, its commune 00001, its province 01 (an ancestor) or the sibling district 002.
 */
type Relation = 'own' | 'descendant' | 'ancestor' | 'sibling';
const TREES = [
  { tree: '2025-07', csv: UNITS_TEXT, caller: '01', relations: { own: '01', descendant: '00004', ancestor: 'root', sibling: '79' } },
  {
    tree: '2025-03',
    csv: UNITS_TEXT_2025_03,
    caller: '001',
    relations: { own: '001', descendant: '00001', ancestor: '01', sibling: '002' },
  },
] satisfies Array<{ tree: string; csv: string; caller: string; relations: Record<Relation, string> }>;
const RELATIONS: Relation[] = ['own', 'descendant', 'ancestor', 'sibling'];
const ROLES: Role[] = ['admin', 'editor', 'approver', 'viewer'];

interface Fixtures {
  pendingPost(unit: string): Promise<string>;
  publishedPost(unit: string): Promise<string>;
  pendingEdit(unit: string): Promise<string>;
  keyAt(unit: string): Promise<string>;
}
type Request = { method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; url: string; payload?: unknown; contentType?: string };

/** What each action sends, who may do it, and what scope rule applies. */
interface Action {
  name: string;
  roles: Role[];
  /** `write`: own/descendant only; `read-post`: a post is visible from below (ancestor) but not from the side. */
  scope: 'write' | 'read-post' | 'read-unit' | 'root-only';
  ok: number;
  /** Status for a unit outside the caller's reach: ancestor / sibling. */
  outside: { ancestor: number; sibling: number };
  request(unit: string, f: Fixtures): Promise<Request>;
}

const json = (method: Request['method'], url: string, payload?: unknown): Request => ({
  method,
  url,
  ...(payload !== undefined ? { payload } : {}),
});

const ACTIONS: Action[] = [
  {
    name: 'create a post',
    roles: ['editor', 'admin'],
    scope: 'write',
    ok: 201,
    outside: { ancestor: 403, sibling: 403 },
    request: async (u) => json('POST', '/v1/posts', { message: 'Tin thử quyền', target: { unit: u, scope: 'self' } }),
  },
  {
    name: 'approve a post',
    roles: ['approver', 'admin'],
    scope: 'write',
    ok: 202,
    outside: { ancestor: 403, sibling: 404 },
    request: async (u, f) => json('POST', `/v1/posts/${await f.pendingPost(u)}/approve`),
  },
  {
    name: 'reject a post',
    roles: ['approver', 'admin'],
    scope: 'write',
    ok: 200,
    outside: { ancestor: 403, sibling: 404 },
    request: async (u, f) => json('POST', `/v1/posts/${await f.pendingPost(u)}/reject`, { reason: 'kiểm tra quyền' }),
  },
  {
    name: 'cancel a post',
    roles: ['editor', 'approver', 'admin'],
    scope: 'write',
    ok: 200,
    outside: { ancestor: 403, sibling: 404 },
    request: async (u, f) => json('POST', `/v1/posts/${await f.pendingPost(u)}/cancel`),
  },
  {
    name: 'recall a post',
    roles: ['editor', 'approver', 'admin'],
    scope: 'write',
    ok: 202,
    outside: { ancestor: 403, sibling: 404 },
    request: async (u, f) => json('POST', `/v1/posts/${await f.publishedPost(u)}/recall`, { reason: 'kiểm tra quyền' }),
  },
  {
    name: 'edit a post',
    roles: ['editor', 'admin'],
    scope: 'write',
    ok: 202,
    outside: { ancestor: 403, sibling: 404 },
    request: async (u, f) => json('PATCH', `/v1/posts/${await f.publishedPost(u)}`, { message: 'Nội dung mới' }),
  },
  {
    name: 'approve an edit',
    roles: ['approver', 'admin'],
    scope: 'write',
    ok: 202,
    outside: { ancestor: 403, sibling: 404 },
    request: async (u, f) => json('POST', `/v1/posts/${await f.pendingEdit(u)}/edits/1/approve`),
  },
  {
    name: 'reject an edit',
    roles: ['approver', 'admin'],
    scope: 'write',
    ok: 200,
    outside: { ancestor: 403, sibling: 404 },
    request: async (u, f) => json('POST', `/v1/posts/${await f.pendingEdit(u)}/edits/1/reject`, { reason: 'kiểm tra quyền' }),
  },
  {
    name: 'see the approvals inbox',
    roles: ['approver', 'admin'],
    scope: 'read-unit',
    ok: 200,
    outside: { ancestor: 200, sibling: 200 },
    request: async () => json('GET', '/v1/approvals'),
  },
  {
    name: 'read a post',
    roles: ROLES,
    scope: 'read-post',
    ok: 200,
    outside: { ancestor: 200, sibling: 404 },
    request: async (u, f) => json('GET', `/v1/posts/${await f.pendingPost(u)}`),
  },
  {
    name: "read a post's deliveries",
    roles: ROLES,
    scope: 'read-post',
    ok: 200,
    outside: { ancestor: 200, sibling: 404 },
    request: async (u, f) => json('GET', `/v1/posts/${await f.publishedPost(u)}/deliveries`),
  },
  {
    name: "list a post's edits",
    roles: ROLES,
    scope: 'read-post',
    ok: 200,
    outside: { ancestor: 200, sibling: 404 },
    request: async (u, f) => json('GET', `/v1/posts/${await f.pendingEdit(u)}/edits`),
  },
  {
    name: 'read a unit',
    roles: ROLES,
    scope: 'read-unit',
    ok: 200,
    outside: { ancestor: 200, sibling: 403 },
    request: async (u) => json('GET', `/v1/units/${u}`),
  },
  {
    name: 'preview a target',
    roles: ROLES,
    scope: 'write',
    ok: 200,
    outside: { ancestor: 403, sibling: 403 },
    request: async (u) => json('POST', '/v1/targets/preview', { target: { unit: u, scope: 'self' } }),
  },
  {
    name: 'create a key',
    roles: ['admin'],
    scope: 'write',
    ok: 201,
    outside: { ancestor: 403, sibling: 403 },
    request: async (u) => json('POST', '/v1/keys', { name: 'k', role: 'viewer', unit: u }),
  },
  {
    name: 'list keys',
    roles: ['admin'],
    scope: 'write',
    ok: 200,
    outside: { ancestor: 403, sibling: 403 },
    request: async (u) => json('GET', `/v1/keys?unit=${u}`),
  },
  {
    name: 'revoke a key',
    roles: ['admin'],
    scope: 'write',
    ok: 200,
    outside: { ancestor: 404, sibling: 404 },
    request: async (u, f) => json('DELETE', `/v1/keys/${await f.keyAt(u)}`),
  },
  {
    name: 'link a Page',
    roles: ['admin'],
    scope: 'write',
    ok: 200,
    outside: { ancestor: 403, sibling: 403 },
    request: async (u) =>
      json('PUT', `/v1/units/${u}/page`, {
        pageId: String(crypto.randomInt(1e9, 1e10)),
        accessToken: `EAAG${crypto.randomBytes(20).toString('hex')}`,
      }),
  },
  {
    name: 'import Pages (CSV; an out-of-branch row rejects the file)',
    roles: ['admin'],
    scope: 'write',
    ok: 200,
    outside: { ancestor: 400, sibling: 400 },
    request: async (u) => ({
      method: 'POST',
      url: '/v1/pages/import',
      contentType: 'text/csv',
      payload: `unit_code,page_id,access_token\n${u},${crypto.randomInt(1e9, 1e10)},EAAG${crypto.randomBytes(20).toString('hex')}`,
    }),
  },
  {
    name: 'import units (admin of root only)',
    roles: ['admin'],
    scope: 'root-only',
    ok: 200,
    outside: { ancestor: 403, sibling: 403 },
    request: async () => ({
      method: 'POST',
      url: '/v1/units/import',
      contentType: 'text/csv',
      payload: 'code,parent_code,level,type,name\n',
    }),
  },
];

function expected(role: Role, relation: Relation, a: Action): number {
  if (!a.roles.includes(role)) return 403;
  if (a.scope === 'root-only') return 403; // the caller is not at root
  if (relation === 'own' || relation === 'descendant') return a.ok;
  return a.outside[relation];
}

const cases = ROLES.flatMap((role) =>
  RELATIONS.flatMap((relation) => ACTIONS.map((action) => ({ role, relation, action, want: expected(role, relation, action) }))),
);

const RUNS = testDatabases().flatMap((db) => TREES.map((t) => ({ ...t, db, name: db.name })));

describe.each(RUNS)('authorisation table on the $tree tree, on $name', ({ db, csv, caller, relations }) => {
  let s: TestStack;
  const keyOf = new Map<Role, string>();
  let rootEditor: Principal;
  let rootAdmin: Principal;
  const fixtures: Fixtures = {
    async pendingPost(unit) {
      return (await s.deps.posts.create(rootEditor, { message: `Bài ${crypto.randomUUID()}`, target: { unit, scope: 'self' } })).id;
    },
    async publishedPost(unit) {
      const id = await this.pendingPost(unit);
      await s.deps.store.db.updateTable('posts').set({ status: 'published' }).where('id', '=', id).execute();
      return id;
    },
    async pendingEdit(unit) {
      const id = await this.publishedPost(unit);
      await s.deps.edits.request(rootEditor, id, 'Bản sửa chờ duyệt');
      return id;
    },
    async keyAt(unit) {
      return (await s.deps.keys.create(rootAdmin, { name: 'to revoke', role: 'viewer', unit })).id;
    },
  };

  beforeAll(async () => {
    s = await startTestStack(db, 'authz', { workers: false });
    await s.deps.units.importCsv(csv);
    rootAdmin = await s.deps.keys.authenticate(s.adminKey);
    rootEditor = await s.deps.keys.authenticate(
      (await s.deps.keys.create(rootAdmin, { name: 'root editor', role: 'editor', unit: 'root' })).key,
    );
    for (const role of ROLES) {
      keyOf.set(role, (await s.deps.keys.create(rootAdmin, { name: `${role}@${caller}`, role, unit: caller })).key);
    }
  });
  afterAll(() => s?.dispose());

  it('covers every role, relation and action', () => {
    expect(cases).toHaveLength(ROLES.length * 4 * ACTIONS.length);
    expect(new Set(cases.map((c) => c.want))).toEqual(new Set([200, 201, 202, 400, 403, 404]));
  });

  it.each(cases.map((c) => [c.role, c.relation, c.action.name, c.want, c] as const))(
    '%s acting on %s unit: %s → %i',
    async (role, relation, _name, want, c) => {
      const req = await c.action.request(relations[relation], fixtures);
      const res = await s.app.inject({
        method: req.method,
        url: req.url,
        headers: { authorization: `Bearer ${keyOf.get(role)!}`, ...(req.contentType ? { 'content-type': req.contentType } : {}) },
        ...(req.payload !== undefined ? { payload: req.payload as string } : {}),
      });
      expect({ status: res.statusCode, body: res.statusCode === want ? undefined : res.body }).toEqual({ status: want, body: undefined });
      if (want === 400) expect(res.json().error.message).toContain('outside your unit');
    },
  );

  it('scopes audit reads: entries about the subtree and about posts reaching the unit, never a sibling branch', async () => {
    const ids = Object.fromEntries(await Promise.all(RELATIONS.map(async (rel) => [rel, await fixtures.pendingPost(relations[rel])])));
    for (const role of ROLES) {
      const res = await s.app.inject({
        method: 'GET',
        url: '/v1/audit?limit=500',
        headers: { authorization: `Bearer ${keyOf.get(role)!}` },
      });
      expect(res.statusCode).toBe(200);
      const subjects = new Set(res.json().items.map((e: { subject: { id: string } }) => e.subject.id));
      expect({
        role,
        own: subjects.has(ids.own),
        descendant: subjects.has(ids.descendant),
        ancestor: subjects.has(ids.ancestor),
        sibling: subjects.has(ids.sibling),
      }).toEqual({
        role,
        own: true,
        descendant: true,
        ancestor: true,
        sibling: false,
      });
    }
  });
});
