import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import pino from 'pino';
import { GraphClient } from '../../../src/graph/graph-client';
import { GraphApiError, GraphHttpError, GraphTransportError, isGraphFailure } from '../../../src/graph/graph-errors';
import { createGraphSimulator, type GraphSimulator } from '../../../src/simulator/simulator';

const PAGE = '723701000827665';
const TOKEN = 'EAAGpageTokenSecret0123456789abcdef';
const OTHER_PAGE = '723701000827666';
const OTHER_TOKEN = 'EAAGotherPageTokenSecret9876543210';
const APP_TOKEN = '100000000000001|appSecretValue42';

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

describe('GraphClient against the Graph simulator', () => {
  let sim: GraphSimulator;
  let client: GraphClient;
  const logLines: string[] = [];

  beforeAll(async () => {
    sim = createGraphSimulator({ seed: 3 });
    const url = await sim.start(0);
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logLines.push(chunk.toString('utf8'));
        cb();
      },
    });
    client = new GraphClient({ baseUrl: url, version: 'v25.0', timeoutMs: 2000, logger: pino({ level: 'debug' }, sink) });
  });
  afterAll(async () => {
    client.close();
    await sim.stop();
  });
  beforeEach(() => {
    sim.reset();
    sim.seedPages([
      { id: PAGE, name: 'Unit A', token: TOKEN },
      { id: OTHER_PAGE, name: 'Unit B', token: OTHER_TOKEN },
    ]);
  });

  it('creates a feed post with read-after-write fields and the post becomes visible', async () => {
    const res = await client.createFeedPost(PAGE, TOKEN, { message: 'Chúc mừng năm mới', fields: ['id', 'permalink_url'] });
    expect(res.status).toBe(200);
    expect(res.data.id).toMatch(new RegExp(`^${PAGE}_\\d+$`));
    const n = res.data.id.split('_')[1];
    expect(res.data.permalink_url).toBe(`https://www.facebook.com/${PAGE}/posts/${n}`);
    expect(res.traceId).toMatch(/^[A-Za-z0-9_-]{23}$/);
    expect(res.usage).toBeNull();
    expect(sim.visibleCounts().get(PAGE)).toBe(1);
    expect(sim.postsOf(PAGE)[0]).toMatchObject({ message: 'Chúc mừng năm mới', isPublished: true });
  });

  it('publishes in two phases, and publishing twice leaves exactly one visible post', async () => {
    const draft = await client.createFeedPost(PAGE, TOKEN, { message: 'two-phase', published: false });
    expect(sim.visibleCounts().get(PAGE)).toBe(0);
    const first = await client.updatePost(draft.data.id, TOKEN, { isPublished: true });
    const second = await client.updatePost(draft.data.id, TOKEN, { isPublished: true });
    expect(first.data).toEqual({ success: true });
    expect(second.data).toEqual({ success: true });
    expect(sim.visibleCounts().get(PAGE)).toBe(1);
    expect(sim.postsOf(PAGE)).toHaveLength(1);
    const read = await client.getPost(draft.data.id, TOKEN, ['id', 'message', 'is_published']);
    expect(read.data).toEqual({ id: draft.data.id, message: 'two-phase', is_published: true });
  });

  it('uploads unpublished photos and attaches them to a feed post in order', async () => {
    const a = await client.uploadPhoto(PAGE, TOKEN, { url: 'https://cdn.example.org/a.jpg', published: false });
    const b = await client.uploadPhoto(PAGE, TOKEN, { url: 'https://cdn.example.org/b.jpg', published: false });
    expect(a.data).toEqual({ id: expect.stringMatching(/^\d+$/) });
    expect(a.data.post_id).toBeUndefined();
    const post = await client.createFeedPost(PAGE, TOKEN, { message: 'album', attachedMedia: [b.data.id, a.data.id] });
    expect(sim.postsOf(PAGE).find((p) => p.id === post.data.id)?.attachedMedia).toEqual([b.data.id, a.data.id]);
    const published = await client.uploadPhoto(PAGE, TOKEN, { url: 'https://cdn.example.org/c.jpg', published: true, caption: 'single' });
    expect(published.data.post_id).toMatch(new RegExp(`^${PAGE}_\\d+$`));
    expect(sim.visibleCounts().get(PAGE)).toBe(2);
  });

  it('rejects a photo URL that is not http(s) with code 324', async () => {
    const err = await failure(client.uploadPhoto(PAGE, TOKEN, { url: 'file:///etc/passwd', published: false }));
    expect(err).toBeInstanceOf(GraphApiError);
    expect(err).toMatchObject({ status: 400, code: 324, endpoint: 'photos' });
  });

  it('surfaces the (#506) duplicate as a GraphApiError and creates nothing', async () => {
    await client.createFeedPost(PAGE, TOKEN, { message: 'same', link: 'https://example.org/x' });
    const err = await failure(client.createFeedPost(PAGE, TOKEN, { message: 'same', link: 'https://example.org/x' }));
    expect(err).toBeInstanceOf(GraphApiError);
    const e = err as GraphApiError;
    expect({ status: e.status, code: e.code, subcode: e.subcode, type: e.type, endpoint: e.endpoint }).toEqual({
      status: 400,
      code: 506,
      subcode: undefined,
      type: 'OAuthException',
      endpoint: 'feed',
    });
    expect(e.message).toBe('(#506) Duplicate status message');
    expect(e.fbtraceId).toMatch(/^[A-Za-z0-9_-]{23}$/);
    expect(sim.postsOf(PAGE)).toHaveLength(1);
  });

  it('parses an invalidated token as 190/460', async () => {
    sim.invalidateToken(PAGE, 460);
    const err = await failure(client.createFeedPost(PAGE, TOKEN, { message: 'x' }));
    expect(err).toBeInstanceOf(GraphApiError);
    expect(err).toMatchObject({ status: 400, code: 190, subcode: 460, type: 'OAuthException', isTransient: false });
    expect((err as Error).message).toMatch(/changed their password/);
  });

  it('answers 403 code 200 when a Page token is used on another Page', async () => {
    const err = await failure(client.createFeedPost(OTHER_PAGE, TOKEN, { message: 'x' }));
    expect(err).toBeInstanceOf(GraphApiError);
    expect(err).toMatchObject({ status: 403, code: 200 });
    expect((err as Error).message).toMatch(/^\(#200\) /);
    expect(sim.postsOf(OTHER_PAGE)).toHaveLength(0);
  });

  it('reports a timeout as a transport error with requestSent, while the post still lands', async () => {
    const fast = new GraphClient({ baseUrl: sim.url, version: 'v25.0', timeoutMs: 250 });
    try {
      sim.addFaults([{ kind: 'delay', endpoint: 'feed', delayMs: 1500, count: 1 }]);
      const err = await failure(fast.createFeedPost(PAGE, TOKEN, { message: 'slow' }));
      expect(err).toBeInstanceOf(GraphTransportError);
      expect(err).toMatchObject({ kind: 'timeout', requestSent: true, endpoint: 'feed' });
      expect(sim.visibleCounts().get(PAGE)).toBe(1);
    } finally {
      fast.close();
    }
  });

  it('reports a connection dropped before processing as a reset and nothing is created', async () => {
    sim.addFaults([{ kind: 'drop-before-process', endpoint: 'feed', count: 1 }]);
    const err = await failure(client.createFeedPost(PAGE, TOKEN, { message: 'dropped' }));
    expect(err).toBeInstanceOf(GraphTransportError);
    expect(err).toMatchObject({ kind: 'reset', requestSent: true, endpoint: 'feed' });
    expect(sim.postsOf(PAGE)).toHaveLength(0);
    // The next call on the same client works.
    await client.createFeedPost(PAGE, TOKEN, { message: 'after drop' });
    expect(sim.visibleCounts().get(PAGE)).toBe(1);
  });

  it('reports a refused connection as not sent', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const dead = new GraphClient({ baseUrl: `http://127.0.0.1:${port}`, version: 'v25.0', timeoutMs: 1000 });
    try {
      const err = await failure(dead.getPost(`${PAGE}_1`, TOKEN, ['id']));
      expect(err).toBeInstanceOf(GraphTransportError);
      expect(err).toMatchObject({ kind: 'refused', requestSent: false, endpoint: 'post.get', errno: 'ECONNREFUSED' });
    } finally {
      dead.close();
    }
  });

  it('returns code 2 for error-after-process although the post exists', async () => {
    sim.addFaults([{ kind: 'error-after-process', endpoint: 'feed', count: 1 }]);
    const err = await failure(client.createFeedPost(PAGE, TOKEN, { message: 'ambiguous' }));
    expect(err).toBeInstanceOf(GraphApiError);
    expect(err).toMatchObject({ status: 500, code: 2, isTransient: true });
    expect(sim.postsOf(PAGE).map((p) => p.message)).toEqual(['ambiguous']);
    expect(sim.visibleCounts().get(PAGE)).toBe(1);
  });

  it('maps an HTML 502 page to GraphHttpError with a body snippet', async () => {
    sim.addFaults([{ kind: 'html-error', endpoint: 'feed', status: 502, count: 1 }]);
    const err = await failure(client.createFeedPost(PAGE, TOKEN, { message: 'x' }));
    expect(err).toBeInstanceOf(GraphHttpError);
    expect(err).toMatchObject({ status: 502, endpoint: 'feed' });
    expect((err as GraphHttpError).bodySnippet).toContain('Facebook | Error');
  });

  it('throttles with 80001 and exposes the regain minutes from the usage header', async () => {
    sim.setUsagePercent(PAGE, 100, 12);
    const err = await failure(client.createFeedPost(PAGE, TOKEN, { message: 'x' }));
    expect(err).toBeInstanceOf(GraphApiError);
    const e = err as GraphApiError;
    expect(e.code).toBe(80001);
    expect(e.status).toBe(400);
    expect(e.usage?.page?.regainMinutes).toBe(12);
    expect(e.usage?.maxPercent).toBeGreaterThanOrEqual(100);
    expect(sim.postsOf(PAGE)).toHaveLength(0);
  });

  it('returns usage on successful calls once the page is busy', async () => {
    sim.setUsagePercent(PAGE, 50);
    const res = await client.listPublishedPosts(PAGE, TOKEN);
    expect(res.usage?.page).toEqual({ callCount: 50, totalCputime: 12, totalTime: 12, regainMinutes: 0 });
    expect(res.usage?.maxPercent).toBe(50);
  });

  it('deletes a post once; the second delete is 100/33', async () => {
    const post = await client.createFeedPost(PAGE, TOKEN, { message: 'to delete' });
    const del = await client.deletePost(post.data.id, TOKEN);
    expect(del.data).toEqual({ success: true });
    expect(sim.visibleCounts().get(PAGE)).toBe(0);
    const err = await failure(client.deletePost(post.data.id, TOKEN));
    expect(err).toBeInstanceOf(GraphApiError);
    expect(err).toMatchObject({ status: 400, code: 100, subcode: 33, type: 'GraphMethodException', endpoint: 'post.delete' });
  });

  it('reproduces read-after-create lag as 100/33 until the lag has passed', async () => {
    sim.addFaults([{ kind: 'read-lag', delayMs: 400 }]);
    const post = await client.createFeedPost(PAGE, TOKEN, { message: 'fresh' });
    const err = await failure(client.getPost(post.data.id, TOKEN, ['id']));
    expect(err).toMatchObject({ code: 100, subcode: 33, endpoint: 'post.get' });
    await new Promise((r) => setTimeout(r, 450));
    const read = await client.getPost(post.data.id, TOKEN, ['id', 'message']);
    expect(read.data).toEqual({ id: post.data.id, message: 'fresh' });
  });

  it('lists published posts newest first and follows the after cursor', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await client.createFeedPost(PAGE, TOKEN, { message: `p${i}` })).data.id);
    const page1 = await client.listPublishedPosts(PAGE, TOKEN, { limit: 2, fields: ['id', 'message'] });
    expect(page1.data.data).toEqual([
      { id: ids[2], message: 'p2' },
      { id: ids[1], message: 'p1' },
    ]);
    const after = (page1.data.paging as { cursors: { after: string } }).cursors.after;
    const page2 = await client.listPublishedPosts(PAGE, TOKEN, { limit: 2, after, fields: ['id'] });
    expect(page2.data.data).toEqual([{ id: ids[0] }]);
  });

  it('debugs valid and invalidated Page tokens with an app token', async () => {
    const ok = await client.debugToken(TOKEN, APP_TOKEN);
    expect(ok.data.data).toMatchObject({ is_valid: true, type: 'PAGE', profile_id: PAGE, expires_at: 0 });
    sim.invalidateToken(PAGE, 492);
    const bad = await client.debugToken(TOKEN, APP_TOKEN);
    expect(bad.data.data).toMatchObject({ is_valid: false, error: { code: 190, subcode: 492 } });
  });

  it('never lets a token reach a thrown error or a log line', async () => {
    const errors: unknown[] = [];
    errors.push(await failure(client.createFeedPost(PAGE, 'garbage-token-value-XYZ', { message: 'x' })));
    sim.addFaults([{ kind: 'drop-before-process', endpoint: 'feed', count: 1 }]);
    errors.push(await failure(client.createFeedPost(PAGE, TOKEN, { message: 'x' })));
    sim.addFaults([{ kind: 'html-error', endpoint: 'get', count: 1 }]);
    errors.push(await failure(client.getPost(`${PAGE}_1`, TOKEN, ['id'])));
    errors.push(await failure(client.debugToken(TOKEN, OTHER_TOKEN)));
    errors.push(await failure(client.createFeedPost(OTHER_PAGE, TOKEN, { message: 'x' })));
    const slow = new GraphClient({ baseUrl: sim.url, version: 'v25.0', timeoutMs: 100 });
    sim.addFaults([{ kind: 'delay', endpoint: 'delete', delayMs: 500, count: 1 }]);
    errors.push(await failure(slow.deletePost(`${PAGE}_1`, TOKEN)));
    slow.close();
    sim.invalidateToken(PAGE, 467);
    errors.push(await failure(client.updatePost(`${PAGE}_1`, TOKEN, { message: 'x' })));

    expect(errors).toHaveLength(7);
    for (const err of errors) {
      expect(isGraphFailure(err)).toBe(true);
      const e = err as Error;
      const dumps = [JSON.stringify(err), inspect(err, { depth: 10, showHidden: true }), String(e.stack), e.message];
      for (const dump of dumps) {
        for (const secret of [TOKEN, OTHER_TOKEN, 'garbage-token-value-XYZ']) expect(dump).not.toContain(secret);
        expect(dump).not.toMatch(/Bearer|authorization/i);
      }
    }
    const logs = logLines.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [TOKEN, OTHER_TOKEN, APP_TOKEN, 'garbage-token-value-XYZ']) expect(logs).not.toContain(secret);
  });
});

