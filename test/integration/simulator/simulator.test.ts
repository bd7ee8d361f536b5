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
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* HTML or empty */
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

const PAGE = '723701000827665';
const TOKEN = 'EAAB-page-token-1';
const OTHER_PAGE = '723701000827666';
const OTHER_TOKEN = 'EAAB-page-token-2';

describe('Graph simulator over HTTP', () => {
  let sim: GraphSimulator;
  let base: string;

  beforeAll(async () => {
    sim = createGraphSimulator({ seed: 42 });
    base = await sim.start(0);
  });
  afterAll(() => sim.stop());
  beforeEach(async () => {
    const r = await call(base, 'POST', '/_sim/reset');
    expect(r.status).toBe(200);
    const seeded = await call(base, 'POST', '/_sim/pages', {
      body: {
        pages: [
          { id: PAGE, name: 'Unit A', token: TOKEN },
          { id: OTHER_PAGE, token: OTHER_TOKEN },
        ],
      },
    });
    expect(seeded.body).toEqual({ seeded: 2 });
  });

  it('seeds 11,000 pages in one control call and reports a zero count for each', async () => {
    const pages = Array.from({ length: 11_000 }, (_, i) => ({ id: String(100_000_000_000_000 + i), token: `tok-${i}` }));
    const started = Date.now();
    const r = await call(base, 'POST', '/_sim/pages', { body: { pages } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ seeded: 11_000 });
    expect(Date.now() - started).toBeLessThan(3000);
    const counts = await call(base, 'GET', '/_sim/visible-counts');
    expect(Object.keys(counts.body.counts)).toHaveLength(11_002);
    expect(counts.body.counts['100000000010999']).toBe(0);
    expect(counts.body.totalVisible).toBe(0);
    // A seeded token works straight away.
    const post = await call(base, 'POST', '/v25.0/100000000010999/feed', {
      body: { message: 'hi' },
      headers: { authorization: 'Bearer tok-10999' },
    });
    expect(post.status).toBe(200);
    expect(post.body.id).toMatch(/^100000000010999_\d+$/);
  });

  it('creates a post and exposes it in visible-counts, per-page posts and stats', async () => {
    const created = await call(base, 'POST', `/v25.0/${PAGE}/feed`, {
      body: { message: 'Xin chào' },
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({ id: expect.stringMatching(new RegExp(`^${PAGE}_\\d+$`)), post_supports_client_mutation_id: true });
    const counts = await call(base, 'GET', '/_sim/visible-counts');
    expect(counts.body).toEqual({ counts: { [PAGE]: 1, [OTHER_PAGE]: 0 }, totalVisible: 1 });
    const posts = await call(base, 'GET', `/_sim/pages/${PAGE}/posts`);
    expect(posts.body.posts).toHaveLength(1);
    expect(posts.body.posts[0]).toMatchObject({
      id: created.body.id,
      message: 'Xin chào',
      isPublished: true,
      isDeleted: false,
      via: 'feed',
    });
    const stats = await call(base, 'GET', '/_sim/stats');
    expect(stats.body).toEqual({ requests: 1, posts: 1, visible: 1, byEndpoint: { feed: 1 } });
  });

  it('sends the Graph response headers, honouring the path version', async () => {
    const versioned = await call(base, 'GET', `/v23.0/${PAGE}/published_posts?access_token=${TOKEN}`);
    expect(versioned.status).toBe(200);
    expect(versioned.headers.get('facebook-api-version')).toBe('v23.0');
    expect(versioned.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    expect(versioned.headers.get('x-fb-trace-id')).toMatch(/^[A-Za-z0-9_-]{23}$/);
    expect(versioned.headers.get('keep-alive')).toBe('timeout=65');
    const unversioned = await call(base, 'GET', `/${PAGE}/published_posts?access_token=${TOKEN}`);
    expect(unversioned.headers.get('facebook-api-version')).toBe('v25.0');
  });

  it('accepts the token from the query, the body, Bearer and OAuth headers', async () => {
    const viaQuery = await call(base, 'POST', `/v25.0/${PAGE}/feed?access_token=${TOKEN}`, { form: 'message=one' });
    const viaBody = await call(base, 'POST', `/v25.0/${PAGE}/feed`, { form: `message=two&access_token=${TOKEN}` });
    const viaBearer = await call(base, 'POST', `/v25.0/${PAGE}/feed`, {
      body: { message: 'three' },
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const viaOAuth = await call(base, 'POST', `/v25.0/${PAGE}/feed`, {
      body: { message: 'four' },
      headers: { authorization: `OAuth ${TOKEN}` },
    });
    expect([viaQuery.status, viaBody.status, viaBearer.status, viaOAuth.status]).toEqual([200, 200, 200, 200]);
    expect(sim.visibleCounts().get(PAGE)).toBe(4);
    const missing = await call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'five' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe(2500);
  });

  it('answers an unknown post with the 100/33 GraphMethodException envelope', async () => {
    const r = await call(base, 'GET', `/v25.0/${PAGE}_999?access_token=${TOKEN}`);
    expect(r.status).toBe(400);
    expect(r.body.error).toEqual({
      message: expect.stringMatching(/^Unsupported get request\. Object with ID '723701000827665_999' does not exist/),
      type: 'GraphMethodException',
      code: 100,
      error_subcode: 33,
      fbtrace_id: r.headers.get('x-fb-trace-id'),
    });
  });

  it('rejects an identical consecutive status with (#506) and creates nothing', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect(
      (await call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'Same  text ', link: 'https://example.org/a' }, headers: auth }))
        .status,
    ).toBe(200);
    const dup = await call(base, 'POST', `/v25.0/${PAGE}/feed`, {
      body: { message: 'Same text', link: 'https://example.org/a' },
      headers: auth,
    });
    expect(dup.status).toBe(400);
    expect(dup.body.error).toMatchObject({ code: 506, message: '(#506) Duplicate status message', type: 'OAuthException' });
    expect(sim.postsOf(PAGE)).toHaveLength(1);
    // A different post in between makes the same text acceptable again (consecutive rule).
    expect((await call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'other' }, headers: auth })).status).toBe(200);
    expect(
      (await call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'Same text', link: 'https://example.org/a' }, headers: auth }))
        .status,
    ).toBe(200);
    expect(sim.visibleCounts().get(PAGE)).toBe(3);
  });

  it('accepts attached_media as indexed urlencoded form fields', async () => {
    const p1 = await call(base, 'POST', `/v25.0/${PAGE}/photos?access_token=${TOKEN}`, {
      form: 'url=https://img.example/1.jpg&published=false',
    });
    const p2 = await call(base, 'POST', `/v25.0/${PAGE}/photos?access_token=${TOKEN}`, {
      form: 'url=https://img.example/2.jpg&published=false',
    });
    expect(p1.body).toEqual({ id: expect.stringMatching(/^\d+$/) });
    expect(BigInt(p2.body.id)).toBeGreaterThan(BigInt(p1.body.id));
    const form = new URLSearchParams({
      message: 'album',
      'attached_media[0]': JSON.stringify({ media_fbid: p1.body.id }),
      'attached_media[1]': JSON.stringify({ media_fbid: p2.body.id }),
      access_token: TOKEN,
    }).toString();
    const post = await call(base, 'POST', `/v25.0/${PAGE}/feed`, { form });
    expect(post.status).toBe(200);
    const read = await call(base, 'GET', `/v25.0/${post.body.id}?fields=id,attachments,status_type&access_token=${TOKEN}`);
    expect(read.body.status_type).toBe('added_photos');
    expect(read.body.attachments.data[0].subattachments.data.map((a: { target: { id: string } }) => a.target.id)).toEqual([
      p1.body.id,
      p2.body.id,
    ]);
  });

  it('pages through published_posts newest first with cursors', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: `post ${i}` }, headers: auth })).body.id);
    }
    await call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'hidden draft', published: 'false' }, headers: auth });
    const first = await call(base, 'GET', `/v25.0/${PAGE}/published_posts?limit=2&fields=id,message`, { headers: auth });
    expect(first.body.data.map((p: { id: string }) => p.id)).toEqual([ids[4], ids[3]]);
    expect(first.body.paging.next).toContain(`/v25.0/${PAGE}/published_posts?`);
    expect(first.body.paging.next).not.toContain(TOKEN);
    const second = await call(base, 'GET', `/v25.0/${PAGE}/published_posts?limit=2&after=${first.body.paging.cursors.after}`, {
      headers: auth,
    });
    expect(second.body.data.map((p: { id: string }) => p.id)).toEqual([ids[2], ids[1]]);
    const third = await call(base, 'GET', `/v25.0/${PAGE}/published_posts?limit=2&after=${second.body.paging.cursors.after}`, {
      headers: auth,
    });
    expect(third.body.data.map((p: { id: string }) => p.id)).toEqual([ids[0]]);
    expect(third.body.paging.next).toBeUndefined();
  });

  it('read-lag on list leaves a young post out of the listing until the lag has passed', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const old = (await call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'older' }, headers: auth })).body.id;
    await new Promise((r) => setTimeout(r, 350));
    await call(base, 'POST', '/_sim/faults', { body: { kind: 'read-lag', endpoint: 'list', delayMs: 300 } });
    const fresh = (await call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'fresh' }, headers: auth })).body.id;
    const listed = await call(base, 'GET', `/v25.0/${PAGE}/published_posts?fields=id`, { headers: auth });
    expect(listed.body.data.map((p: { id: string }) => p.id)).toEqual([old]);
    // A GET by id is not affected by a 'list' rule.
    expect((await call(base, 'GET', `/v25.0/${fresh}`, { headers: auth })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 350));
    const later = await call(base, 'GET', `/v25.0/${PAGE}/published_posts?fields=id`, { headers: auth });
    expect(later.body.data.map((p: { id: string }) => p.id)).toEqual([fresh, old]);
  });

  it('injects faults from the control API and clears them', async () => {
    const add = await call(base, 'POST', '/_sim/faults', {
      body: { rules: [{ kind: 'error', endpoint: 'feed', code: 368, subcode: 1390008, count: 1 }] },
    });
    expect(add.body).toEqual({ added: 1 });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const hit = await call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'a' }, headers: auth });
    expect(hit.status).toBe(400);
    expect(hit.body.error).toMatchObject({ code: 368, error_subcode: 1390008 });
    expect((await call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'b' }, headers: auth })).status).toBe(200);

    await call(base, 'POST', '/_sim/faults', { body: { kind: 'html-error', endpoint: 'any', status: 504 } });
    const html = await call(base, 'GET', `/v25.0/${PAGE}/feed`, { headers: auth });
    expect(html.status).toBe(504);
    expect(html.headers.get('content-type')).toContain('text/html');
    expect(String(html.body)).toContain('Sorry, something went wrong');
    expect((await call(base, 'GET', '/_sim/faults')).body.faults).toHaveLength(1);
    await call(base, 'DELETE', '/_sim/faults');
    expect((await call(base, 'GET', `/v25.0/${PAGE}/feed`, { headers: auth })).status).toBe(200);
  });

  it('drops the connection before or after processing', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    await call(base, 'POST', '/_sim/faults', { body: { kind: 'drop-before-process', endpoint: 'feed', count: 1 } });
    await expect(call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'lost' }, headers: auth })).rejects.toThrow();
    expect(sim.postsOf(PAGE)).toHaveLength(0);
    await call(base, 'POST', '/_sim/faults', { body: { kind: 'drop-after-process', endpoint: 'feed', count: 1 } });
    await expect(call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'ghost' }, headers: auth })).rejects.toThrow();
    expect(sim.postsOf(PAGE).map((p) => p.message)).toEqual(['ghost']);
    expect(sim.visibleCounts().get(PAGE)).toBe(1);
  });

  it('holds an arrive-late request before processing it: its post is created when it "arrives"', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    await call(base, 'POST', '/_sim/faults', { body: { kind: 'arrive-late', endpoint: 'feed', pageId: PAGE, delayMs: 300, count: 1 } });
    const sent = Date.now();
    expect((await call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'late' }, headers: auth })).status).toBe(200);
    const [late] = sim.postsOf(PAGE).filter((p) => p.message === 'late');
    expect(late!.createdAt - sent).toBeGreaterThanOrEqual(290);
    // The rule was used up: the next request is processed at once.
    expect((await call(base, 'GET', '/_sim/faults')).body.faults).toEqual([]);
    await expect(call(base, 'POST', '/_sim/faults', { body: { kind: 'arrive-late', endpoint: 'feed' } })).resolves.toMatchObject({
      status: 400,
    });
  });

  it('fails every write during an incident window but keeps serving reads', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    await call(base, 'POST', '/_sim/faults', { body: { kind: 'incident', untilMs: Date.now() + 60_000 } });
    const write = await call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'x' }, headers: auth });
    expect(write.status).toBe(500);
    expect(write.body.error).toMatchObject({ code: 2, is_transient: true });
    expect((await call(base, 'GET', `/v25.0/${PAGE}/published_posts`, { headers: auth })).status).toBe(200);
    expect(sim.postsOf(PAGE)).toHaveLength(0);
  });

  it('invalidates tokens and sets BUC usage through the control API', async () => {
    await call(base, 'POST', '/_sim/tokens/invalidate', { body: { pageId: PAGE, subcode: 463 } });
    const expired = await call(base, 'GET', `/v25.0/${PAGE}/feed?access_token=${TOKEN}`);
    expect(expired.status).toBe(400);
    expect(expired.body.error).toMatchObject({ code: 190, error_subcode: 463, type: 'OAuthException' });
    expect(expired.body.error.message).toMatch(/^Error validating access token: Session has expired on /);
    expect(expired.headers.get('www-authenticate')).toMatch(/^OAuth "Facebook Platform" "invalid_token" "Error validating access token/);

    await call(base, 'POST', '/_sim/usage', { body: { pageId: OTHER_PAGE, percent: 64 } });
    const busy = await call(base, 'GET', `/v25.0/${OTHER_PAGE}/feed?access_token=${OTHER_TOKEN}`);
    expect(busy.status).toBe(200);
    const usage = JSON.parse(busy.headers.get('x-business-use-case-usage') ?? '{}');
    expect(usage[OTHER_PAGE][0]).toMatchObject({ type: 'pages', call_count: 64, estimated_time_to_regain_access: 0 });
  });

  it('throttles a page at 100 % with 80001 and a saturated header', async () => {
    sim.setUsagePercent(PAGE, 100, 7);
    const r = await call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'x' }, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe(80001);
    expect(r.body.error.message).toMatch(/^\(#80001\) There have been too many calls to this Page account/);
    const usage = JSON.parse(r.headers.get('x-business-use-case-usage') ?? '{}');
    expect(usage[PAGE][0].call_count).toBeGreaterThanOrEqual(100);
    expect(usage[PAGE][0].estimated_time_to_regain_access).toBe(7);
    expect(sim.postsOf(PAGE)).toHaveLength(0);
  });

  it('counts calls per page into the usage header once it reaches 1 %', async () => {
    sim.configure({ bucCallsPerDay: 200 });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const first = await call(base, 'GET', `/v25.0/${PAGE}/feed`, { headers: auth });
    expect(first.headers.get('x-business-use-case-usage')).toBeNull(); // 1 call of 200 = 0 %
    const second = await call(base, 'GET', `/v25.0/${PAGE}/feed`, { headers: auth });
    expect(JSON.parse(second.headers.get('x-business-use-case-usage')!)[PAGE][0].call_count).toBe(1);
  });

  it('fails writes at the configured error rate without creating anything', async () => {
    await call(base, 'POST', '/_sim/config', { body: { errorRate: 1 } });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const w = await call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'x' }, headers: auth });
    expect(w.status).toBe(500);
    expect(w.body.error).toMatchObject({
      code: 2,
      is_transient: true,
      message: 'An unexpected error has occurred. Please retry your request later.',
    });
    expect((await call(base, 'GET', `/v25.0/${PAGE}/feed`, { headers: auth })).status).toBe(200);
    expect(sim.postsOf(PAGE)).toHaveLength(0);
  });

  it('reset clears posts, faults, usage and counters', async () => {
    await call(base, 'POST', `/v25.0/${PAGE}/feed`, { body: { message: 'x' }, headers: { authorization: `Bearer ${TOKEN}` } });
    await call(base, 'POST', '/_sim/faults', { body: { kind: 'error', code: 2 } });
    expect(sim.requestCount()).toBe(1);
    await call(base, 'POST', '/_sim/reset', { body: { keepPages: true } });
    expect(sim.requestCount()).toBe(0);
    expect(sim.visibleCounts().get(PAGE)).toBe(0);
    expect((await call(base, 'GET', '/_sim/faults')).body.faults).toEqual([]);
    expect((await call(base, 'GET', `/v25.0/${PAGE}/feed?access_token=${TOKEN}`)).status).toBe(200);
    await call(base, 'POST', '/_sim/reset');
    expect(sim.visibleCounts().size).toBe(0);
    expect((await call(base, 'GET', `/v25.0/${PAGE}/feed?access_token=${TOKEN}`)).body.error.code).toBe(190);
  });

  it('rejects unknown control routes and bad control payloads', async () => {
    expect((await call(base, 'GET', '/_sim/nope')).status).toBe(404);
    expect((await call(base, 'POST', '/_sim/faults', { body: { kind: 'explode' } })).status).toBe(400);
    expect((await call(base, 'POST', '/_sim/config', { body: { errorRate: 3 } })).status).toBe(400);
    expect((await call(base, 'POST', '/_sim/tokens/invalidate', { body: { pageId: PAGE, subcode: 1 } })).status).toBe(400);
  });
});

