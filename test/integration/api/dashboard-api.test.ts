import { testDatabases } from '../../helpers/databases';
import { seedOrganisation, startTestStack, UNITS_TEXT_2025_03, waitFor, type TestStack } from '../../helpers/stack';
import type { ApiClient } from '../../../src/cli/api-client';

/** Reads a server-sent-events response until it ends, with the key in a header (as the dashboard does). */
async function readEvents(url: string, key: string, onOpen?: () => Promise<void>): Promise<Array<{ event: string; data: any }>> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  await onOpen?.();
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event:'))
    .map((block) => {
      const [ev, data] = block.split('\n');
      return { event: ev!.slice('event: '.length), data: JSON.parse(data!.slice('data: '.length)) };
    });
}

const FINAL = ['published', 'partially_failed', 'failed', 'cancelled'];

describe.each(testDatabases())('dashboard read models on $name', (db) => {
  let s: TestStack;
  let editor: ApiClient;
  let approver: ApiClient;
  let keys: Record<'viewer' | 'hanoi' | 'badinh' | 'hcm', string>;
  let pageOf: Map<string, string>;
  let postId: string;
  const broken = ['00001', '00004', '00006'];
  const get = (url: string, key = keys.viewer) => s.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });

  beforeAll(async () => {
    s = await startTestStack(db, 'dash-api');
    // The 2025-03 tree: the roll-up one level at a time and a caller below the post's unit need a district (01 → 001 → communes).
    const { pages } = await seedOrganisation(s, UNITS_TEXT_2025_03);
    pageOf = new Map(pages.map((p) => [p.unitCode, p.pageId]));
    const key = async (role: string, unit: string) => (await s.admin.createKey({ name: `${role} ${unit}`, role, unit })).key;
    editor = s.admin.withKey(await key('editor', 'root'));
    approver = s.admin.withKey(await key('approver', 'root'));
    keys = {
      viewer: await key('viewer', 'root'),
      hanoi: await key('viewer', '01'),
      badinh: await key('viewer', '001'),
      hcm: await key('viewer', '79'),
    };
    // Three communes of Ba Đình lose their token: their deliveries fail and their Pages need reconnecting.
    for (const c of broken) s.sim.invalidateToken(pageOf.get(c)!, 460);
    const post = await editor.createPost({ message: 'Hà Nội: thông báo lịch tiếp dân', target: { unit: '01', scope: 'subtree' } });
    postId = post.id;
    const events = readEvents(`${s.apiUrl}/v1/posts/${postId}/events`, keys.viewer, async () => {
      await approver.approve(postId);
    });
    streamed = await events;
  }, 120_000);
  afterAll(() => s.dispose());

  let streamed: Array<{ event: string; data: any }> = [];

  it('streams progress as server-sent events until the post is final, then ends', async () => {
    const progress = streamed.filter((e) => e.event === 'progress').map((e) => e.data);
    expect(progress[0]).toMatchObject({ id: postId, status: 'pending_approval' });
    const last = progress[progress.length - 1];
    expect(last.status).toBe('partially_failed');
    expect(last.counts).toMatchObject({ published: 557 - broken.length, failed: broken.length, queued: 0, publishing: 0 });
    expect(streamed[streamed.length - 1]!.event).toBe('end');
    // Only changes are sent: no two consecutive events are equal.
    for (let i = 1; i < progress.length; i++) expect(progress[i]).not.toEqual(progress[i - 1]);
  });

  it('streams several posts at once, ends at once for final posts, and refuses bad input', async () => {
    const other = await editor.createPost({ message: 'Ba Đình', target: { unit: '001', scope: 'self' } });
    await approver.approve(other.id);
    await waitFor(async () => FINAL.includes((await editor.getPost(other.id)).status));
    const events = await readEvents(`${s.apiUrl}/v1/posts/events?ids=${postId},${other.id}`, keys.viewer);
    expect(
      events
        .filter((e) => e.event === 'progress')
        .map((e) => e.data.id)
        .sort(),
    ).toEqual([postId, other.id].sort());
    expect(events[events.length - 1]!.event).toBe('end');

    expect((await s.app.inject({ method: 'GET', url: `/v1/posts/${postId}/events` })).statusCode).toBe(401);
    expect((await get(`/v1/posts/${postId}/events`, keys.hcm)).statusCode).toBe(404);
    const bad = await get('/v1/posts/events?ids=nope');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain('query.ids');
  });

  it('rolls the target tree up per subtree, one level at a time', async () => {
    const res = await get(`/v1/posts/${postId}/tree`);
    expect(res.statusCode).toBe(200);
    const { node, children } = res.json();
    expect(node).toMatchObject({ code: '01', level: 1, hasChildren: true, delivery: { status: 'published' } });
    expect(node.counts).toEqual({
      published: 554,
      failed: 3,
      skipped: 0,
      pending: 0,
      cancelled: 0,
      recalling: 0,
      recalled: 0,
      recall_failed: 0,
      total: 557,
    });
    expect(children.length).toBe(30);
    expect(children.reduce((n: number, c: any) => n + c.counts.total, 0)).toBe(556);
    const badinh = children.find((c: any) => c.code === '001');
    expect(badinh.counts).toMatchObject({ failed: 3, total: 14 });
    expect(badinh.delivery.permalink).toMatch(/^https:\/\/www\.facebook\.com\//);

    const level3 = (await get(`/v1/posts/${postId}/tree?unit=001`)).json();
    expect(level3.node.counts.total).toBe(14);
    expect(level3.children).toHaveLength(13);
    const failed = level3.children.filter((c: any) => c.delivery.status === 'failed').map((c: any) => c.code);
    expect(failed.sort()).toEqual(broken);
    expect(level3.children.every((c: any) => c.hasChildren === false && c.counts.total === 1)).toBe(true);
  });

  it('scopes the tree to the caller: default node is their unit, and nothing above it', async () => {
    const mine = (await get(`/v1/posts/${postId}/tree`, keys.badinh)).json();
    expect(mine.node.code).toBe('001');
    expect((await get(`/v1/posts/${postId}/tree?unit=01`, keys.badinh)).statusCode).toBe(403);
    expect((await get(`/v1/posts/${postId}/tree`, keys.hcm)).statusCode).toBe(404);
    expect((await get(`/v1/posts/${postId}/tree?unit=nope`)).statusCode).toBe(404);
  });

  it('groups failures by reason and error code', async () => {
    const res = (await get(`/v1/posts/${postId}/failures`)).json();
    expect(res.total).toBe(3);
    expect(res.items).toHaveLength(1);
    expect(res.items[0]).toMatchObject({
      count: 3,
      code: 190,
      subcode: 460,
      reason: expect.any(String),
      sampleMessage: expect.any(String),
      action: 'relink', // a token failure: relink the Page, a retry alone cannot fix it
    });
    const hanoi = (await get(`/v1/posts/${postId}/failures`, keys.hanoi)).json();
    expect(hanoi.total).toBe(3);
  });

  it('lists Pages needing attention in the caller subtree, with reasons and never tokens', async () => {
    const res = await get('/v1/pages?status=needs_reauth&status=expiring');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.items.map((p: any) => p.unitCode)).toEqual(broken);
    expect(body.items[0]).toEqual({
      unitCode: '00001',
      unitName: 'Phường Phúc Xá',
      unitType: 'Phường',
      level: 3,
      pageId: pageOf.get('00001'),
      label: null,
      tokenStatus: 'needs_reauth',
      tokenStatusReason: expect.any(String),
      checkedAt: expect.any(String),
      // Province › district of the commune (the root is left out).
      ancestors: [
        { code: '01', name: 'Thành phố Hà Nội', level: 1 },
        { code: '001', name: 'Quận Ba Đình', level: 2 },
      ],
    });
    expect(body.counts.needs_reauth).toBe(3);
    expect(res.body).not.toMatch(/EAAG|token_ciphertext|v1\./);
    expect((await get('/v1/pages?status=needs_reauth', keys.hcm)).json()).toMatchObject({ items: [], counts: { needs_reauth: 0 } });
    const page1 = (await get('/v1/pages?limit=2', keys.badinh)).json();
    expect(page1.items.map((p: any) => p.unitCode)).toEqual(['001', '00001']);
    expect(page1.items[0].ancestors).toEqual([{ code: '01', name: 'Thành phố Hà Nội', level: 1 }]);
    const page2 = (await get(`/v1/pages?limit=2&cursor=${page1.nextCursor}`, keys.badinh)).json();
    expect(page2.items.map((p: any) => p.unitCode)).toEqual(['00004', '00006']);
    expect((await get('/v1/pages?status=broken')).statusCode).toBe(400);
  });

  it('reports throughput from the store and who the caller is', async () => {
    const t = (await get('/v1/queues/throughput')).json();
    expect(t.last5Minutes.published).toBeGreaterThanOrEqual(554);
    expect(t.last5Minutes.failed).toBeGreaterThanOrEqual(3);
    expect(t.lastMinute.total).toBeLessThanOrEqual(t.last5Minutes.total);
    expect((await get('/v1/queues/throughput', keys.hcm)).json().last5Minutes.total).toBe(0);

    expect((await get('/v1/me', keys.hanoi)).json()).toEqual({
      keyId: expect.any(String),
      name: 'viewer 01',
      role: 'viewer',
      unit: { code: '01', name: 'Thành phố Hà Nội' },
      deepestLevel: 3,
    });
    const post = await editor.getPost(postId);
    const names = (await get(`/v1/keys/names?ids=${post.createdBy},${post.approvedBy},nope`, keys.hanoi)).json();
    expect(names.items.map((k: any) => k.name).sort()).toEqual(['approver root', 'editor root']);
    // The ADMIN_API_KEY principal has a name for people, never the variable's.
    const bootstrap = (await get('/v1/keys/names?ids=bootstrap-admin', keys.hanoi)).json();
    expect(bootstrap.items).toEqual([{ id: 'bootstrap-admin', name: 'bootstrap admin', role: 'admin', unitCode: 'root' }]);
  });

  it('documents every dashboard route in the OpenAPI document', async () => {
    const doc = (await s.app.inject({ method: 'GET', url: '/docs/json' })).json();
    for (const [path, method] of [
      ['/v1/posts/{id}/events', 'get'],
      ['/v1/posts/events', 'get'],
      ['/v1/posts/{id}/tree', 'get'],
      ['/v1/posts/{id}/failures', 'get'],
      ['/v1/pages', 'get'],
      ['/v1/queues/throughput', 'get'],
      ['/v1/me', 'get'],
      ['/v1/keys/names', 'get'],
    ] as const) {
      expect(doc.paths[path]?.[method]).toBeDefined();
    }
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/dashboard'))).toBe(false);
  });

  it('serves the dashboard as static files with a strict content security policy', async () => {
    const redirect = await s.app.inject({ method: 'GET', url: '/dashboard' });
    expect(redirect.statusCode).toBe(301);
    expect(redirect.headers.location).toBe('/dashboard/');
    const page = await s.app.inject({ method: 'GET', url: '/dashboard/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).not.toMatch(/https?:\/\//);
    const js = await s.app.inject({ method: 'GET', url: '/dashboard/app.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toContain('javascript');
  });
});

describe('a live progress stream and shutdown', () => {
  it('ends open streams when the server closes, so shutdown is not held up', async () => {
    const s = await startTestStack(testDatabases()[0]!, 'dash-close', { workers: false });
    try {
      await s.deps.units.importCsv('code,parent_code,level,type,name\n01,,1,Tỉnh,Thử nghiệm');
      const post = await s.admin.createPost({ message: 'chờ duyệt', target: { unit: '01', scope: 'self' } });
      const res = await fetch(`${s.apiUrl}/v1/posts/${post.id}/events`, { headers: { authorization: `Bearer ${s.adminKey}` } });
      const reader = res.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      expect(first).toContain(': connected');
      await s.app.close();
      let rest = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        rest += new TextDecoder().decode(value);
      }
      // A pending post never ends its stream by itself: the close did it, without an `end` event.
      expect(first + rest).toContain('"status":"pending_approval"');
      expect(first + rest).not.toContain('event: end');
    } finally {
      await s.dispose();
    }
  });
});
