import crypto from 'node:crypto';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../../src/logger';
import { ConnectLinksService } from '../../../src/services/onboarding/connect-links.service';
import { testDatabases } from '../../helpers/databases';
import { startTestStack, type TestStack } from '../../helpers/stack';

/**
 * Self-service connect links (issue 10 item 3) against the real stack: the public pages, the
 * simulator's Login dialog and /oauth/access_token, /me/accounts. Every failure path ends on a page
 * and changes nothing; no token, code or link token reaches a page, a log line or the audit log.
 */
jest.setTimeout(120_000);

const APP_ID = '100000000000001';
const TREE = [
  'code,parent_code,level,type,name',
  '01,,1,Thành phố Trung ương,Thành phố Hà Nội',
  '00004,01,2,Phường,Phường Ba Đình',
  '00008,01,2,Phường,Phường Ngọc Hà',
  '00025,01,2,Phường,"Phường Giảng Võ, Hà Nội"',
  '79,,1,Thành phố Trung ương,Thành phố Hồ Chí Minh',
  '26734,79,2,Phường,Phường Sài Gòn',
].join('\n');

const P1 = '900000000000001';
const P2 = '900000000000002';
const P3 = '900000000000003';
const P4 = '900000000000004';
const ONE_PAGE = '10000000000000041';
const MANY_PAGES = '10000000000000042';

interface Answer {
  status: number;
  html: string;
  location: string | null;
}

const unescapeHtml = (s: string) => s.replace(/&#(\d+);/g, (_m, d: string) => String.fromCharCode(Number(d)));

async function http(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    redirect: 'manual',
    ...(init.form
      ? { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(init.form).toString() }
      : {}),
  });
  return { status: res.status, html: await res.text(), location: res.headers.get('location') };
}

const failureOf = (a: Answer) => /data-failure="([a-z_]+)"/.exec(a.html)?.[1];