describe('Graph simulator scheduling', () => {
  it('enforces the 10 min – 30 day window and publishes a scheduled post when due', async () => {
    let now = Date.UTC(2026, 3, 6, 12, 0, 0);
    const sim = createGraphSimulator({ now: () => now });
    const base = await sim.start(0);
    try {
      sim.seedPages([{ id: PAGE, token: TOKEN }]);
      const auth = { authorization: `Bearer ${TOKEN}` };
      const tooSoon = await call(base, 'POST', `/v25.0/${PAGE}/feed`, {
        body: { message: 's', published: false, scheduled_publish_time: Math.floor(now / 1000) + 300 },
        headers: auth,
      });
      expect(tooSoon.body.error).toMatchObject({ code: 100, message: '(#100) The specified scheduled publish time is invalid' });
      const tooLate = await call(base, 'POST', `/v25.0/${PAGE}/feed`, {
        body: { message: 's', published: 'false', scheduled_publish_time: '+31 days' },
        headers: auth,
      });
      expect(tooLate.body.error.code).toBe(100);
      const ok = await call(base, 'POST', `/v25.0/${PAGE}/feed`, {
        body: { message: 's', published: 'false', scheduled_publish_time: '+2 hours' },
        headers: auth,
      });
      expect(ok.status).toBe(200);
      expect(sim.visibleCounts().get(PAGE)).toBe(0);
      const scheduled = await call(base, 'GET', `/v25.0/${PAGE}/scheduled_posts?fields=id,scheduled_publish_time,is_published`, {
        headers: auth,
      });
      expect(scheduled.body.data).toEqual([{ id: ok.body.id, scheduled_publish_time: Math.floor(now / 1000) + 7200, is_published: false }]);
      now += 2 * 3_600_000;
      expect(sim.visibleCounts().get(PAGE)).toBe(1);
      const read = await call(base, 'GET', `/v25.0/${ok.body.id}?fields=is_published,created_time`, { headers: auth });
      expect(read.body).toEqual({ is_published: true, created_time: '2026-04-06T12:00:00+0000' });
    } finally {
      await sim.stop();
    }
  });
});