describe('GraphClient request shape', () => {
  let server: Server;
  let base: string;
  const seen: Array<{ method?: string; url?: string; headers: IncomingMessage['headers']; body: string }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json', 'x-fb-trace-id': 'TRACE123' });
        res.end('{"id":"1_2","post_supports_client_mutation_id":true}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('puts the version in the path, the token in a Bearer header and the fields in a JSON body', async () => {
    const client = new GraphClient({ baseUrl: base, version: 'v24.0' });
    try {
      const res = await client.createFeedPost('111', TOKEN, {
        message: 'm',
        published: false,
        attachedMedia: ['9', '8'],
        fields: ['id', 'permalink_url'],
      });
      expect(res.traceId).toBe('TRACE123');
      await client.getPost('111_2', TOKEN, ['id', 'message']);
      await client.debugToken(OTHER_TOKEN, APP_TOKEN);
    } finally {
      client.close();
    }
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/v24.0/111/feed' });
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(seen[0]!.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(seen[0]!.body)).toEqual({
      message: 'm',
      published: false,
      attached_media: [{ media_fbid: '9' }, { media_fbid: '8' }],
      fields: 'id,permalink_url',
    });
    expect(seen[1]).toMatchObject({ method: 'GET', url: '/v24.0/111_2?fields=id%2Cmessage' });
    expect(seen[2]!.url).toBe(`/v24.0/debug_token?input_token=${OTHER_TOKEN}`);
    expect(seen[2]!.headers.authorization).toBe(`Bearer ${APP_TOKEN}`);
    for (const req of seen.slice(0, 2)) expect(req.url).not.toContain(TOKEN);
  });
});

