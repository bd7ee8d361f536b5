import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiClient } from '../../src/cli/api-client';
import { testDatabases } from '../helpers/databases';
import { visibleCopies, waitForStatus } from '../helpers/governance';
import { MERGES, NEW, OLD } from '../helpers/reorg-fixture';
import { seedOrganisation, startTestStack, waitFor, type TestStack } from '../helpers/stack';

/**
 * The reorganisation's rules on the hand-made pair (test/helpers/reorg-fixture.ts): an edit of a
 * post sent before the apply reaches its carried and its retired Pages, webhooks of a suspended key
 * pause until it is re-scoped, scheduled posts that exclude a retiring unit and running fan-outs
 * block the apply, and `pages: "none"` keeps only the Pages of kept units.
 */
jest.setTimeout(180_000);

async function receiver() {
  const bodies: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    bodies,
    close: () => new Promise((r) => server.close(r)),
  };
}

describe.each(testDatabases())('reorganisation rules on the hand-made pair, on $name', (db) => {
  let s: TestStack;
  let editor: ApiClient;
  let approver: ApiClient;
  let pageOf: Map<string, string>;
  let rx: Awaited<ReturnType<typeof receiver>>;
  let binhKey: { id: string; key: string };
  let oldPost: string;
  const message = 'Bài trước sắp xếp';
  const reorganise = (body: Record<string, unknown>) =>
    s.app.inject({
      method: 'POST',
      url: '/v1/units/reorganise',
      headers: { authorization: `Bearer ${s.adminKey}` },
      payload: { units: NEW, merges: MERGES, ...body },
    });
  const publish = async (msg: string, target: object) => {
    const post = await editor.createPost({ message: msg, target });
    await approver.approve(post.id);
    return waitForStatus(editor, post.id, ['published', 'partially_failed', 'failed']);
  };

  beforeAll(async () => {
    rx = await receiver();
    s = await startTestStack(db, 'reorg-rules', { env: { WEBHOOK_BACKOFF_MS: '50' } });
    const { pages } = await seedOrganisation(s, OLD);
    pageOf = new Map(pages.map((p) => [p.unitCode, p.pageId]));
    editor = s.admin.withKey((await s.admin.createKey({ name: 'editor', role: 'editor', unit: 'root' })).key);
    approver = s.admin.withKey((await s.admin.createKey({ name: 'approver', role: 'approver', unit: 'root' })).key);
    // An editor of Tỉnh Bình (02), which the reorganisation renames (a new version under the same code and path).
    binhKey = await s.admin.createKey({ name: 'Tỉnh Bình', role: 'editor', unit: '02' });
    const hook = await s.app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: { authorization: `Bearer ${binhKey.key}` },
      payload: { url: rx.url, events: ['post.published'] },
    });
    expect(hook.statusCode).toBe(201);
    oldPost = (await publish(message, { unit: 'root', scope: 'subtree' })).id;
  });
  afterAll(async () => {
    await s?.dispose();
    await rx?.close();
  });

  it('keeps only the Pages of kept units with pages "none" (dry run)', async () => {
    const res = await reorganise({ pages: 'none' });
    expect(res.statusCode).toBe(200);
    // One Page per unit here (11 with root): root, 01 and 00009 keep theirs.
    expect(res.json().pages).toEqual({ carried: 3, retired: 8, unassigned: [] });
  });

  it('blocks on a scheduled post that excludes a retiring unit', async () => {
    const scheduled = await editor.createPost({
      message: 'Lịch đăng',
      target: { unit: 'root', scope: 'subtree', exclude: ['001'] },
      publishAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    await approver.approve(scheduled.id);
    const res = await reorganise({ apply: true });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.details.posts).toEqual([{ id: scheduled.id, status: 'scheduled', targetUnit: 'root' }]);
    await s.app.inject({ method: 'POST', url: `/v1/posts/${scheduled.id}/cancel`, headers: { authorization: `Bearer ${s.adminKey}` } });
    expect((await editor.getPost(scheduled.id)).status).toBe('cancelled');
  });

  it('applies, and an edit of the older post reaches its kept, carried and retired Pages', async () => {
    const res = await reorganise({ apply: true });
    expect(res.statusCode).toBe(200);
    expect(res.json().units).toEqual({ kept: 3, renamed: 4, created: 3, retired: 8 });
    const edited = `${message} (đã sửa)`;
    const edit = await editor.editPost(oldPost, edited);
    await approver.approveEdit(oldPost, edit.revision);
    await waitFor(async () => {
      const list = await s.app.inject({
        method: 'GET',
        url: `/v1/posts/${oldPost}/edits`,
        headers: { authorization: `Bearer ${s.adminKey}` },
      });
      return list.json().items[0].status === 'applied';
    });
    // Kept (01), carried into 00001 (00002), and retired with no successor (001) or unassigned (00005).
    for (const code of ['01', '00002', '001', '00005']) {
      expect([code, visibleCopies(s, pageOf.get(code)!, edited), visibleCopies(s, pageOf.get(code)!, message)]).toEqual([code, 1, 0]);
    }
  });

  it('pauses the webhooks of a suspended key until it is re-scoped', async () => {
    // Past the webhooks' 5 s cache of live hooks.
    await new Promise((r) => setTimeout(r, 5_500));
    const before = rx.bodies.length;
    await publish('Tin Tỉnh Bình Mới (1)', { unit: '02', scope: 'subtree' });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(rx.bodies.length).toBe(before);
    const rescoped = await s.app.inject({
      method: 'PATCH',
      url: `/v1/keys/${binhKey.id}`,
      headers: { authorization: `Bearer ${s.adminKey}` },
      payload: { unit: '02' },
    });
    expect(rescoped.statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 5_500));
    const post = await publish('Tin Tỉnh Bình Mới (2)', { unit: '02', scope: 'subtree' });
    await waitFor(async () => rx.bodies.some((b) => b.includes(post.id)));
    expect(rx.bodies.slice(before).every((b) => b.includes(post.id))).toBe(true);
  });

  it('refuses a units import that would rename a unit posts went to, unless in place', async () => {
    const renamed = NEW.replace('02,,1,Tỉnh,Tỉnh Bình Mới', '02,,1,Tỉnh,Tỉnh Bình Mới Sửa');
    const importCsv = (query = '') =>
      s.app.inject({
        method: 'POST',
        url: `/v1/units/import${query}`,
        headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'text/csv' },
        payload: renamed,
      });
    const refused = await importCsv();
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.details.units).toEqual(['02']);
    expect((await s.admin.getUnit('02')).name).toBe('Tỉnh Bình Mới');
    // The same tree again changes nothing, so it is no conflict.
    const same = await s.app.inject({
      method: 'POST',
      url: '/v1/units/import',
      headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'text/csv' },
      payload: NEW,
    });
    expect(same.json()).toEqual({ created: 0, updated: 0, total: 9 });
    const fixed = await importCsv('?inPlace=true');
    expect(fixed.json()).toEqual({ created: 0, updated: 1, total: 9 });
    expect((await s.admin.getUnit('02')).name).toBe('Tỉnh Bình Mới Sửa');
  });
});