describe('Graph simulator latency', () => {
  async function latencies(seed: number, n: number): Promise<number[]> {
    const sim = createGraphSimulator({ seed, latency: { kind: 'lognormal', medianMs: 4, sigma: 0.8 } });
    const base = await sim.start(0);
    try {
      sim.seedPages([{ id: PAGE, token: TOKEN }]);
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const r = await call(base, 'GET', `/v25.0/${PAGE}/published_posts?access_token=${TOKEN}`);
        out.push(Number(r.headers.get('x-sim-latency-ms')));
      }
      return out;
    } finally {
      await sim.stop();
    }
  }

  it('draws the same log-normal latency sequence for the same seed', async () => {
    const a = await latencies(7, 25);
    const b = await latencies(7, 25);
    const c = await latencies(8, 25);
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    expect(new Set(a).size).toBeGreaterThan(3);
    expect(a.every((ms) => Number.isInteger(ms) && ms >= 0)).toBe(true);
  });

  it('really waits for a fixed latency', async () => {
    const sim = createGraphSimulator({ latency: { kind: 'fixed', ms: 120 } });
    const base = await sim.start(0);
    try {
      sim.seedPages([{ id: PAGE, token: TOKEN }]);
      const started = Date.now();
      const r = await call(base, 'GET', `/v25.0/${PAGE}/feed?access_token=${TOKEN}`);
      expect(r.status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(110);
    } finally {
      await sim.stop();
    }
  });
});