describe('GraphClient redaction of server echoes', () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    // A misbehaving upstream that echoes the credential back in its answers.
    server = createServer((req, res) => {
      const auth = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      req.resume();
      req.on('end', () => {
        if (req.url?.includes('/feed')) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              error: {
                message: `Bad token ${auth} (access_token=${auth})`,
                type: 'OAuthException',
                code: 190,
                error_user_msg: `token ${auth}`,
                fbtrace_id: 'T',
              },
            }),
          );
        } else {
          res.writeHead(502, { 'content-type': 'text/html' });
          res.end(`<html><body>upstream said ${auth} and input_token=${auth}</body></html>`);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('scrubs the token from error messages, user messages and body snippets', async () => {
    const client = new GraphClient({ baseUrl: base, version: 'v25.0' });
    try {
      const apiErr = (await failure(client.createFeedPost('1', TOKEN, { message: 'x' }))) as GraphApiError;
      expect(apiErr).toBeInstanceOf(GraphApiError);
      expect(apiErr.message).toBe('Bad token [redacted] (access_token=[redacted])');
      expect(apiErr.userMessage).toBe('token [redacted]');
      const httpErr = (await failure(client.uploadPhoto('1', TOKEN, { url: 'https://x/y.jpg', published: false }))) as GraphHttpError;
      expect(httpErr).toBeInstanceOf(GraphHttpError);
      expect(httpErr.bodySnippet).toBe('<html><body>upstream said [redacted] and input_token=[redacted]</body></html>');
      for (const e of [apiErr, httpErr]) expect(inspect(e, { depth: 10, showHidden: true })).not.toContain(TOKEN);
    } finally {
      client.close();
    }
  });
});
