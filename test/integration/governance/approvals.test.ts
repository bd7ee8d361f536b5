import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { testDatabases } from '../../helpers/databases';
import { subtreeCodes } from '../../helpers/governance';
import { childCodes, seedOrganisation, startTestStack, UNITS_TEXT, waitFor, type TestStack } from '../../helpers/stack';
import { verifyWebhook, WEBHOOK_HEADERS } from '../../../src/services/webhooks/webhook-signature';
import { loadTestEnv } from '../../../config/test-env';

const ROOT = path.resolve(__dirname, '../../..');

/** The real CLI (src/cli/main.ts through tsx) against the test stack's API. */
function cli(apiUrl: string, key: string, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: { PATH: loadTestEnv().path, LANTOA_API_URL: apiUrl, LANTOA_API_KEY: key },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((r) => child.once('exit', (code) => r({ code, out, err })));
}

/** A local webhook receiver on 127.0.0.1:0 that answers 200 and keeps what it got. */
async function startReceiver() {
  const received: Array<{ url: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ url: req.url ?? '/', headers: req.headers, body });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let seq = 0;

describe.each(testDatabases())('reject, resubmit and the approvals inbox, on $name', (db) => {
  let s: TestStack;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  const keys: Record<string, { id: string; key: string }> = {};
  let commune: string;
  let otherCommune: string;

  type Method = 'GET' | 'POST' | 'PATCH';
  const call = (who: string, method: Method, url: string, payload?: unknown) =>
    s.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${who === 'admin' ? s.adminKey : keys[who]!.key}` },
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
  const submit = async (who: string, extra: Record<string, unknown> = {}, target: object = { unit: '01', scope: 'subtree' }) => {
    const res = await call(who, 'POST', '/v1/posts', {
      message: `[${db.name} #${++seq}] Thông báo ${crypto.randomUUID()}`,
      target,
      ...extra,
    });
    expect(res.statusCode).toBe(201);
    return res.json() as { id: string; status: string; message: string; resubmitOf: string | null };
  };
  const audit = async (id: string) =>
    (await call('admin', 'GET', `/v1/audit?subject=${id}`)).json().items as Array<{
      action: string;
      actor: { keyId: string };
      details: Record<string, unknown>;
    }>;
  const inbox = async (who: string, query = '') => (await call(who, 'GET', `/v1/approvals${query}`)).json();

  beforeAll(async () => {
    rx = await startReceiver();
    s = await startTestStack(db, 'approvals', { env: { WEBHOOK_BACKOFF_MS: '50' } });
    const hanoi = subtreeCodes(UNITS_TEXT, '01');
    await seedOrganisation(s, UNITS_TEXT, { only: (c) => c === 'root' || hanoi.has(c) });
    [commune, otherCommune] = childCodes(UNITS_TEXT, '01') as [string, string];
    for (const [name, role, unit] of [
      ['editor', 'editor', '01'],
      ['editor2', 'editor', '01'],
      ['hcmEditor', 'editor', '79'],
      ['approver', 'approver', '01'],
      ['approver2', 'approver', '01'],
      ['rootApprover', 'approver', 'root'],
      ['communeApprover', 'approver', commune],
      ['hcmApprover', 'approver', '79'],
      ['viewer', 'viewer', '01'],
    ] as const) {
      keys[name] = await s.admin.createKey({ name, role, unit });
    }
  });
  afterAll(async () => {
    await s?.dispose();
    await rx?.close();
  });

  it('rejects a pending post with a reason: 200, shown on the post, filterable, audited, final', async () => {
    const post = await submit('editor');
    const res = await call('approver', 'POST', `/v1/posts/${post.id}/reject`, { reason: '  Sai số liệu ở đoạn 2  ' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      id: post.id,
      status: 'rejected',
      rejection: { by: keys.approver!.id, at: expect.any(String), reason: 'Sai số liệu ở đoạn 2' },
    });
    const view = (await call('editor', 'GET', `/v1/posts/${post.id}`)).json();
    expect(view).toMatchObject({
      status: 'rejected',
      rejection: res.json().rejection,
      resubmitOf: null,
      resubmittedAs: null,
      approvedBy: null,
    });
    const listed = (await call('editor', 'GET', '/v1/posts?status=rejected&limit=500')).json().items.map((p: { id: string }) => p.id);
    expect(listed).toContain(post.id);
    expect(
      (await call('editor', 'GET', '/v1/posts?status=pending_approval&limit=500')).json().items.map((p: { id: string }) => p.id),
    ).not.toContain(post.id);

    const entries = await audit(post.id);
    expect(entries.map((e) => e.action)).toEqual(['post.create', 'post.reject']);
    expect(entries[1]).toMatchObject({
      actor: { keyId: keys.approver!.id },
      details: { reason: 'Sai số liệu ở đoạn 2', author: keys.editor!.id },
    });

    // Final: neither a second rejection, nor an approval, nor a cancel.
    for (const [who, path] of [
      ['approver2', 'reject'],
      ['approver2', 'approve'],
    ] as const) {
      const again = await call(who, 'POST', `/v1/posts/${post.id}/${path}`, path === 'reject' ? { reason: 'lần nữa' } : undefined);
      expect(again.statusCode).toBe(409);
      expect(again.json().error.message).toContain('post is rejected');
    }
    expect((await call('editor', 'POST', `/v1/posts/${post.id}/cancel`)).statusCode).toBe(409);
    // A live stream of a rejected post ends at once: rejected is final.
    const stream = await fetch(`${s.apiUrl}/v1/posts/${post.id}/events`, { headers: { authorization: `Bearer ${keys.editor!.key}` } });
    const text = await stream.text();
    expect(text).toContain('"status":"rejected"');
    expect(text).toMatch(/event: end/);
    expect((await audit(post.id)).map((e) => e.action)).toEqual(['post.create', 'post.reject']);
  });

  it('four eyes and scope: never the author, never an editor or viewer, never an approver outside the target', async () => {
    const byAdmin = await submit('admin');
    const own = await call('admin', 'POST', `/v1/posts/${byAdmin.id}/reject`, { reason: 'tự từ chối' });
    expect(own.statusCode).toBe(403);
    expect(own.json().error.message).toBe('the author of a post may not reject it');

    const post = await submit('editor');
    for (const who of ['editor', 'editor2', 'viewer']) {
      const res = await call(who, 'POST', `/v1/posts/${post.id}/reject`, { reason: 'không được' });
      expect({ who, status: res.statusCode }).toEqual({ who, status: 403 });
    }
    // A commune's approver sees the province's post but does not hold its whole target.
    const narrow = await call('communeApprover', 'POST', `/v1/posts/${post.id}/reject`, { reason: 'không giữ mục tiêu' });
    expect(narrow.statusCode).toBe(403);
    expect(narrow.json().error.message).toContain('outside your unit');
    // Another province's approver does not even see it.
    expect((await call('hcmApprover', 'POST', `/v1/posts/${post.id}/reject`, { reason: 'ngoài phạm vi' })).statusCode).toBe(404);

    // Bad reasons are a 400 naming the field, and change nothing.
    for (const body of [
      {},
      { reason: '' },
      { reason: '   ' },
      { reason: 'a\u0000b' },
      { reason: 'x'.repeat(1001) },
      { reason: 5 },
      { reason: 'ok', extra: 1 },
    ]) {
      const res = await call('approver', 'POST', `/v1/posts/${post.id}/reject`, body);
      expect({ body, status: res.statusCode }).toEqual({ body, status: 400 });
      expect(res.json().error.message).toMatch(/body/);
    }
    expect((await call('approver', 'POST', `/v1/posts/${crypto.randomUUID()}/reject`, { reason: 'không có' })).statusCode).toBe(404);
    const still = (await call('editor', 'GET', `/v1/posts/${post.id}`)).json();
    expect(still).toMatchObject({ status: 'pending_approval', rejection: null });
    expect((await audit(post.id)).map((e) => e.action)).toEqual(['post.create']);

    // The admin, who did not write it, may reject it.
    expect((await call('admin', 'POST', `/v1/posts/${post.id}/reject`, { reason: 'Quản trị từ chối' })).statusCode).toBe(200);
  });

  it('races: of two approvers answering at once, one wins; a reject racing an approve leaves one outcome', async () => {
    const post = await submit('editor');
    const [a, b] = await Promise.all([
      call('approver', 'POST', `/v1/posts/${post.id}/reject`, { reason: 'thứ nhất' }),
      call('approver2', 'POST', `/v1/posts/${post.id}/reject`, { reason: 'thứ hai' }),
    ]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 409]);
    expect((await audit(post.id)).filter((e) => e.action === 'post.reject')).toHaveLength(1);
    const loser = a.statusCode === 409 ? a : b;
    expect(loser.json().error.message).toContain('post is rejected');

    const other = await submit('editor');
    const [r, ap] = await Promise.all([
      call('approver', 'POST', `/v1/posts/${other.id}/reject`, { reason: 'đua với duyệt' }),
      call('approver2', 'POST', `/v1/posts/${other.id}/approve`),
    ]);
    expect([r.statusCode, ap.statusCode].filter((c) => c === 200 || c === 202)).toHaveLength(1);
    const final = (await call('editor', 'GET', `/v1/posts/${other.id}`)).json();
    if (r.statusCode === 200) expect(final.status).toBe('rejected');
    else expect(final.status).not.toBe('rejected');
  });

  it('resubmits a rejected post once, by its author or an editor holding it; the rules are 409s naming why', async () => {
    const pending = await submit('editor');
    const notRejected = await call('editor', 'POST', '/v1/posts', {
      message: 'Sửa lại',
      target: { unit: '01', scope: 'subtree' },
      resubmitOf: pending.id,
    });
    expect(notRejected.statusCode).toBe(409);
    expect(notRejected.json().error.message).toContain('is pending_approval; only a rejected post can be resubmitted');

    const old = await submit('editor');
    await call('approver', 'POST', `/v1/posts/${old.id}/reject`, { reason: 'Thiếu nguồn' });
    // Another province's editor cannot see it; an unknown id names the field.
    const hidden = await call('hcmEditor', 'POST', '/v1/posts', {
      message: 'x',
      target: { unit: '79', scope: 'self' },
      resubmitOf: old.id,
    });
    expect(hidden.statusCode).toBe(400);
    expect(hidden.json().error.message).toContain('resubmitOf');
    const unknown = await call('editor', 'POST', '/v1/posts', {
      message: 'x',
      target: { unit: '01', scope: 'self' },
      resubmitOf: crypto.randomUUID(),
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.message).toContain('resubmitOf');

    // Two resubmissions at once: one wins, the other is told the new id.
    const body = (n: number) => ({ message: `${old.message} (đã sửa ${n})`, target: { unit: '01', scope: 'subtree' }, resubmitOf: old.id });
    const [a, b] = await Promise.all([call('editor', 'POST', '/v1/posts', body(1)), call('editor2', 'POST', '/v1/posts', body(2))]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([201, 409]);
    const created = (a.statusCode === 201 ? a : b).json();
    const loser = (a.statusCode === 201 ? b : a).json();
    expect(loser.error.message).toBe(`resubmitOf: post ${old.id} was already resubmitted as ${created.id}`);
    expect(created).toMatchObject({ status: 'pending_approval', resubmitOf: old.id, resubmittedAs: null, rejection: null });
    expect((await call('editor', 'GET', `/v1/posts/${old.id}`)).json()).toMatchObject({ status: 'rejected', resubmittedAs: created.id });
    expect((await call('editor', 'GET', `/v1/posts/${created.id}`)).json()).toMatchObject({ resubmitOf: old.id });
    const again = await call('editor', 'POST', '/v1/posts', body(3));
    expect(again.statusCode).toBe(409);
    expect(again.json().error.message).toContain(created.id);
    const create = (await audit(created.id)).find((e) => e.action === 'post.create')!;
    expect(create.details).toMatchObject({ resubmitOf: old.id, rejectionReason: 'Thiếu nguồn' });
    expect(await s.deps.store.db.selectFrom('posts').select('id').where('resubmit_of', '=', old.id).execute()).toHaveLength(1);

    // Only editors and admins create posts, resubmissions included.
    const other = await submit('editor');
    await call('approver', 'POST', `/v1/posts/${other.id}/reject`, { reason: 'lại' });
    const byApprover = await call('approver', 'POST', '/v1/posts', {
      message: 'x',
      target: { unit: '01', scope: 'self' },
      resubmitOf: other.id,
    });
    expect(byApprover.statusCode).toBe(403);
  });

  it("the inbox holds what awaits this approver: pending posts and edits in the subtree, with previews, minus the approver's own", async () => {
    const mine = await submit('admin');
    const hn = await submit('editor');
    const hcm = await submit('hcmEditor', {}, { unit: '79', scope: 'self' });
    const rejected = await submit('editor');
    await call('approver', 'POST', `/v1/posts/${rejected.id}/reject`, { reason: 'đã xử lý' });

    const seen = await inbox('approver', '?limit=200');
    const ids = seen.items.filter((i: { kind: string }) => i.kind === 'post').map((i: { post: { id: string } }) => i.post.id);
    expect(ids).toEqual(expect.arrayContaining([mine.id, hn.id]));
    expect(ids).not.toContain(hcm.id);
    expect(ids).not.toContain(rejected.id);
    expect(seen.total).toBe(seen.items.length);
    const item = seen.items.find((i: { post: { id: string } }) => i.post.id === hn.id);
    const preview = (await call('approver', 'POST', '/v1/targets/preview', { target: { unit: '01', scope: 'subtree' } })).json();
    expect(item).toEqual({ kind: 'post', post: expect.objectContaining({ id: hn.id, status: 'pending_approval' }), preview });
    // Newest first.
    const times = seen.items.map((i: { kind: string; post: { createdAt: string }; requestedAt: string }) =>
      i.kind === 'post' ? i.post.createdAt : i.requestedAt,
    );
    expect([...times].sort().reverse()).toEqual(times);

    // The admin wrote `mine`: not in the admin's inbox. HCM's approver sees only HCM's post. The root approver sees both provinces.
    const adminIds = (await inbox('admin', '?limit=200')).items.map((i: { post: { id: string } }) => i.post.id);
    expect(adminIds).toContain(hn.id);
    expect(adminIds).not.toContain(mine.id);
    const hcmItems = (await inbox('hcmApprover')).items.map((i: { post: { id: string } }) => i.post.id);
    expect(hcmItems).toEqual([hcm.id]);
    const rootIds = (await inbox('rootApprover', '?limit=200')).items.map((i: { post: { id: string } }) => i.post.id);
    expect(rootIds).toEqual(expect.arrayContaining([hn.id, hcm.id, mine.id]));
    // A commune's approver holds no province-wide target.
    expect((await inbox('communeApprover')).items).toEqual([]);

    const one = await inbox('approver', '?limit=1');
    expect(one.items).toHaveLength(1);
    expect(one.total).toBe(seen.total);
    for (const q of ['?limit=0', '?limit=201', '?limit=abc']) {
      expect((await call('approver', 'GET', `/v1/approvals${q}`)).statusCode).toBe(400);
    }
    for (const who of ['editor', 'viewer']) expect((await call(who, 'GET', '/v1/approvals')).statusCode).toBe(403);

    // A post whose target unit a reorganisation retired stays in the inbox, without a preview (approving it is a 400 naming the target).
    const lost = childCodes(UNITS_TEXT, '01')[5]!;
    const orphan = await submit('editor', {}, { unit: lost, scope: 'self' });
    await s.deps.store.db.updateTable('units').set({ retired_at: new Date().toISOString() }).where('code', '=', lost).execute();
    const orphanItem = (await inbox('approver', '?limit=200')).items.find((i: { post: { id: string } }) => i.post.id === orphan.id);
    expect(orphanItem).toMatchObject({ kind: 'post', preview: null });
    const approve = await call('approver', 'POST', `/v1/posts/${orphan.id}/approve`);
    expect(approve.statusCode).toBe(400);
    expect(approve.json().error.message).toContain('target.unit');
  });

  it('pending edits are in the inbox; an edit is rejected with a reason under the same rules', async () => {
    const post = await submit('editor', {}, { unit: commune, scope: 'self' });
    expect((await call('approver', 'POST', `/v1/posts/${post.id}/approve`)).statusCode).toBe(202);
    await waitFor(async () => (await call('editor', 'GET', `/v1/posts/${post.id}`)).json().status === 'published');
    const edit = await call('editor', 'PATCH', `/v1/posts/${post.id}`, { message: `${post.message} (sửa)` });
    expect(edit.statusCode).toBe(202);
    const revision = edit.json().revision as number;

    const item = (await inbox('approver', '?limit=200')).items.find(
      (i: { kind: string; postId?: string }) => i.kind === 'edit' && i.postId === post.id,
    );
    expect(item).toEqual({
      kind: 'edit',
      postId: post.id,
      revision,
      message: `${post.message} (sửa)`,
      previousMessage: post.message,
      requestedBy: keys.editor!.id,
      requestedAt: expect.any(String),
      post: expect.objectContaining({ id: post.id, status: 'published' }),
    });
    // The commune's approver holds this target; the editor who asked never sees it as theirs to approve.
    expect((await inbox('communeApprover')).items.map((i: { kind: string; postId?: string }) => `${i.kind}:${i.postId}`)).toContain(
      `edit:${post.id}`,
    );

    const url = `/v1/posts/${post.id}/edits/${revision}/reject`;
    expect((await call('editor', 'POST', url, { reason: 'tự từ chối' })).statusCode).toBe(403);
    expect((await call('approver', 'POST', url, { reason: '' })).statusCode).toBe(400);
    const res = await call('communeApprover', 'POST', url, { reason: 'Giữ nội dung cũ' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'rejected',
      rejection: { by: keys.communeApprover!.id, at: expect.any(String), reason: 'Giữ nội dung cũ' },
    });
    const again = await call('approver', 'POST', url, { reason: 'lần nữa' });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.message).toBe(`edit ${revision} is rejected, not pending_approval`);
    expect((await call('approver', 'POST', `/v1/posts/${post.id}/edits/${revision}/approve`)).statusCode).toBe(409);
    // The Page keeps the old text, the post its message; the edit shows the rejection; the audit says who and why.
    expect((await call('editor', 'GET', `/v1/posts/${post.id}`)).json().message).toBe(post.message);
    const edits = (await call('editor', 'GET', `/v1/posts/${post.id}/edits`)).json().items;
    expect(edits[0]).toMatchObject({ revision, status: 'rejected', rejection: { reason: 'Giữ nội dung cũ' } });
    const entry = (await audit(post.id)).find((e) => e.action === 'post.edit_reject')!;
    expect(entry).toMatchObject({ actor: { keyId: keys.communeApprover!.id }, details: { revision, reason: 'Giữ nội dung cũ' } });
    expect((await inbox('approver', '?limit=200')).items.some((i: { postId?: string }) => i.postId === post.id)).toBe(false);
  });

  it('the CLI rejects with a reason: `lantoa posts reject <id> --reason`', async () => {
    const post = await submit('editor');
    const missing = await cli(s.apiUrl, keys.approver!.key, 'posts', 'reject', post.id);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('--reason');
    const own = await cli(s.apiUrl, keys.editor!.key, 'posts', 'reject', post.id, '--reason', 'tự từ chối');
    expect(own.code).toBe(1);
    expect(own.err).toContain('403');
    const ok = await cli(s.apiUrl, keys.approver!.key, 'posts', 'reject', post.id, '--reason', 'Sai tên đơn vị');
    expect(ok).toMatchObject({ code: 0 });
    expect(JSON.parse(ok.out)).toEqual({
      id: post.id,
      status: 'rejected',
      rejection: { by: keys.approver!.id, at: expect.any(String), reason: 'Sai tên đơn vị' },
    });
    const again = await cli(s.apiUrl, keys.approver!.key, 'posts', 'reject', post.id, '--reason', 'lần nữa');
    expect(again.code).toBe(1);
    expect(again.err).toContain('post is rejected');
  });

  it('webhooks: post.pending_approval on every submission (resubmissions too) and post.rejected, signed, inside the subtree', async () => {
    const hook = await call('approver', 'POST', '/v1/webhooks', { url: rx.url, events: ['post.pending_approval', 'post.rejected'] });
    expect(hook.statusCode).toBe(201);
    const { secret } = hook.json() as { secret: string };
    const hcmHook = await call('hcmApprover', 'POST', '/v1/webhooks', { url: `${rx.url}?hcm`, events: ['post.pending_approval'] });
    expect(hcmHook.statusCode).toBe(201);

    const post = await submit(
      'editor',
      { publishAt: new Date(Date.now() + 86_400_000).toISOString() },
      { unit: otherCommune, scope: 'self' },
    );
    await call('approver', 'POST', `/v1/posts/${post.id}/reject`, { reason: 'Chưa đúng lịch' });
    const again = await submit('editor', { resubmitOf: post.id }, { unit: otherCommune, scope: 'self' });

    const events = await waitFor(async () => {
      const mineOnly = rx.received.filter((r) => r.url === '/hook');
      const parsed = mineOnly.map((r) => ({ ...r, event: JSON.parse(r.body) }));
      const wanted = parsed.filter((r) => [post.id, again.id].includes(r.event.data.post.id));
      return wanted.length >= 3 && wanted;
    }, 30_000);
    for (const r of events) {
      const headers = {
        timestamp: r.headers[WEBHOOK_HEADERS.timestamp] as string,
        signature: r.headers[WEBHOOK_HEADERS.signature] as string,
      };
      expect(verifyWebhook(secret, headers, r.body)).toEqual({ ok: true });
    }
    const byType = (type: string, id: string) => events.find((r) => r.event.type === type && r.event.data.post.id === id)?.event;
    expect(byType('post.pending_approval', post.id)).toMatchObject({
      id: `evt_post_${post.id}_pending_approval`,
      data: {
        post: {
          id: post.id,
          status: 'pending_approval',
          targetUnit: otherCommune,
          target: { unit: otherCommune, scope: 'self' },
          createdBy: keys.editor!.id,
          publishAt: expect.any(String),
          resubmitOf: null,
        },
      },
    });
    expect(byType('post.rejected', post.id)).toMatchObject({
      data: {
        post: { id: post.id, status: 'rejected', rejection: { by: keys.approver!.id, reason: 'Chưa đúng lịch', at: expect.any(String) } },
      },
    });
    expect(byType('post.pending_approval', again.id)).toMatchObject({ data: { post: { resubmitOf: post.id } } });
    expect(events.filter((r) => r.event.type === 'post.pending_approval')).toHaveLength(2);
    // HCM's approver's webhook hears of HCM's posts only, never of Hà Nội's.
    const hcmPost = await submit('hcmEditor', {}, { unit: '79', scope: 'self' });
    await waitFor(async () => rx.received.some((r) => r.url === '/hook?hcm' && r.body.includes(hcmPost.id)), 30_000);
    expect(rx.received.filter((r) => r.url === '/hook?hcm' && (r.body.includes(post.id) || r.body.includes(again.id)))).toEqual([]);
  });
});
