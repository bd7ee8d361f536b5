import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { testDatabases } from '../helpers/databases';
import { seedOrganisation, startTestStack, UNITS_TEXT, waitFor, type TestStack } from '../helpers/stack';
import { verifyWebhook, WEBHOOK_HEADERS } from '../../src/services/webhooks/webhook-signature';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A local receiver on 127.0.0.1:0. `/flaky/*` answers 500 to the first attempt of each event, `/gone` 410, the rest 200. */
async function startReceiver() {
  const received: Received[] = [];
  const attemptsByEvent = new Map<string, number>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const path = req.url ?? '/';
      const key = `${path} ${String(req.headers[WEBHOOK_HEADERS.eventId])}`;
      const n = (attemptsByEvent.get(key) ?? 0) + 1;
      attemptsByEvent.set(key, n);
      const status = path === '/gone' ? 410 : path.startsWith('/flaky') && n === 1 ? 500 : 200;
      received.push({ path, headers: req.headers, body, status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'receiver body that must not be stored');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    received,
    at: (path: string) => received.filter((r) => r.path === path),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe.each(testDatabases())('webhooks: signed, retried, logged and scoped, on $name', (db) => {
  let s: TestStack;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  const keys: Record<string, string> = {};
  const call = (key: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
    s.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key}` },
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
  const register = async (key: string, path: string, events: string[]) => {
    const res = await call(key, 'POST', '/v1/webhooks', { url: `${rx.base}${path}`, events });
    expect(res.statusCode).toBe(201);
    return res.json() as { id: string; secret: string; url: string; events: string[]; unit: string };
  };
  const finalPost = (id: string) =>
    waitFor(async () => {
      const p = (await call(keys.editor!, 'GET', `/v1/posts/${id}`)).json();
      return ['published', 'partially_failed', 'failed'].includes(p.status) && p;
    }, 60_000);
  const publish = async (target: object) => {
    const post = (await call(keys.editor!, 'POST', '/v1/posts', { message: `Webhook ${db.name} ${Date.now()}`, target })).json();
    expect((await call(keys.approver!, 'POST', `/v1/posts/${post.id}/approve`)).statusCode).toBe(202);
    return finalPost(post.id);
  };

  beforeAll(async () => {
    rx = await startReceiver();
    s = await startTestStack(db, 'webhooks', { env: { WEBHOOK_BACKOFF_MS: '50', WEBHOOK_ATTEMPTS: '4' } });
    await s.deps.units.importCsv(UNITS_TEXT);
    const hanoi = new Set((await s.deps.targets.resolve({ unit: '01', scope: 'subtree' } as never)).map((u) => u.code));
    await seedOrganisation(s, UNITS_TEXT, { only: (c) => c === 'root' || hanoi.has(c) });
    for (const [name, role, unit] of [
      ['editor', 'editor', 'root'],
      ['approver', 'approver', 'root'],
      ['rootViewer', 'viewer', 'root'],
      ['hnEditor', 'editor', '01'],
      ['hcmViewer', 'viewer', '79'],
    ] as const) {
      keys[name] = (await s.admin.createKey({ name, role, unit })).key;
    }
  });
  afterAll(async () => {
    await s?.dispose();
    await rx?.close();
  });

  it('rejects bad registrations naming the field, shows the secret once and keeps it encrypted', async () => {
    const bad: Array<[unknown, string]> = [
      [{ url: 'ftp://example.org/hook', events: ['post.published'] }, 'body.url'],
      [{ url: 'not a url', events: ['post.published'] }, 'body.url'],
      [{ url: `${rx.base}/x`, events: ['post.created'] }, 'body.events.0'],
      [{ url: `${rx.base}/x`, events: [] }, 'body.events'],
      [{ url: `${rx.base}/x`, events: ['post.failed'], secret: 'mine' }, 'body'],
    ];
    for (const [payload, field] of bad) {
      const res = await call(keys.hnEditor!, 'POST', '/v1/webhooks', payload);
      expect({ field, status: res.statusCode }).toEqual({ field, status: 400 });
      expect(res.json().error.message).toContain(field);
    }
    const hook = await register(keys.hnEditor!, '/unused', ['post.failed']);
    expect(hook).toMatchObject({
      id: expect.stringMatching(/^wh_/),
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9_-]{43}$/),
      unit: '01',
      events: ['post.failed'],
    });
    const row = await s.deps.store.db.selectFrom('webhooks').selectAll().where('id', '=', hook.id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(hook.secret);
    const listed = (await call(keys.hnEditor!, 'GET', '/v1/webhooks')).json().items;
    expect(listed).toEqual([{ id: hook.id, url: hook.url, events: ['post.failed'], unit: '01', createdAt: expect.any(String) }]);
    expect(JSON.stringify(listed)).not.toContain('whsec_');

    // Another key neither sees nor deletes it.
    expect((await call(keys.hcmViewer!, 'GET', '/v1/webhooks')).json().items).toEqual([]);
    expect((await call(keys.hcmViewer!, 'DELETE', `/v1/webhooks/${hook.id}`)).statusCode).toBe(404);
    expect((await call(keys.hcmViewer!, 'GET', `/v1/webhooks/${hook.id}/deliveries`)).statusCode).toBe(404);
    expect((await call(keys.hnEditor!, 'DELETE', `/v1/webhooks/${hook.id}`)).statusCode).toBe(204);
    expect((await call(keys.hnEditor!, 'GET', '/v1/webhooks')).json().items).toEqual([]);
    expect((await call(keys.hnEditor!, 'DELETE', `/v1/webhooks/${hook.id}`)).statusCode).toBe(404);

    // A revoked key's webhooks stop: neither matched for new events nor sent from queued jobs.
    const temp = await s.admin.createKey({ name: 'temporary', role: 'viewer', unit: '01' });
    const orphan = await register(temp.key, '/orphan', ['post.published']);
    expect((await s.deps.webhooks.activeHooks()).map((h) => h.id)).toContain(orphan.id);
    await s.deps.store.db.updateTable('api_keys').set({ revoked_at: new Date().toISOString() }).where('id', '=', temp.id).execute();
    expect(await s.deps.webhooks.loadForSend(orphan.id)).toBeUndefined();
    const refresh = await register(keys.hnEditor!, '/refresh', ['post.failed']); // creating one refreshes the cached list at once
    expect((await s.deps.webhooks.activeHooks()).map((h) => h.id)).not.toContain(orphan.id);
    await call(keys.hnEditor!, 'DELETE', `/v1/webhooks/${refresh.id}`);
  });

  it("signs every POST, retries a 500 then succeeds, logs each attempt and stays inside the key's subtree", async () => {
    const hn = await register(keys.hnEditor!, '/flaky/hn', ['post.published', 'post.partially_failed', 'delivery.failed']);
    const hcm = await register(keys.hcmViewer!, '/hcm', ['post.published', 'post.partially_failed', 'post.failed', 'delivery.failed']);
    const root = await register(keys.rootViewer!, '/root', ['post.partially_failed']);

    const units = await s.deps.targets.resolve({ unit: '01', scope: 'subtree' } as never);
    const failing = units[3]!;
    s.sim.addFaults([{ kind: 'error', endpoint: 'feed', pageId: failing.pageId!, code: 100, count: 5 }]);
    const done = await publish({ unit: '01', scope: 'subtree' });
    expect(done.status).toBe('partially_failed');

    // Two events for the Hà Nội key, each refused once (500) then accepted; one for root; none for HCM.
    await waitFor(async () => rx.at('/flaky/hn').filter((r) => r.status === 200).length === 2 && rx.at('/root').length === 1, 30_000);
    const hnCalls = rx.at('/flaky/hn');
    expect(hnCalls.map((r) => r.status).sort()).toEqual([200, 200, 500, 500]);
    expect(rx.at('/hcm')).toEqual([]);

    for (const r of hnCalls) {
      const headers = {
        timestamp: r.headers[WEBHOOK_HEADERS.timestamp] as string,
        signature: r.headers[WEBHOOK_HEADERS.signature] as string,
      };
      expect(headers.signature).toMatch(/^v1=[0-9a-f]{64}$/);
      expect(verifyWebhook(hn.secret, headers, r.body)).toEqual({ ok: true });
      expect(verifyWebhook(root.secret, headers, r.body)).toEqual({ ok: false, reason: 'mismatch' });
      expect(verifyWebhook(hn.secret, headers, r.body.replace('"', ' "'))).toEqual({ ok: false, reason: 'mismatch' });
      expect(verifyWebhook(hn.secret, headers, r.body, { nowS: Number(headers.timestamp) + 301 })).toEqual({ ok: false, reason: 'stale' });
      const event = JSON.parse(r.body);
      expect(r.headers[WEBHOOK_HEADERS.event]).toBe(event.type);
      expect(r.headers[WEBHOOK_HEADERS.eventId]).toBe(event.id);
    }
    const events = new Map(hnCalls.filter((r) => r.status === 200).map((r) => [JSON.parse(r.body).type, JSON.parse(r.body)]));
    expect(events.get('post.partially_failed')).toMatchObject({
      data: {
        post: {
          id: done.id,
          status: 'partially_failed',
          targetUnit: '01',
          total: units.length,
          counts: { published: units.length - 1, failed: 1 },
        },
      },
    });
    expect(events.get('delivery.failed')).toMatchObject({
      data: {
        postId: done.id,
        delivery: { unitCode: failing.code, pageId: failing.pageId, reason: 'invalid_parameter', error: { code: 100 } },
      },
    });
    const rootEvent = JSON.parse(rx.at('/root')[0]!.body);
    expect(
      verifyWebhook(
        root.secret,
        {
          timestamp: rx.at('/root')[0]!.headers[WEBHOOK_HEADERS.timestamp] as string,
          signature: rx.at('/root')[0]!.headers[WEBHOOK_HEADERS.signature] as string,
        },
        rx.at('/root')[0]!.body,
      ),
    ).toEqual({ ok: true });
    expect(rootEvent).toMatchObject({ type: 'post.partially_failed', data: { post: { id: done.id } } });

    // The delivery log: one row per attempt, newest first, without the receiver's body.
    const log = (await call(keys.hnEditor!, 'GET', `/v1/webhooks/${hn.id}/deliveries`)).json();
    const forPost = log.items.filter((i: { event: string }) => i.event === 'post.partially_failed');
    expect(forPost).toEqual([
      expect.objectContaining({
        attempt: 2,
        statusCode: 200,
        outcome: 'delivered',
        error: null,
        eventId: events.get('post.partially_failed').id,
      }),
      expect.objectContaining({ attempt: 1, statusCode: 500, outcome: 'retrying', error: 'HTTP 500' }),
    ]);
    expect(log.items).toHaveLength(4);
    expect(JSON.stringify(log)).not.toContain('must not be stored');
    expect((await call(keys.hcmViewer!, 'GET', `/v1/webhooks/${hcm.id}/deliveries`)).json().items).toEqual([]);

    for (const h of [hn, hcm, root]) {
      await call(h === hn ? keys.hnEditor! : h === hcm ? keys.hcmViewer! : keys.rootViewer!, 'DELETE', `/v1/webhooks/${h.id}`);
    }
  });

  it('sends a post to the keys above its target only, and gives up on answers not worth retrying', async () => {
    const hn = await register(keys.hnEditor!, '/hn', ['post.published']);
    const root = await register(keys.rootViewer!, '/gone', ['post.published']);
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const refused = (
      await call(keys.rootViewer!, 'POST', '/v1/webhooks', { url: `http://127.0.0.1:${closedPort}/closed`, events: ['post.published'] })
    ).json();

    const done = await publish({ unit: 'root', scope: 'self' });
    expect(done.status).toBe('published');
    await waitFor(async () => {
      const items = (await call(keys.rootViewer!, 'GET', `/v1/webhooks/${refused.id}/deliveries`)).json().items as Array<{
        outcome: string;
      }>;
      return items.some((i) => i.outcome === 'failed') && rx.at('/gone').length === 1;
    }, 30_000);

    // 410 is final at once; a refused connection is retried up to WEBHOOK_ATTEMPTS (4), then failed.
    const gone = (await call(keys.rootViewer!, 'GET', `/v1/webhooks/${root.id}/deliveries`)).json().items;
    expect(gone).toEqual([expect.objectContaining({ attempt: 1, statusCode: 410, outcome: 'failed', error: 'HTTP 410' })]);
    const conn = (await call(keys.rootViewer!, 'GET', `/v1/webhooks/${refused.id}/deliveries`)).json().items;
    expect(conn.map((i: { attempt: number; outcome: string; statusCode: number | null }) => [i.attempt, i.outcome, i.statusCode])).toEqual([
      [4, 'failed', null],
      [3, 'retrying', null],
      [2, 'retrying', null],
      [1, 'retrying', null],
    ]);
    expect(conn[0].error).toBe('ECONNREFUSED');
    // The Hà Nội key is below the root target: it never hears of this post.
    expect(rx.at('/hn')).toEqual([]);
    expect((await call(keys.hnEditor!, 'GET', `/v1/webhooks/${hn.id}/deliveries`)).json().items).toEqual([]);
  });
});