describe.each(testDatabases())('connect links on $name', (db) => {
  let s: TestStack;
  let logged = '';
  const logs = new PassThrough();
  logs.on('data', (c: Buffer) => (logged += c.toString('utf8')));
  /** Every secret seen during the tests: link tokens, codes; none may appear in a page, a log line or the audit log. */
  const secrets = new Set<string>();
  const pagesSeen: string[] = [];

  const api = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    s.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${s.adminKey}` },
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });

  async function createLink(unit: string): Promise<{ url: string; token: string }> {
    const r = await api('POST', `/v1/units/${unit}/connect-links`, {});
    expect(r.statusCode).toBe(201);
    const { url, expiresAt } = r.json() as { url: string; expiresAt: string };
    expect(url).toMatch(new RegExp(`^${s.apiUrl}/connect/[A-Za-z0-9_-]{43}$`));
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    const token = url.split('/').pop()!;
    secrets.add(token);
    return { url, token };
  }

  async function page(url: string, init: Parameters<typeof http>[1] = {}): Promise<Answer> {
    const a = await http(url, init);
    pagesSeen.push(a.html);
    return a;
  }

  /** Opens the link and returns the dialog URL behind its button. */
  async function dialogUrlOf(linkUrl: string): Promise<URL> {
    const a = await page(linkUrl);
    expect(a.status).toBe(200);
    const href = /id="login" href="([^"]+)"/.exec(a.html)?.[1];
    expect(href).toBeDefined();
    return new URL(unescapeHtml(href!));
  }

  /** Runs the simulator's dialog and returns where it sends the browser. */
  async function dialog(url: URL): Promise<URL> {
    const r = await http(url.toString());
    expect(r.status).toBe(302);
    const to = new URL(r.location!);
    const code = to.searchParams.get('code');
    if (code) secrets.add(code);
    return to;
  }

  function formOf(a: Answer): { action: string; state: string; pageIds: string[] } {
    const action = /<form method="post" action="([^"]+)"/.exec(a.html)?.[1];
    const state = /name="state" value="([^"]+)"/.exec(a.html)?.[1];
    const pageIds = [...a.html.matchAll(/name="pageId"[^>]*value="(\d+)"/g)].map((m) => m[1]!);
    expect(action && state).toBeTruthy();
    return { action: `${s.apiUrl}${unescapeHtml(action!)}`, state: state!, pageIds };
  }

  async function snapshot() {
    const pages = await s.deps.store.db.selectFrom('pages').selectAll().orderBy('page_id').execute();
    const audit = await s.deps.store.db
      .selectFrom('audit_log')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    const used = await s.deps.store.db.selectFrom('connect_links').select('id').where('used_at', 'is not', null).execute();
    return { pages, audit: Number(audit.n), used: used.length };
  }

  beforeAll(async () => {
    s = await startTestStack(db, 'connect', {
      env: { FB_APP_ID: APP_ID, FB_APP_SECRET: 'sim-app-secret' },
      connectFlow: true,
      log: createLogger('info', 'test', logs),
    });
    expect(s.config.onboarding.publicBaseUrl).toBe(s.apiUrl);
    await s.deps.units.importCsv(TREE);
    s.sim.seedPages([
      { id: P1, name: 'UBMTTQ Phường Ba Đình', token: `EAAGp1${crypto.randomBytes(20).toString('base64url')}` },
      { id: P2, name: 'MTTQ Phường Ngọc Hà', token: `EAAGp2${crypto.randomBytes(20).toString('base64url')}` },
      { id: P3, name: 'Mặt trận Phường Giảng Võ', token: `EAAGp3${crypto.randomBytes(20).toString('base64url')}` },
      { id: P4, name: 'Trang riêng', token: `EAAGp4${crypto.randomBytes(20).toString('base64url')}` },
    ]);
    s.sim.seedUsers([
      { id: ONE_PAGE, name: 'Nguyễn Văn A', pages: [{ id: P1, tasks: ['MANAGE', 'CREATE_CONTENT', 'MODERATE'] }] },
      {
        id: MANY_PAGES,
        name: 'Trần Thị B',
        pages: [
          { id: P2, tasks: ['CREATE_CONTENT', 'MODERATE'] },
          { id: P3, tasks: ['ANALYZE', 'MODERATE'] },
        ],
      },
    ]);
  });
  afterAll(() => s?.dispose());

  it('builds the dialog URL: client_id, redirect_uri, state bound to the link, scope, response_type=code', async () => {
    const { url } = await createLink('00004');
    const d = await dialogUrlOf(url);
    expect(`${d.origin}${d.pathname}`).toBe(`${s.sim.url}/${s.config.graph.version}/dialog/oauth`);
    expect(d.searchParams.get('client_id')).toBe(APP_ID);
    expect(d.searchParams.get('redirect_uri')).toBe(`${s.apiUrl}/connect/callback`);
    expect(d.searchParams.get('scope')).toBe('pages_show_list,pages_manage_posts,pages_read_engagement');
    expect(d.searchParams.get('response_type')).toBe('code');
    expect(d.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The state is stored only hashed.
    const row = await s.deps.store.db.selectFrom('connect_links').selectAll().where('unit_code', '=', '00004').executeTakeFirstOrThrow();
    expect(row.state_hash).toBe(crypto.createHash('sha256').update(d.searchParams.get('state')!).digest('base64url'));
    expect(JSON.stringify(row)).not.toContain(url.split('/').pop());
  });

  it('with FB_LOGIN_CONFIG_ID the dialog asks for that configuration instead of scopes', async () => {
    const { token } = await createLink('00004');
    const flb = new ConnectLinksService(
      s.deps.store.db,
      s.deps.graph,
      s.deps.cipher,
      s.deps.pages,
      { ...s.config, onboarding: { ...s.config.onboarding, loginConfigId: '5550001' } },
      s.deps.log,
    );
    const r = await flb.dialogUrl(token);
    expect(r.ok).toBe(true);
    const d = new URL((r as { url: string }).url);
    expect(d.searchParams.get('config_id')).toBe('5550001');
    expect(d.searchParams.has('scope')).toBe(false);
    expect(d.searchParams.get('response_type')).toBe('code');
  });

  it('names the unit in Vietnamese by default and in English with ?lang=en', async () => {
    const { url } = await createLink('00004');
    const vi = await page(url);
    expect(vi.html).toContain('<html lang="vi">');
    expect(vi.html).toContain('Phường Ba Đình');
    expect(vi.html).toContain('Đăng nhập Facebook');
    expect(vi.html).not.toContain('<script');
    const en = await page(`${url}?lang=en`);
    expect(en.html).toContain('<html lang="en">');
    expect(en.html).toContain('Log in with Facebook');
    const res = await fetch(url);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('one Page: confirm, then the Page is linked (valid, tasks stored), the link consumed, the user token wiped, audited', async () => {
    s.sim.setDialog({ userId: ONE_PAGE });
    const { url, token } = await createLink('00004');
    const back = await dialog(await dialogUrlOf(url));
    expect(`${back.origin}${back.pathname}`).toBe(`${s.apiUrl}/connect/callback`);
    const confirm = await page(back.toString());
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain('UBMTTQ Phường Ba Đình');
    const form = formOf(confirm);
    expect(form.pageIds).toEqual([P1]);
    expect(form.action).not.toContain(token);
    const withToken = await s.deps.store.db.selectFrom('connect_links').selectAll().where('used_at', 'is', null).execute();
    expect(withToken.some((r) => r.user_token_ciphertext?.startsWith('v1.'))).toBe(true);

    const done = await page(form.action, { method: 'POST', form: { state: form.state, pageId: P1 } });
    expect(done.status).toBe(200);
    expect(done.html).toContain('data-status="valid"');
    const row = await s.deps.store.db.selectFrom('pages').selectAll().where('page_id', '=', P1).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ unit_code: '00004', label: 'UBMTTQ Phường Ba Đình', token_status: 'valid', retired_at: null });
    expect(JSON.parse(row.tasks!)).toEqual(['MANAGE', 'CREATE_CONTENT', 'MODERATE']);
    expect(row.token_ciphertext).toMatch(/^v1\./);
    const link = await s.deps.store.db.selectFrom('connect_links').selectAll().where('page_id', '=', P1).executeTakeFirstOrThrow();
    expect(link.used_at).not.toBeNull();
    expect(link.user_token_ciphertext).toBeNull();
    expect(link.state_hash).toBeNull();
    expect(link.session_expires_at).toBeNull();

    const audit = await s.deps.store.db.selectFrom('audit_log').selectAll().where('action', '=', 'pages.connect').execute();
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0]!.details as unknown as string)).toMatchObject({ link: link.id, unit: '00004', pageId: P1 });

    // Used: opening it again, or replaying the pick, says so and changes nothing.
    const before = await snapshot();
    const again = await page(url);
    expect([again.status, failureOf(again)]).toEqual([410, 'link_used']);
    const replay = await page(form.action, { method: 'POST', form: { state: form.state, pageId: P1 } });
    expect(failureOf(replay)).toBe('link_used');
    expect(await snapshot()).toEqual(before);
  });

  it('several Pages: the admin picks one; a Page without CREATE_CONTENT is linked as needs_reauth; a Page not shared is refused', async () => {
    s.sim.setDialog({ userId: MANY_PAGES });
    const { url } = await createLink('00025');
    const pick = await page((await dialog(await dialogUrlOf(url))).toString());
    const form = formOf(pick);
    expect(form.pageIds.sort()).toEqual([P2, P3]);
    expect(pick.html).toContain('chưa có quyền tạo nội dung');

    const before = await snapshot();
    for (const pageId of [P1, P4, '']) {
      const refused = await page(form.action, { method: 'POST', form: { state: form.state, pageId } });
      expect(failureOf(refused)).toBe('page_not_shared');
    }
    const forged = await page(form.action, { method: 'POST', form: { state: crypto.randomBytes(32).toString('base64url'), pageId: P3 } });
    expect([forged.status, failureOf(forged)]).toEqual([403, 'state_mismatch']);
    expect(await snapshot()).toEqual(before);

    const done = await page(`${form.action}`, { method: 'POST', form: { state: form.state, pageId: P3, lang: 'en' } });
    expect(done.html).toContain('data-status="needs_reauth"');
    expect(done.html).toContain('CREATE_CONTENT');
    const row = await s.deps.store.db.selectFrom('pages').selectAll().where('page_id', '=', P3).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ unit_code: '00025', token_status: 'needs_reauth', label: 'Mặt trận Phường Giảng Võ' });
    expect(row.token_status_reason).toMatch(/^missing_task_create_content/);
    expect(JSON.parse(row.tasks!)).toEqual(['ANALYZE', 'MODERATE']);
  });

  describe('failures change nothing', () => {
    let before: Awaited<ReturnType<typeof snapshot>>;
    beforeEach(async () => {
      s.sim.setDialog({ userId: ONE_PAGE });
      before = await snapshot();
    });
    afterEach(async () => {
      expect(await snapshot()).toEqual(before);
    });

    it('a denied dialog', async () => {
      s.sim.setDialog({ deny: true });
      const { url } = await createLink('00008');
      const back = await dialog(await dialogUrlOf(url));
      expect(back.searchParams.get('error')).toBe('access_denied');
      const a = await page(back.toString());
      expect([a.status, failureOf(a)]).toEqual([400, 'denied']);
      expect(a.html).toContain('Phường Ngọc Hà');
      // The link still works.
      expect((await page(url)).status).toBe(200);
    });

    it('an expired code (100/36007)', async () => {
      const { url } = await createLink('00008');
      const back = await dialog(await dialogUrlOf(url));
      expect(s.sim.expireCodes()).toBeGreaterThan(0);
      expect(failureOf(await page(back.toString()))).toBe('code_expired');
    });

    it('a redirect_uri mismatch (100/36008)', async () => {
      const other = `${s.apiUrl}/elsewhere/callback`;
      s.sim.configure({ redirectUris: [`${s.apiUrl}/connect/callback`, other] });
      const { url } = await createLink('00008');
      const d = await dialogUrlOf(url);
      d.searchParams.set('redirect_uri', other);
      const back = await dialog(d);
      const callback = new URL(`${s.apiUrl}/connect/callback`);
      callback.search = back.search;
      expect(failureOf(await page(callback.toString()))).toBe('redirect_mismatch');
    });

    it('a code used twice (100/36009)', async () => {
      const { url } = await createLink('00008');
      const back = await dialog(await dialogUrlOf(url));
      const first = await page(back.toString());
      expect(first.status).toBe(200);
      // Taking the first callback's stored session into account, nothing else may change.
      before = await snapshot();
      const rows = await s.deps.store.db.selectFrom('connect_links').selectAll().orderBy('id').execute();
      expect(failureOf(await page(back.toString()))).toBe('code_used');
      expect(await s.deps.store.db.selectFrom('connect_links').selectAll().orderBy('id').execute()).toEqual(rows);
    });

    it('an expired link, opened and after the dialog', async () => {
      const { url, token } = await createLink('00008');
      const back = await dialog(await dialogUrlOf(url));
      const hash = crypto.createHash('sha256').update(token).digest('base64url');
      await s.deps.store.db
        .updateTable('connect_links')
        .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
        .where('token_hash', '=', hash)
        .execute();
      const opened = await page(url);
      expect([opened.status, failureOf(opened)]).toEqual([410, 'link_expired']);
      expect(failureOf(await page(back.toString()))).toBe('link_expired');
    });

    it('a state that matches no link (CSRF), a missing state, and the state of a dialog the link replaced', async () => {
      const { url } = await createLink('00008');
      const back = await dialog(await dialogUrlOf(url));
      const forged = new URL(back);
      forged.searchParams.set('state', crypto.randomBytes(32).toString('base64url'));
      const a = await page(forged.toString());
      expect([a.status, failureOf(a)]).toEqual([403, 'state_mismatch']);
      forged.searchParams.delete('state');
      expect(failureOf(await page(forged.toString()))).toBe('state_mismatch');
      // Opening the link again binds a new state: the older dialog's answer no longer matches.
      await dialogUrlOf(url);
      expect(failureOf(await page(back.toString()))).toBe('state_mismatch');
    });

    it('an unknown link', async () => {
      for (const t of [crypto.randomBytes(32).toString('base64url'), 'nope', 'cl_AAAAAAAAAAAAAAAA']) {
        const a = await page(`${s.apiUrl}/connect/${t}`);
        expect([a.status, failureOf(a)]).toEqual([404, 'unknown_link']);
        const p = await page(`${s.apiUrl}/connect/${t}/pick`, { method: 'POST', form: { state: 'x', pageId: P1 } });
        expect(failureOf(p)).toBe('unknown_link');
      }
    });
  });

  it('a CSV of links for the units of a subtree without a healthy Page', async () => {
    const r = await api('POST', '/v1/connect-links', { unit: '01', onlyMissing: true });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/csv/);
    const [header, ...lines] = r.body.trim().split('\n');
    expect(header).toBe('unit_code,unit_name,url,expires_at');
    // 00004 has a valid Page; 00025's Page needs re-auth, so it is still missing.
    expect(lines.map((l) => l.split(',')[0]).sort()).toEqual(['00008', '00025', '01']);
    expect(lines.find((l) => l.startsWith('00025'))).toContain('"Phường Giảng Võ, Hà Nội"');
    for (const l of lines) {
      const url = /(http:\/\/[^,]+)/.exec(l)![1]!;
      secrets.add(url.split('/').pop()!);
      expect(url).toMatch(new RegExp(`^${s.apiUrl}/connect/[A-Za-z0-9_-]{43}$`));
    }
    const opened = await page(/(http:\/\/[^,]+)/.exec(lines[0]!)![1]!);
    expect(opened.status).toBe(200);
    const all = await api('POST', '/v1/connect-links', { unit: '01' });
    expect(all.body.trim().split('\n')).toHaveLength(5);
    expect((await api('POST', '/v1/connect-links', { unit: 'nope1' })).statusCode).toBe(404);
    expect((await api('POST', '/v1/units/01/connect-links', { ttlDays: 0 })).statusCode).toBe(400);
  });

  it('an admin of another branch may not create links for a unit', async () => {
    const key = await api('POST', '/v1/keys', { name: 'hcm admin', role: 'admin', unit: '79' });
    expect(key.statusCode).toBe(201);
    const hcm = (key.json() as { key: string }).key;
    const call = (url: string, payload: object) =>
      s.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${hcm}` }, payload });
    expect((await call('/v1/units/00004/connect-links', {})).statusCode).toBe(403);
    expect((await call('/v1/connect-links', { unit: '01' })).statusCode).toBe(403);
    expect((await call('/v1/units/26734/connect-links', {})).statusCode).toBe(201);
  });

  it('no link token, OAuth code or user token in a page, a log line, the audit log or a plaintext column', async () => {
    expect(secrets.size).toBeGreaterThan(10);
    const audit = JSON.stringify(await s.deps.store.db.selectFrom('audit_log').selectAll().execute());
    const links = JSON.stringify(await s.deps.store.db.selectFrom('connect_links').selectAll().execute());
    expect(logged).toContain('/connect/[redacted]');
    expect(logged).toContain('"/connect/callback"');
    for (const where of [logged, audit, links, pagesSeen.join('\n')]) {
      for (const secret of secrets) expect(where).not.toContain(secret);
      // The token-shaped patterns look at plaintext only: a ciphertext (v1.<key>.<iv>.<tag>.<ct>, random base64url)
      // can contain "AQ" and 60 more such characters by chance, which once failed this test.
      const plaintext = where.replace(/v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g, '<ciphertext>');
      expect(plaintext).not.toMatch(/EAAG[A-Za-z0-9_-]{20}/);
      expect(plaintext).not.toMatch(/AQ[A-Za-z0-9_-]{60}/);
    }
  });
});
