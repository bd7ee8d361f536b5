import { PassThrough } from 'node:stream';
import pino from 'pino';
import { createGraphSimulator, type GraphSimulator } from '../../../src/simulator/simulator';

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

async function call(
  base: string,
  method: string,
  path: string,
  init: { body?: unknown; form?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (init.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = init.form;
  } else if (init.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.body);
  }
  const url = path.startsWith('http') ? path : `${base}${path}`;
  const res = await fetch(url, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* HTML or empty */
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

const APP_ID = '100000000000001';
const SECRET = 'sim-app-secret';
const APP_TOKEN = `${APP_ID}|${SECRET}`;
const REDIRECT = 'https://lantoa.example.org/oauth/facebook/callback';
const SCOPES = 'pages_show_list,pages_manage_posts,pages_read_engagement';
const HOUR = 3_600_000;

const P1 = '900000000000001';
const P2 = '900000000000002';
const P3 = '900000000000003';
const UNSEEDED = '900000000000099';

function dialogQuery(over: Record<string, string | undefined> = {}): string {
  const q: Record<string, string | undefined> = { client_id: APP_ID, redirect_uri: REDIRECT, state: 'st-1', scope: SCOPES, ...over };
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) qs.set(k, v);
  return qs.toString();
}

function exchangeQuery(code: string, over: Record<string, string> = {}): string {
  return new URLSearchParams({ client_id: APP_ID, redirect_uri: REDIRECT, client_secret: SECRET, code, ...over }).toString();
}

describe('Graph simulator onboarding (Login dialog, code exchange, /me/accounts)', () => {
  let sim: GraphSimulator;
  let base: string;
  let skew = 0;
  const logs = new PassThrough();
  let logged = '';
  logs.on('data', (chunk: Buffer) => (logged += chunk.toString('utf8')));

  /** Runs the dialog as it is set now and returns the code from the redirect. */
  async function dialogCode(over: Record<string, string | undefined> = {}): Promise<string> {
    const r = await call(base, 'GET', `/v25.0/dialog/oauth?${dialogQuery(over)}`);
    expect(r.status).toBe(302);
    const code = new URL(r.headers.get('location')!).searchParams.get('code');
    expect(code).toEqual(expect.any(String));
    return code!;
  }

  async function userToken(over: Record<string, string | undefined> = {}): Promise<string> {
    const code = await dialogCode(over);
    const r = await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(code)}`);
    expect(r.status).toBe(200);
    return r.body.access_token as string;
  }

  async function debug(token: string): Promise<Record<string, any>> {
    const r = await call(
      base,
      'GET',
      `/v25.0/debug_token?input_token=${encodeURIComponent(token)}&access_token=${encodeURIComponent(APP_TOKEN)}`,
    );
    expect(r.status).toBe(200);
    return r.body.data;
  }

  beforeAll(async () => {
    sim = createGraphSimulator({
      seed: 7,
      now: () => Date.now() + skew,
      redirectUris: [REDIRECT],
      loginConfigs: { '5550001': ['pages_show_list', 'pages_manage_posts', 'business_management'] },
      logger: pino({ level: 'trace' }, logs),
    });
    base = await sim.start(0);
  });
  afterAll(() => sim.stop());
  beforeEach(() => {
    skew = 0;
    sim.reset();
    sim.seedPages([
      { id: P1, name: 'Xã Một', token: 'EAAB-p1' },
      { id: P2, name: 'Xã Hai', token: 'EAAB-p2' },
      { id: P3, name: 'Xã Ba', token: 'EAAB-p3' },
    ]);
    sim.seedUsers([
      {
        id: '10000000000000042',
        name: 'Nguyễn Văn A',
        pages: [
          { id: P1, tasks: ['MANAGE', 'CREATE_CONTENT', 'MODERATE'] },
          { id: P2, tasks: ['CREATE_CONTENT'] },
          { id: P3, tasks: ['ANALYZE'] },
          { id: UNSEEDED, tasks: ['MANAGE'] },
        ],
      },
      { id: '10000000000000043', name: 'Trần Thị B', pages: [{ id: P2, tasks: ['MANAGE'] }] },
    ]);
    sim.setDialog({ userId: '10000000000000042' });
  });

  describe('the Login dialog', () => {
    it('consents as the set person and redirects with a code and the state, with or without a version', async () => {
      const r = await call(base, 'GET', `/v25.0/dialog/oauth?${dialogQuery({ response_type: 'code' })}`);
      expect(r.status).toBe(302);
      const loc = new URL(r.headers.get('location')!);
      expect(`${loc.origin}${loc.pathname}`).toBe(REDIRECT);
      expect([...loc.searchParams.keys()]).toEqual(['code', 'state']);
      expect(loc.searchParams.get('state')).toBe('st-1');
      expect(loc.searchParams.get('code')).toMatch(/^AQ[A-Za-z0-9_-]{40,}$/);

      const unversioned = await call(base, 'GET', `/dialog/oauth?${dialogQuery({ state: 'st-2' })}`);
      expect(unversioned.status).toBe(302);
      expect(new URL(unversioned.headers.get('location')!).searchParams.get('state')).toBe('st-2');
      // Each dialog gives a fresh code.
      expect(new URL(unversioned.headers.get('location')!).searchParams.get('code')).not.toBe(loc.searchParams.get('code'));
    });

    it('accepts config_id (Login for Business) instead of scope', async () => {
      const token = await userToken({ scope: undefined, config_id: '5550001', override_default_response_type: 'true' });
      expect((await debug(token)).scopes).toEqual(['pages_show_list', 'pages_manage_posts', 'business_management']);
    });

    it('redirects a denial with the access_denied parameters and the state', async () => {
      sim.setDialog({ deny: true });
      const r = await call(base, 'GET', `/v25.0/dialog/oauth?${dialogQuery({ state: 'csrf 1' })}`);
      expect(r.status).toBe(302);
      expect(r.headers.get('location')).toBe(
        `${REDIRECT}?error=access_denied&error_reason=user_denied&error_description=Permissions+error&error_code=200&state=csrf+1`,
      );
    });

    it.each([
      ['an unknown client_id', { client_id: '999' }, /Invalid App ID/],
      ['a redirect_uri that is not an exact match', { redirect_uri: `${REDIRECT}/` }, /URL Blocked/],
      ['a redirect_uri with an extra query', { redirect_uri: `${REDIRECT}?x=1` }, /URL Blocked/],
      ['no redirect_uri', { redirect_uri: undefined }, /URL Blocked/],
      ['no state', { state: undefined }, /state/],
      ['neither scope nor config_id', { scope: undefined }, /scope/],
      ['the token response type', { response_type: 'token' }, /response_type/],
    ])('answers an HTML error page (400, no redirect) for %s', async (_what, over, text) => {
      const r = await call(base, 'GET', `/v25.0/dialog/oauth?${dialogQuery(over)}`);
      expect(r.status).toBe(400);
      expect(r.headers.get('location')).toBeNull();
      expect(r.headers.get('content-type')).toMatch(/^text\/html/);
      expect(r.body).toMatch(text);
    });

    it('says nobody is signed in when no dialog behaviour is set', async () => {
      sim.reset({ keepPages: true });
      const r = await call(base, 'GET', `/v25.0/dialog/oauth?${dialogQuery()}`);
      expect(r.status).toBe(400);
      expect(r.body).toMatch(/setDialog/);
    });

    it('refuses a dialog behaviour for an unknown person or a Page the person cannot act on', () => {
      expect(() => sim.setDialog({ userId: 'nobody' })).toThrow(/unknown user/);
      expect(() => sim.setDialog({ userId: '10000000000000043', share: [P1] })).toThrow(/cannot act on Page/);
    });
  });

  describe('GET|POST /oauth/access_token', () => {
    it('exchanges a code for a bearer user token, over GET and over a POST form', async () => {
      const r = await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(await dialogCode())}`);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ access_token: expect.stringMatching(/^EAAG/), token_type: 'bearer', expires_in: 5183944 });
      const me = await call(base, 'GET', '/v25.0/me?fields=id,name', { headers: { authorization: `Bearer ${r.body.access_token}` } });
      expect(me.body).toEqual({ id: '10000000000000042', name: 'Nguyễn Văn A' });

      const posted = await call(base, 'POST', '/v25.0/oauth/access_token', {
        form: `${exchangeQuery(await dialogCode())}&grant_type=authorization_code`,
      });
      expect(posted.status).toBe(200);
      expect(posted.body.token_type).toBe('bearer');
    });

    const expectCodeError = (r: Reply, code: number, subcode: number | undefined, message: string) => {
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'OAuthException', code, message });
      expect(r.body.error.error_subcode).toBe(subcode);
      expect(r.headers.get('www-authenticate')).toMatch(/^OAuth "Facebook Platform" "invalid_\w+" "/);
    };

    it('refuses a code used once already (100/36009) with the invalid_code www-authenticate header', async () => {
      const code = await dialogCode();
      expect((await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(code)}`)).status).toBe(200);
      const again = await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(code)}`);
      expectCodeError(again, 100, 36009, 'This authorization code has been used.');
      expect(again.headers.get('www-authenticate')).toBe(
        'OAuth "Facebook Platform" "invalid_code" "This authorization code has been used."',
      );
    });

    it('refuses an expired code (100/36007), expired by the clock or by expireCodes()', async () => {
      const code = await dialogCode();
      skew = HOUR + 1000;
      expectCodeError(
        await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(code)}`),
        100,
        36007,
        'This authorization code has expired.',
      );
      // A failed exchange consumed it.
      expectCodeError(
        await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(code)}`),
        100,
        36009,
        'This authorization code has been used.',
      );

      const fresh = await dialogCode();
      expect(sim.expireCodes()).toBe(1);
      expectCodeError(
        await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(fresh)}`),
        100,
        36007,
        'This authorization code has expired.',
      );
    });

    it('keeps a code valid just under an hour', async () => {
      const code = await dialogCode();
      skew = HOUR - 5000;
      expect((await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(code)}`)).status).toBe(200);
    });

    it('refuses a redirect_uri that differs from the dialog (100/36008), and that consumes the code', async () => {
      const code = await dialogCode();
      const other = await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(code, { redirect_uri: `${REDIRECT}/` })}`);
      expectCodeError(
        other,
        100,
        36008,
        'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request',
      );
      const retry = await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(code)}`);
      expectCodeError(retry, 100, 36009, 'This authorization code has been used.');
    });

    it('refuses a garbage code with "Invalid verification code format."', async () => {
      for (const code of ['garbage', `AQ${'x'.repeat(60)}`, '']) {
        expectCodeError(
          await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(code)}`),
          100,
          undefined,
          'Invalid verification code format.',
        );
      }
    });

    it('refuses a wrong app id (101) and a wrong secret (1) with HTTP 400, before touching the code', async () => {
      const code = await dialogCode();
      expectCodeError(
        await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(code, { client_id: '1234' })}`),
        101,
        undefined,
        'Error validating application. Invalid application ID.',
      );
      const secret = await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(code, { client_secret: 'nope' })}`);
      expectCodeError(secret, 1, undefined, 'Error validating client secret.');
      expect(secret.body.error.is_transient).toBe(false);
      expect((await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(code)}`)).status).toBe(200);
    });

    it('exchanges a user token for a long-lived one (fb_exchange_token), refusing unknown and expired tokens', async () => {
      const short = await userToken();
      const q = (t: string, over: Record<string, string> = {}) =>
        new URLSearchParams({ grant_type: 'fb_exchange_token', client_id: APP_ID, client_secret: SECRET, fb_exchange_token: t, ...over });
      const r = await call(base, 'GET', `/v25.0/oauth/access_token?${q(short)}`);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ access_token: expect.stringMatching(/^EAAG/), token_type: 'bearer', expires_in: 5183944 });
      expect(r.body.access_token).not.toBe(short);
      const long = r.body.access_token as string;
      expect(await debug(long)).toMatchObject({ type: 'USER', is_valid: true, issued_at: expect.any(Number) });
      expect(await debug(short)).not.toHaveProperty('issued_at');

      const wrongSecret = await call(base, 'GET', `/v25.0/oauth/access_token?${q(short, { client_secret: 'x' })}`);
      expect(wrongSecret.body.error.code).toBe(1);
      const unknown = await call(base, 'GET', `/v25.0/oauth/access_token?${q('EAAGnot-a-token')}`);
      expect(unknown.status).toBe(400);
      expect(unknown.body.error).toMatchObject({ code: 190, type: 'OAuthException' });
      const pageToken = await call(base, 'GET', `/v25.0/oauth/access_token?${q('EAAB-p1')}`);
      expect(pageToken.body.error.code).toBe(190);

      skew = 5183944 * 1000 + 1000;
      const expired = await call(base, 'GET', `/v25.0/oauth/access_token?${q(short)}`);
      expect(expired.status).toBe(400);
      expect(expired.body.error).toMatchObject({ code: 190, error_subcode: 463 });
      expect(expired.body.error.message).toMatch(/^Error validating access token: Session has expired on /);
      // The expired token no longer reads either.
      const me = await call(base, 'GET', '/v25.0/me', { headers: { authorization: `Bearer ${long}` } });
      expect(me.body.error).toMatchObject({ code: 190, error_subcode: 463 });
    });

    it('expireUserTokens() expires every user token', async () => {
      const token = await userToken();
      expect(sim.expireUserTokens()).toBe(1);
      const me = await call(base, 'GET', '/v25.0/me', { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).toBe(400);
      expect(me.body.error).toMatchObject({ code: 190, error_subcode: 463 });
      expect(await debug(token)).toMatchObject({ type: 'USER', is_valid: false, error: { code: 190, subcode: 463 } });
    });
  });

  describe('/me/accounts', () => {
    it('lists only the Pages shared in the dialog, skipping unseeded ones, with their Page tokens and tasks', async () => {
      sim.setDialog({ userId: '10000000000000042', share: [P1, P3, UNSEEDED] });
      const token = await userToken();
      const r = await call(base, 'GET', `/v25.0/me/accounts?fields=id,name,access_token,tasks&access_token=${token}`);
      expect(r.status).toBe(200);
      expect(r.body.data).toEqual([
        { id: P1, name: 'Xã Một', access_token: 'EAAB-p1', tasks: ['MANAGE', 'CREATE_CONTENT', 'MODERATE'] },
        { id: P3, name: 'Xã Ba', access_token: 'EAAB-p3', tasks: ['ANALYZE'] },
      ]);
      expect(r.body.paging).toEqual({ cursors: { before: expect.any(String), after: expect.any(String) } });

      // The Page token works for publishing; the user token itself does not publish.
      const post = await call(base, 'POST', `/v25.0/${P1}/feed`, {
        body: { message: 'Xin chào' },
        headers: { authorization: `Bearer ${r.body.data[0].access_token}` },
      });
      expect(post.status).toBe(200);
      const asUser = await call(base, 'POST', `/v25.0/${P1}/feed`, {
        body: { message: 'x' },
        headers: { authorization: `Bearer ${token}` },
      });
      expect(asUser.status).toBe(403);
      expect(asUser.body.error.code).toBe(200);

      // Another person sees only their own Pages.
      sim.setDialog({ userId: '10000000000000043' });
      const other = await call(base, 'GET', `/v25.0/me/accounts?fields=id`, { headers: { authorization: `Bearer ${await userToken()}` } });
      expect(other.body.data).toEqual([{ id: P2 }]);
    });

    it('lists nothing for a user token without pages_show_list', async () => {
      const token = await userToken({ scope: 'pages_manage_posts' });
      const r = await call(base, 'GET', '/v25.0/me/accounts', { headers: { authorization: `Bearer ${token}` } });
      expect(r.body).toEqual({ data: [] });
    });

    it('returns only the requested fields (id always) and refuses an unknown one', async () => {
      const token = await userToken();
      const auth = { authorization: `Bearer ${token}` };
      const names = await call(base, 'GET', '/v25.0/me/accounts?fields=name', { headers: auth });
      expect(names.body.data).toEqual([
        { name: 'Xã Một', id: P1 },
        { name: 'Xã Hai', id: P2 },
        { name: 'Xã Ba', id: P3 },
      ]);
      const byDefault = await call(base, 'GET', '/v25.0/me/accounts', { headers: auth });
      expect(Object.keys(byDefault.body.data[0]).sort()).toEqual(['access_token', 'category', 'category_list', 'id', 'name', 'tasks']);
      const bad = await call(base, 'GET', '/v25.0/me/accounts?fields=id,secret_sauce', { headers: auth });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toBe('(#100) Tried accessing nonexisting field (secret_sauce) on node type (Page)');
      // /{user-id}/accounts is the same edge.
      const byId = await call(base, 'GET', '/v25.0/10000000000000042/accounts?fields=id', { headers: auth });
      expect(byId.body.data).toHaveLength(3);
    });

    it('re-issues a Page token that was invalidated, so a new derivation publishes again', async () => {
      sim.invalidateToken(P1, 460);
      const token = await userToken();
      const r = await call(base, 'GET', '/v25.0/me/accounts?fields=access_token', { headers: { authorization: `Bearer ${token}` } });
      const fresh = r.body.data[0].access_token as string;
      expect(fresh).not.toBe('EAAB-p1');
      const post = await call(base, 'POST', `/v25.0/${P1}/feed`, {
        body: { message: 'again' },
        headers: { authorization: `Bearer ${fresh}` },
      });
      expect(post.status).toBe(200);
    });

    it('pages 250 Pages with limit 100 in three pages through paging.next, and clamps a larger limit', async () => {
      const ids = Array.from({ length: 250 }, (_, i) => String(800_000_000_000_000 + i));
      sim.seedPages(ids.map((id) => ({ id, token: `tok-${id}` })));
      sim.seedUsers([{ id: '10000000000000044', name: 'Admin', pages: ids.map((id) => ({ id, tasks: ['CREATE_CONTENT'] })) }]);
      sim.setDialog({ userId: '10000000000000044', share: 'all' });
      const token = await userToken();
      const auth = { authorization: `Bearer ${token}` };

      const seen: string[] = [];
      const sizes: number[] = [];
      let url: string | undefined = '/v25.0/me/accounts?fields=id,name,access_token,tasks&limit=100';
      let last: Reply | undefined;
      while (url !== undefined) {
        last = await call(base, 'GET', url, { headers: auth });
        expect(last.status).toBe(200);
        sizes.push(last.body.data.length);
        for (const p of last.body.data) seen.push(p.id);
        expect(last.body.paging.cursors).toEqual({ before: expect.any(String), after: expect.any(String) });
        url = last.body.paging.next;
        if (url !== undefined) {
          expect(url.startsWith(`${base}/v25.0/me/accounts?`)).toBe(true);
          expect(new URL(url).searchParams.get('after')).toBe(last.body.paging.cursors.after);
          expect(url).not.toContain(token);
        }
      }
      expect(sizes).toEqual([100, 100, 50]);
      expect(seen).toEqual(ids);
      expect(last!.body.paging.next).toBeUndefined();
      expect(last!.body.data[0]).toEqual({
        id: ids[200],
        name: `Page ${ids[200]}`,
        access_token: `tok-${ids[200]}`,
        tasks: ['CREATE_CONTENT'],
      });

      const clamped = await call(base, 'GET', '/v25.0/me/accounts?fields=id&limit=500', { headers: auth });
      expect(clamped.body.data).toHaveLength(100);
      const byDefault = await call(base, 'GET', '/v25.0/me/accounts?fields=id', { headers: auth });
      expect(byDefault.body.data).toHaveLength(25);
      // previous goes back from the second page to the first.
      const second = await call(base, 'GET', byDefault.body.paging.next, { headers: auth });
      expect(second.body.data[0].id).toBe(ids[25]);
      const back = await call(base, 'GET', second.body.paging.previous, { headers: auth });
      expect(back.body.data.map((p: { id: string }) => p.id)).toEqual(ids.slice(0, 25));
    });

    it('lists the Pages assigned to a system user with its token; /me and debug_token know it', async () => {
      sim.seedSystemUsers([
        {
          id: '61550000000000001',
          name: 'Lan Tỏa publisher',
          token: 'EAAsu-token-1',
          scopes: ['pages_show_list', 'pages_manage_posts', 'business_management'],
          pages: [
            { id: P2, tasks: ['CREATE_CONTENT', 'MANAGE'] },
            { id: UNSEEDED, tasks: ['MANAGE'] },
            { id: P3, tasks: ['CREATE_CONTENT'] },
          ],
          expiresAt: 0,
        },
      ]);
      const auth = { authorization: 'Bearer EAAsu-token-1' };
      const r = await call(base, 'GET', '/v25.0/me/accounts?fields=id,access_token,tasks&limit=1', { headers: auth });
      expect(r.body.data).toEqual([{ id: P2, access_token: 'EAAB-p2', tasks: ['CREATE_CONTENT', 'MANAGE'] }]);
      const next = await call(base, 'GET', r.body.paging.next, { headers: auth });
      expect(next.body.data).toEqual([{ id: P3, access_token: 'EAAB-p3', tasks: ['CREATE_CONTENT'] }]);
      expect(next.body.paging.next).toBeUndefined();

      expect((await call(base, 'GET', '/v25.0/me?fields=id,name', { headers: auth })).body).toEqual({
        id: '61550000000000001',
        name: 'Lan Tỏa publisher',
      });
      // The other derivation route: GET /{page-id}?fields=access_token.
      const page = await call(base, 'GET', `/v25.0/${P3}?fields=id,access_token`, { headers: auth });
      expect(page.body).toEqual({ id: P3, access_token: 'EAAB-p3' });
      const notAssigned = await call(base, 'GET', `/v25.0/${P1}?fields=access_token`, { headers: auth });
      expect(notAssigned.body.error.code).toBe(200);

      sim.seedSystemUsers([{ id: '61550000000000002', token: 'EAAsu-old', scopes: [], pages: [], expiresAt: Date.now() - 1000 }]);
      const old = await call(base, 'GET', '/v25.0/me/accounts', { headers: { authorization: 'Bearer EAAsu-old' } });
      expect(old.body.error).toMatchObject({ code: 190, error_subcode: 463 });
    });
  });

  describe('debug_token', () => {
    it('reports USER, SYSTEM_USER, PAGE and APP tokens', async () => {
      sim.setDialog({ userId: '10000000000000042', share: [P1, P2] });
      const user = await debug(await userToken());
      expect(user).toEqual({
        app_id: APP_ID,
        type: 'USER',
        application: expect.any(String),
        data_access_expires_at: expect.any(Number),
        expires_at: expect.any(Number),
        is_valid: true,
        scopes: SCOPES.split(','),
        granular_scopes: SCOPES.split(',').map((scope) => ({ scope, target_ids: [P1, P2] })),
        user_id: '10000000000000042',
      });
      expect(user['expires_at'] * 1000).toBeGreaterThan(Date.now() + 59 * 86_400_000);

      sim.setDialog({ userId: '10000000000000042', share: 'all' });
      expect((await debug(await userToken())).granular_scopes[1]).toEqual({ scope: 'pages_manage_posts', target_ids: [] });

      sim.seedSystemUsers([
        {
          id: '61550000000000001',
          token: 'EAAsu-token-1',
          scopes: ['pages_manage_posts', 'business_management'],
          pages: [{ id: P3, tasks: ['MANAGE'] }],
        },
      ]);
      expect(await debug('EAAsu-token-1')).toMatchObject({
        type: 'SYSTEM_USER',
        expires_at: 0,
        is_valid: true,
        scopes: ['pages_manage_posts', 'business_management'],
        granular_scopes: [{ scope: 'pages_manage_posts', target_ids: [P3] }, { scope: 'business_management' }],
        app_id: APP_ID,
        user_id: '61550000000000001',
      });

      expect(await debug('EAAB-p1')).toMatchObject({ type: 'PAGE', profile_id: P1, expires_at: 0, is_valid: true });
      expect(await debug(APP_TOKEN)).toMatchObject({ type: 'APP', is_valid: true });
      // A user token cannot inspect tokens.
      const r = await call(base, 'GET', `/v25.0/debug_token?input_token=EAAB-p1&access_token=EAAsu-token-1`);
      expect(r.body.error.code).toBe(100);
    });
  });

  it('runs the whole onboarding through the /_sim/ control API', async () => {
    const ctl = (path: string, body: unknown) => call(base, 'POST', `/_sim/${path}`, { body });
    expect((await ctl('reset', {})).status).toBe(200);
    expect((await ctl('config', { appSecret: 'other-secret-123', redirectUris: ['http://127.0.0.1:9/cb'] })).body).toEqual({ ok: true });
    expect((await ctl('pages', { pages: [{ id: P1, token: 'EAAB-p1' }] })).body).toEqual({ seeded: 1 });
    expect((await ctl('users', { users: [{ id: '7001', name: 'A', pages: [{ id: P1, tasks: ['CREATE_CONTENT'] }] }] })).body).toEqual({
      seeded: 1,
    });
    expect(
      (
        await ctl('system-users', {
          systemUsers: [{ id: '7002', token: 'EAAsu-ctl', scopes: ['pages_show_list'], pages: [{ id: P1, tasks: [] }] }],
        })
      ).body,
    ).toEqual({ seeded: 1 });
    expect((await ctl('dialog', { userId: 'nobody' })).status).toBe(400);
    expect((await ctl('dialog', { userId: '7001', share: [P1] })).body).toEqual({ ok: true });
    expect((await ctl('config', { redirectUris: ['not a url'] })).status).toBe(400);
    expect((await ctl('config', { unknown: 1 })).status).toBe(400);

    const d = await call(base, 'GET', `/dialog/oauth?${dialogQuery({ redirect_uri: 'http://127.0.0.1:9/cb' })}`);
    expect(d.status).toBe(302);
    const code = new URL(d.headers.get('location')!).searchParams.get('code')!;
    expect((await ctl('codes/expire', {})).body).toEqual({ expired: 1 });
    const expired = await call(
      base,
      'GET',
      `/oauth/access_token?${exchangeQuery(code, { redirect_uri: 'http://127.0.0.1:9/cb', client_secret: 'other-secret-123' })}`,
    );
    expect(expired.body.error.error_subcode).toBe(36007);

    const d2 = await call(base, 'GET', `/dialog/oauth?${dialogQuery({ redirect_uri: 'http://127.0.0.1:9/cb' })}`);
    const code2 = new URL(d2.headers.get('location')!).searchParams.get('code')!;
    const ok = await call(
      base,
      'GET',
      `/oauth/access_token?${exchangeQuery(code2, { redirect_uri: 'http://127.0.0.1:9/cb', client_secret: 'other-secret-123' })}`,
    );
    expect(ok.status).toBe(200);
    expect((await ctl('user-tokens/expire', {})).body).toEqual({ expired: 1 });
    const accounts = await call(base, 'GET', '/me/accounts?fields=id', { headers: { authorization: 'Bearer EAAsu-ctl' } });
    expect(accounts.body.data).toEqual([{ id: P1 }]);
  });

  it('never logs codes or tokens', async () => {
    const code = await dialogCode();
    const token = (await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(code)}`)).body.access_token as string;
    await call(base, 'GET', `/v25.0/oauth/access_token?${exchangeQuery(code)}`);
    const accounts = await call(base, 'GET', '/v25.0/me/accounts?fields=access_token', { headers: { authorization: `Bearer ${token}` } });
    expect(logged).toContain('graph simulator listening');
    for (const secret of [code, token, SECRET, ...accounts.body.data.map((p: { access_token: string }) => p.access_token)]) {
      expect(logged).not.toContain(secret);
    }
  });
});