describe.each(testDatabases())('reorganisation blocked by a running fan-out, on $name', (db) => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack(db, 'reorg-running', { workers: false });
    await seedOrganisation(s, OLD);
  });
  afterAll(() => s?.dispose());

  it('lists a post with deliveries still open on retiring units, and force cancels them', async () => {
    const editor = s.admin.withKey((await s.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
    const approver = s.admin.withKey((await s.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
    const post = await editor.createPost({ message: 'Đang gửi', target: { unit: '01', scope: 'subtree' } });
    await approver.approve(post.id);
    await s.deps.fanout.run(post.id, { get: () => 0, set: async () => {} }); // no workers: the deliveries stay queued
    const call = (body: object) =>
      s.app.inject({
        method: 'POST',
        url: '/v1/units/reorganise',
        headers: { authorization: `Bearer ${s.adminKey}` },
        payload: { units: NEW, merges: MERGES, ...body },
      });
    const dry = await call({});
    expect(dry.json().posts.blocked).toEqual([{ id: post.id, status: 'publishing', targetUnit: '01' }]);
    expect((await call({ apply: true })).statusCode).toBe(409);
    const forced = await call({ apply: true, force: true });
    expect(forced.statusCode).toBe(200);
    const after = await editor.getPost(post.id);
    expect(after.status).toBe('cancelled');
    const reasons = await s.deps.store.db
      .selectFrom('deliveries')
      .select(['status', 'reason'])
      .where('post_id', '=', post.id)
      .distinct()
      .execute();
    expect(reasons).toEqual([{ status: 'cancelled', reason: 'unit_retired' }]);
  });
});
