import fc from 'fast-check';
import type { z } from 'zod';
import { EditPostSchema, RecallBody } from '../../../src/api/governance-schemas';
import { CreateKeyBody, PutPageBody } from '../../../src/api/schemas';
import { CreatePostSchema } from '../../../src/services/posts/posts.service';
import { testDatabases } from '../../helpers/databases';
import { snapshotStore } from '../../helpers/store-snapshot';
import { startTestStack, UNITS_TEXT, waitFor, type TestStack } from '../../helpers/stack';
import { loadTestEnv } from '../../../config/test-env';

/** Requests per database: at least 5,000 on the first (SQLite), fewer on the second to keep the run short. FUZZ_RUNS=n for a deeper local run. */
/** Non-GET routes that never write to the store (a preview; signing out of the queue UI clears a cookie). */
const NO_STORE_WRITE = new Set(['POST /v1/targets/preview', 'DELETE /admin/session']);
const { fuzzRuns: FUZZ_RUNS } = loadTestEnv();
// PostgreSQL: 1,000, not 500: with 500 one CI run hit POST /v1/units/import fewer than the 5 times every route must get.
const RUNS = FUZZ_RUNS !== undefined ? [FUZZ_RUNS, FUZZ_RUNS] : [5_000, 1_000];

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
interface Route {
  method: Method;
  path: string;
  json: boolean;
  csv: boolean;
  query: string[];
}
interface FuzzRequest {
  route: string;
  method: Method;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

/** Valid bodies that mutations start from; the result must still be rejected by the route's schema. */
const TEMPLATES: Record<string, Record<string, unknown>> = {
  'POST /v1/posts': {
    message: 'Xin chào',
    link: 'https://mattran.org.vn/a',
    photos: ['https://mattran.org.vn/a.jpg'],
    target: { unit: '01', scope: 'subtree', levels: [2], exclude: ['00004'] },
    publishAt: '2030-01-01T00:00:00Z',
  },
  'POST /v1/keys': { name: 'khóa', role: 'viewer', unit: '01' },
  'PUT /v1/units/{code}/page': { pageId: '1234567', accessToken: 'EAAGabcdefghijkl' },
  'POST /v1/posts/{id}/recall': { reason: 'thu hồi' },
  'PATCH /v1/posts/{id}': { message: 'sửa' },
  'POST /v1/targets/preview': { target: { unit: '01', scope: 'subtree' } },
};
/** Bodies these schemas accept would change the store: such a body is never sent. */
const SCHEMAS: Record<string, z.ZodType> = {
  'POST /v1/posts': CreatePostSchema,
  'POST /v1/keys': CreateKeyBody,
  'PUT /v1/units/{code}/page': PutPageBody,
  'POST /v1/posts/{id}/recall': RecallBody,
  'PATCH /v1/posts/{id}': EditPostSchema,
};

const nasty = fc.constantFrom(
  '',
  ' ',
  '%',
  '%zz',
  '%E0%A4%A',
  '..',
  '%00',
  'null',
  'undefined',
  '-1',
  '1e309',
  'NaN',
  '__proto__',
  'constructor',
  "' OR 1=1 --",
  '<script>x</script>',
  'a'.repeat(300),
  '0x10',
  '９９',
  'root',
);
const junkString = fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ maxLength: 20 }), fc.integer().map(String), nasty);
const dangerousJson = fc.constantFrom(
  '{"__proto__":{"admin":true}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  '{"message":"x","target":{"unit":"01","scope":"subtree","__proto__":{"scope":"self"}}}',
  '[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]',
  '{"a":1e99999}',
  '"\\ud800"',
);

/** Deletes, replaces or adds one field somewhere in a copy of the template. */
function mutate(template: Record<string, unknown>): fc.Arbitrary<unknown> {
  const paths: string[][] = [];
  const walk = (v: unknown, p: string[]) => {
    paths.push(p);
    if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) walk(c, [...p, k]);
  };
  walk(template, []);
  return fc
    .tuple(
      fc.constantFrom(...paths),
      fc.constantFrom('delete', 'replace', 'add'),
      fc.jsonValue({ maxDepth: 2 }),
      fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'extra')),
    )
    .map(([p, op, value, key]) => {
      const copy = structuredClone(template) as Record<string, unknown>;
      // Own properties only: assigning `__proto__` would change the prototype instead of adding a key.
      const put = (o: object, k: string, v: unknown) =>
        Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
      if (p.length === 0) return op === 'replace' ? value : put(copy, key, value);
      const parent = p.slice(0, -1).reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, copy);
      const last = p[p.length - 1]!;
      if (op === 'delete') delete parent[last];
      else if (op === 'add' && parent[last] && typeof parent[last] === 'object' && !Array.isArray(parent[last])) {
        put(parent[last] as object, key, value);
      } else put(parent, last, value);
      return copy;
    });
}

