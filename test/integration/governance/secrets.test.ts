import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { createLogger } from '../../../src/logger';
import type { TestDatabase } from '../../helpers/databases';
import { waitForStatus } from '../../helpers/governance';
import { dropPrefix, REDIS_URL } from '../../helpers/redis';
import { childCodes, seedOrganisation, startTestStack, UNITS_TEXT, waitFor, type TestStack } from '../../helpers/stack';

/** Every way a secret could be written down: as is, and base64 / base64url encoded. */
function forms(secret: string): string[] {
  const b = Buffer.from(secret);
  return [secret, b.toString('base64').replace(/=+$/, ''), b.toString('base64url')];
}

function hits(haystack: Buffer, secrets: Record<string, string>): string[] {
  const found: string[] = [];
  for (const [name, secret] of Object.entries(secrets)) {
    for (const f of forms(secret)) if (haystack.includes(Buffer.from(f))) found.push(`${name} (${f === secret ? 'plain' : 'encoded'})`);
  }
  return found;
}

/** Every key under the prefix with its value read back by type, plus its DUMP. */
async function redisContents(prefix: string): Promise<Buffer> {
  const r = new Redis(REDIS_URL);
  const parts: Buffer[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scanBuffer(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = String(next);
      for (const key of keys) {
        parts.push(key);
        const type = await r.type(key);
        if (type === 'string') parts.push((await r.getBuffer(key)) ?? Buffer.alloc(0));
        else if (type === 'hash') parts.push(...Object.entries(await r.hgetallBuffer(key)).flatMap(([k, v]) => [Buffer.from(k), v]));
        else if (type === 'list') parts.push(...(await r.lrangeBuffer(key, 0, -1)));
        else if (type === 'set') parts.push(...(await r.smembersBuffer(key)));
        else if (type === 'zset') parts.push(...(await r.zrangeBuffer(key, '0', '-1')));
        else if (type === 'stream') parts.push(Buffer.from(JSON.stringify(await r.xrange(key, '-', '+'))));
        parts.push((await r.dumpBuffer(key)) ?? Buffer.alloc(0));
      }
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
  return Buffer.concat(parts);
}

describe('secrets stay secret: a known Page token, API keys, the app secret, system-user tokens, connect links, OAuth codes and user tokens never reach logs, Redis or the database file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-secrets-'));
  const dbFile = path.join(dir, 'secrets.db');
  const fileDb: TestDatabase = {
    name: 'sqlite',
    create: async () => ({ url: `sqlite:${dbFile}`, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) }),
  };
  const logChunks: Buffer[] = [];
  const logStream = new PassThrough();
  logStream.on('data', (b: Buffer) => logChunks.push(b));
  const KNOWN_TOKEN = `EAAGknownPageToken${crypto.randomBytes(24).toString('hex')}`;
  const APP_SECRET = `appsecret${crypto.randomBytes(12).toString('hex')}`;
  const SYSTEM_USER_TOKEN = `EAAGsystemUser${crypto.randomBytes(24).toString('hex')}`;
  const WEAK_SYSTEM_USER_TOKEN = `EAAGweakSystemUser${crypto.randomBytes(24).toString('hex')}`;
  let s: TestStack;
  let closed = false;

  afterAll(async () => {
    if (s && !closed) await s.dispose().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds 0 hits after a fan-out with failures, a recall, an edit, token checks and rejected requests', async () => {
    s = await startTestStack(fileDb, 'secrets', {
      log: createLogger('trace', 'lantoa', logStream),
      env: { LOG_LEVEL: 'trace', FB_APP_ID: '100000000000001', FB_APP_SECRET: APP_SECRET, GRAPH_TIMEOUT_MS: '1000' },
      connectFlow: true,
      simulator: { appSecret: APP_SECRET },
    });
    // Pages on root, Hà Nội and 13 of its wards (as many as a district had); the other wards have none (skipped).
    const wards = new Set(childCodes(UNITS_TEXT, '01').slice(0, 13));
    const { pages } = await seedOrganisation(s, UNITS_TEXT, { only: (c) => c === 'root' || c === '01' || wards.has(c) });
    const pageOf = new Map(pages.map((p) => [p.unitCode, p.pageId]));
    const victim = pageOf.get('00004')!;
    s.sim.seedPages([{ id: victim, token: KNOWN_TOKEN }]);
    await s.admin.importPages(`unit_code,page_id,access_token\n00004,${victim},${KNOWN_TOKEN}`);
    // A malformed CSV quoting the token: the 400 and its log line must not echo it.
    const bad = await s.app.inject({
      method: 'POST',
      url: '/v1/pages/import',
      headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'text/csv' },
      payload: `unit_code,page_id,access_token\n00004,${victim},x"${KNOWN_TOKEN}"`,
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).not.toContain(KNOWN_TOKEN);

    const editorKey = await s.admin.createKey({ name: 'editor', role: 'editor', unit: 'root' });
    const approverKey = await s.admin.createKey({ name: 'approver', role: 'approver', unit: 'root' });
    const editor = s.admin.withKey(editorKey.key);
    const approver = s.admin.withKey(approverKey.key);
    await s.deps.tokenHealth.sweep();

    // Failures on the known token's Page: a lost answer, an HTML error; elsewhere a timeout, a broken token and random 500s.
    // (Throttles are left out: they wait minutes; they log and store nothing more than these.)
    s.sim.addFaults([
      { kind: 'error-after-process', pageId: victim, endpoint: 'feed', code: 2, count: 1 },
      { kind: 'html-error', pageId: victim, endpoint: 'any', count: 1 },
      { kind: 'error', endpoint: 'feed', code: 1, rate: 0.2 },
      { kind: 'delay', pageId: pageOf.get('00008')!, endpoint: 'feed', delayMs: 1_500, count: 1 },
    ]);
    s.sim.invalidateToken(pageOf.get('00025')!, 463);
    const post = await editor.createPost({ message: 'Kiểm tra bí mật', target: { unit: '01', scope: 'subtree' } });
    await approver.approve(post.id);
    const done = await waitForStatus(editor, post.id, ['published', 'partially_failed', 'failed'], 120_000);
    expect(done.counts.failed).toBeGreaterThanOrEqual(1);
    expect(done.counts.published).toBeGreaterThan(0);

    s.sim.clearFaults();
    s.sim.addFaults([{ kind: 'error', pageId: victim, endpoint: 'edit', code: 2, count: 1 }]);
    await editor.editPost(post.id, 'Kiểm tra bí mật (đã sửa)');
    await approver.approveEdit(post.id, 1);
    await waitFor(
      async () =>
        (await editor.getPost(post.id)).message === 'Kiểm tra bí mật (đã sửa)' &&
        (await s.deps.edits.list(await s.deps.keys.authenticate(s.adminKey), post.id))[0]!.status !== 'applying',
    );
    s.sim.addFaults([{ kind: 'error', pageId: victim, endpoint: 'delete', code: 2, count: 2 }]);
    await approver.recall(post.id, 'kiểm tra bí mật');
    await waitForStatus(editor, post.id, ['recalled'], 120_000);
    // The Business Manager path: a system user's token checked and stored, a refused one, and a sync that re-derives the
    // Page tokens (the known one included) through /me/accounts.
    s.sim.seedSystemUsers([
      {
        id: '61550000000009',
        token: SYSTEM_USER_TOKEN,
        scopes: ['pages_show_list', 'pages_manage_posts', 'business_management'],
        pages: [...pageOf.values()].map((id) => ({ id, tasks: ['CREATE_CONTENT'] })),
      },
      { id: '61550000000010', token: WEAK_SYSTEM_USER_TOKEN, scopes: ['pages_show_list'], pages: [] },
    ]);
    const connect = (systemUserToken: string) =>
      s.app.inject({
        method: 'PUT',
        url: '/v1/business/connection',
        headers: { authorization: `Bearer ${s.adminKey}` },
        payload: { systemUserToken },
      });
    expect((await connect(WEAK_SYSTEM_USER_TOKEN)).statusCode).toBe(400);
    expect((await connect(SYSTEM_USER_TOKEN)).statusCode).toBe(200);
    const sync = await s.app.inject({
      method: 'POST',
      url: '/v1/pages/sync?suggest=true',
      headers: { authorization: `Bearer ${s.adminKey}` },
    });
    expect(sync.json().pages.matched).toBe(pageOf.size);
    // The self-service path: connect links (one for a subtree's CSV), the Login dialog, the code exchanges and the
    // long-lived user tokens they return (one flow finished, one left waiting for its pick, so its user token sits in
    // the store, encrypted), and a replayed code (36009).
    const flowTokens: string[] = [];
    const exchange = s.deps.graph.exchangeToken.bind(s.deps.graph);
    s.deps.graph.exchangeToken = async (app, grant) => {
      const res = await exchange(app, grant);
      flowTokens.push(res.data.access_token);
      return res;
    };
    const CONNECT_PAGE_TOKEN = `EAAGconnectPage${crypto.randomBytes(24).toString('hex')}`;
    s.sim.seedPages([
      { id: '900000000000501', name: 'Trang tự kết nối', token: CONNECT_PAGE_TOKEN },
      { id: '900000000000502', name: 'Trang chờ chọn', token: `EAAGpending${crypto.randomBytes(24).toString('hex')}` },
    ]);
    s.sim.seedUsers([
      { id: '10000000000000501', pages: [{ id: '900000000000501', tasks: ['CREATE_CONTENT'] }] },
      { id: '10000000000000502', pages: [{ id: '900000000000502', tasks: ['CREATE_CONTENT'] }] },
    ]);
    const unescapeHtml = (h: string) => h.replace(/&#(\d+);/g, (_m, d: string) => String.fromCharCode(Number(d)));
    const connectThroughLink = async (unit: string, userId: string, pick: boolean) => {
      s.sim.setDialog({ userId });
      const made = await s.app.inject({
        method: 'POST',
        url: `/v1/units/${unit}/connect-links`,
        headers: { authorization: `Bearer ${s.adminKey}` },
        payload: {},
      });
      const url = (made.json() as { url: string }).url;
      const opened = await (await fetch(url)).text();
      const dialog = await fetch(unescapeHtml(/id="login" href="([^"]+)"/.exec(opened)![1]!), { redirect: 'manual' });
      const callback = dialog.headers.get('location')!;
      const chooser = await (await fetch(callback)).text();
      if (pick) {
        const action = unescapeHtml(/<form method="post" action="([^"]+)"/.exec(chooser)![1]!);
        const form = new URLSearchParams({
          state: /name="state" value="([^"]+)"/.exec(chooser)![1]!,
          pageId: /name="pageId"[^>]*value="(\d+)"/.exec(chooser)![1]!,
        });
        const done = await fetch(`${s.apiUrl}${action}`, { method: 'POST', body: form });
        expect(await done.text()).toContain('data-status="valid"');
      }
      // Replayed: a pending link's code is refused by Facebook (36009); a used link no longer knows the state.
      expect(await (await fetch(callback)).text()).toContain(pick ? 'data-failure="state_mismatch"' : 'data-failure="code_used"');
      return { link: url.split('/').pop()!, code: new URL(callback).searchParams.get('code')! };
    };
    const [w14, w15] = childCodes(UNITS_TEXT, '01').slice(13, 15);
    const finished = await connectThroughLink(w14!, '10000000000000501', true);
    const pending = await connectThroughLink(w15!, '10000000000000502', false);
    expect(flowTokens).toHaveLength(4);
    const waiting = await s.deps.store.db
      .selectFrom('connect_links')
      .select('user_token_ciphertext')
      .where('unit_code', '=', w15!)
      .executeTakeFirstOrThrow();
    expect(waiting.user_token_ciphertext).toMatch(/^v1\./);
    const csv = await s.app.inject({
      method: 'POST',
      url: '/v1/connect-links',
      headers: { authorization: `Bearer ${s.adminKey}` },
      payload: { unit: '01', onlyMissing: true },
    });
    const csvLink = /\/connect\/([A-Za-z0-9_-]{43})/.exec(csv.body)![1]!;
    // Rejected requests carrying secrets in the wrong places.
    await s.app.inject({ method: 'GET', url: '/v1/posts', headers: { authorization: `Bearer ${KNOWN_TOKEN}` } });
    await s.app.inject({
      method: 'PUT',
      url: '/v1/units/00004/page',
      headers: { authorization: `Bearer ${s.adminKey}` },
      payload: { pageId: 'not-a-number', accessToken: KNOWN_TOKEN },
    });

    // Negative control: a canary planted in each place must be found, so 0 hits below means something.
    const canary = `CANARY${crypto.randomBytes(8).toString('hex')}`;
    s.deps.log.info({ note: canary }, 'canary');
    await editor.createPost({ message: `bài ${canary}`, target: { unit: '01', scope: 'self' } });
    const r = new Redis(REDIS_URL);
    await r.hset(`${s.config.queue.prefix}:canary`, 'v', canary);
    r.disconnect();

    const secrets = {
      pageToken: KNOWN_TOKEN,
      editorKey: editorKey.key,
      approverKey: approverKey.key,
      adminKey: s.adminKey,
      appSecret: APP_SECRET,
      systemUserToken: SYSTEM_USER_TOKEN,
      refusedSystemUserToken: WEAK_SYSTEM_USER_TOKEN,
      connectPageToken: CONNECT_PAGE_TOKEN,
      connectLink: finished.link,
      pendingConnectLink: pending.link,
      csvConnectLink: csvLink,
      oauthCode: finished.code,
      pendingOauthCode: pending.code,
      ...Object.fromEntries(flowTokens.map((t, i) => [`userToken${i} (${i % 2 ? 'long-lived' : 'code flow'})`, t])),
    };
    // API answers that list things never carry them either.
    for (const url of [
      `/v1/posts/${post.id}/deliveries?limit=500`,
      '/v1/keys?includeRevoked=true',
      '/v1/audit?limit=500',
      '/v1/units/00004',
      '/v1/business/connection',
      '/docs/json',
    ]) {
      const res = await s.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${s.adminKey}` } });
      expect({ url, status: res.statusCode, hits: hits(Buffer.from(res.body), secrets) }).toEqual({ url, status: 200, hits: [] });
    }

    const prefix = s.config.queue.prefix;
    await s.close();
    closed = true;
    const logs = Buffer.concat(logChunks);
    expect(logs.length).toBeGreaterThan(10_000); // trace level really logged the run
    expect(logs.toString('utf8')).toContain('page write failed');
    const redis = await redisContents(prefix);
    expect(redis.toString('latin1')).toContain('delivery.publish');
    const files = [dbFile, `${dbFile}-wal`, `${dbFile}-shm`].filter((f) => fs.existsSync(f));
    const database = Buffer.concat(files.map((f) => fs.readFileSync(f)));
    expect(database.includes(Buffer.from(`v1.${s.deps.cipher().keyId}.`))).toBe(true); // the ciphertexts are there
    await dropPrefix(prefix);
    expect({ logs: hits(logs, { canary }), redis: hits(redis, { canary }), database: hits(database, { canary }) }).toEqual({
      logs: ['canary (plain)'],
      redis: ['canary (plain)'],
      database: ['canary (plain)'],
    });

    expect({ logs: hits(logs, secrets), redis: hits(redis, secrets), database: hits(database, secrets) }).toEqual({
      logs: [],
      redis: [],
      database: [],
    });
  }, 240_000);
});