function requestArb(
  routes: Route[],
  keys: { admin: string; viewer: string },
  existing: { postIds: string[]; codes: string[] },
): fc.Arbitrary<FuzzRequest> {
  const auth = fc.oneof(
    { weight: 17, arbitrary: fc.constant(`Bearer ${keys.admin}`) },
    { weight: 1, arbitrary: fc.constant(`Bearer ${keys.viewer}`) },
    { weight: 1, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: junkString.map((s) => `Bearer ${s}`) },
  );
  const perRoute = routes.map((r) => {
    const key = `${r.method} ${r.path}`;
    const readOnly = r.method === 'GET' || NO_STORE_WRITE.has(key);
    const schema = SCHEMAS[key];
    const param = (name: string) =>
      fc.oneof(
        junkString.map((s) => (s.includes('/') ? encodeURIComponent(s) : s.replace(/[?#]/g, (c) => encodeURIComponent(c)))),
        junkString.map(encodeURIComponent),
        name === 'revision' ? fc.integer().map(String) : fc.uuid(),
        // Existing objects only where nothing can change: reads, or bodies the schema rejects. Never on
        // server-sent-event routes: a valid stream stays open until its post is final.
        ...((readOnly || schema) && !/\/events$/.test(r.path)
          ? [fc.constantFrom(...(name === 'code' ? existing.codes : existing.postIds))]
          : []),
      );
    const names = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    const path = fc.tuple(...names.map(param)).map((values) => names.reduce((p, n, i) => p.replace(`{${n}}`, values[i]!), r.path));
    const query = fc
      .option(
        fc.dictionary(fc.oneof(fc.constantFrom(...(r.query.length ? r.query : ['x'])), fc.string({ maxLength: 6 })), junkString, {
          maxKeys: 3,
        }),
        { nil: undefined },
      )
      .map((q) => (q ? `?${new URLSearchParams(q).toString()}` : ''));
    let body: fc.Arbitrary<{ payload?: string; contentType?: string }>;
    if (r.csv) {
      body = fc.oneof(
        fc
          .string({ unit: 'binary', maxLength: 300 })
          .filter((s) => !/code/i.test(s))
          .map((s) => ({ payload: s, contentType: 'text/csv' })),
        fc.jsonValue().map((v) => ({ payload: JSON.stringify(v), contentType: 'application/json' })),
      );
    } else {
      // Judged as the server will see it: the JSON text parsed back.
      const jsonBodies = fc
        .oneof(fc.jsonValue({ maxDepth: 3 }), ...(TEMPLATES[key] ? [mutate(TEMPLATES[key]!)] : []))
        .map((v) => JSON.stringify(v) ?? 'null')
        .filter((text) => !schema || !schema.safeParse(JSON.parse(text)).success);
      body = fc.oneof(
        { weight: 6, arbitrary: jsonBodies.map((text) => ({ payload: text, contentType: 'application/json' })) },
        { weight: 1, arbitrary: dangerousJson.map((s) => ({ payload: s, contentType: 'application/json' })) },
        { weight: 1, arbitrary: junkString.map((s) => ({ payload: `{${s}`, contentType: 'application/json' })) },
        {
          weight: 1,
          arbitrary: fc
            .tuple(
              junkString,
              fc.constantFrom(
                'text/plain',
                'application/x-www-form-urlencoded',
                'text/csv',
                'application/xml',
                'application/json; charset=latin1',
              ),
            )
            .map(([s, ct]) => ({ payload: s, contentType: ct })),
        },
        ...(r.json ? [] : [{ weight: 2, arbitrary: fc.constant({}) }]),
      );
    }
    const idem = key === 'POST /v1/posts' ? fc.option(junkString, { nil: undefined }) : fc.constant(undefined);
    return fc.record({ path, query, body, auth, idem }).map(({ path: p, query: q, body: b, auth: a, idem: i }): FuzzRequest => {
      const headers: Record<string, string> = {};
      if (a) headers['authorization'] = a.replace(/[^\x20-\x7e]/g, '?');
      if (b.contentType) headers['content-type'] = b.contentType;
      if (i !== undefined) headers['idempotency-key'] = i.replace(/[^\x20-\x7e]/g, '?');
      return {
        route: key,
        method: r.method,
        url: `${p}${q}`,
        headers,
        ...(b.payload !== undefined && r.method !== 'GET' ? { payload: b.payload } : {}),
      };
    });
  });
  const unknownRoute = fc
    .tuple(fc.constantFrom<Method>('GET', 'POST', 'PUT', 'PATCH', 'DELETE'), junkString)
    .map(([m, s]): FuzzRequest => ({
      route: 'unknown',
      method: m,
      url: `/v1/${encodeURIComponent(s)}/x`,
      headers: { authorization: `Bearer ${keys.admin}` },
    }));
  return fc.oneof(...perRoute, unknownRoute);
}

describe.each(testDatabases().map((d, i) => ({ ...d, runs: RUNS[i] ?? 1_000 })))(
  'malformed requests on every route ($runs generated, $name)',
  (db) => {
    let s: TestStack;
    beforeAll(async () => {
      s = await startTestStack(db, 'fuzz', { workers: false });
      await s.deps.units.importCsv(UNITS_TEXT);
    });
    afterAll(() => s?.dispose());

    it('never answers ≥ 500, always answers errors in the one shape, and leaves the store unchanged', async () => {
      const admin = await s.deps.keys.authenticate(s.adminKey);
      const viewer = await s.deps.keys.create(admin, { name: 'viewer', role: 'viewer', unit: '01' });
      await s.deps.pages.link(admin, { unitCode: '00004', pageId: '1000000000001', accessToken: 'EAAGfuzzfuzzfuzz' });
      const pending = await s.deps.posts.create(admin, { message: 'chờ duyệt', target: { unit: '01', scope: 'subtree' } });
      const published = await s.deps.posts.create(admin, { message: 'đã đăng', target: { unit: '00004', scope: 'self' } });
      await s.deps.store.db.updateTable('posts').set({ status: 'published' }).where('id', '=', published.id).execute();
      await s.deps.edits.request(admin, published.id, 'bản sửa');

      const doc = (await s.app.inject({ method: 'GET', url: '/docs/json' })).json() as {
        paths: Record<
          string,
          Record<string, { parameters?: Array<{ in: string; name: string }>; requestBody?: { content: Record<string, unknown> } }>
        >;
      };
      const routes: Route[] = Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.entries(ops).map(([m, op]) => ({
          method: m.toUpperCase() as Method,
          path,
          json: Boolean(op.requestBody?.content['application/json']),
          csv: Boolean(op.requestBody?.content['text/csv']),
          query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
        })),
      );
      expect(routes.length).toBeGreaterThanOrEqual(20);

      const before = await snapshotStore(s.deps.store);
      const perRoute = new Map<string, number>();
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(
          requestArb(
            routes,
            { admin: s.adminKey, viewer: viewer.key },
            { postIds: [pending.id, published.id], codes: ['01', '00004', 'root'] },
          ),
          async (req) => {
            const res = await s.app.inject({
              method: req.method,
              url: req.url,
              headers: req.headers,
              ...(req.payload !== undefined ? { payload: req.payload } : {}),
            });
            perRoute.set(req.route, (perRoute.get(req.route) ?? 0) + 1);
            statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
            // The readiness probe's 503 is its documented answer while a dependency reconnects (its own shape, with
            // Retry-After), not a crash; that Redis and the store are reachable after the run is checked below.
            if (req.route === 'GET /readyz' && res.statusCode === 503 && (res.json() as { status?: string }).status === 'not_ready') return;
            if (res.statusCode >= 500) throw new Error(`${req.method} ${req.url} → ${res.statusCode}: ${res.body.slice(0, 300)}`);
            // Only reads may succeed: a malformed write that got through would change the store.
            if (res.statusCode < 300 && req.method !== 'GET' && !NO_STORE_WRITE.has(req.route)) {
              throw new Error(`${req.method} ${req.url} was accepted (${res.statusCode}): ${req.payload ?? ''}`);
            }
            if (res.statusCode >= 400) {
              const body = res.json() as { error?: { code?: unknown; message?: unknown } };
              if (typeof body.error?.code !== 'string' || typeof body.error.message !== 'string') {
                throw new Error(`${req.method} ${req.url} → ${res.statusCode} without the error shape: ${res.body.slice(0, 200)}`);
              }
            }
          },
        ),
        { numRuns: db.runs },
      );
      if (loadTestEnv().fuzzReport) {
        console.log(JSON.stringify({ statuses: Object.fromEntries(statuses), perRoute: Object.fromEntries(perRoute) }, null, 1));
      }
      await waitFor(async () => (await s.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200, 15_000);
      const after = await snapshotStore(s.deps.store);
      expect(after).toEqual(before);
      for (const r of routes) {
        expect({ route: `${r.method} ${r.path}`, hit: (perRoute.get(`${r.method} ${r.path}`) ?? 0) >= 5 }).toEqual({
          route: `${r.method} ${r.path}`,
          hit: true,
        });
      }
      // The runs reached past authentication and validation into the handlers, not only the 400 path.
      expect([...statuses.keys()].filter((c) => c >= 400).sort()).toEqual(expect.arrayContaining([400, 401, 403, 404]));
    }, 240_000);
  },
);
