import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateEncryptionKey } from '../../src/security/token-cipher';
import { createLogger } from '../../src/logger';
import { seedOrganisation, startStack, type Stack } from '../../dev/stack';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { UNITS_TEXT, waitFor } from '../helpers/stack';

/** Redis unreachable at approve time: the approval is kept (the posts table is the outbox) and published once Redis is back. */
describe('approval while Redis is down', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-outage-'));
  const prefix = uniquePrefix('outage');
  const env = {
    DATABASE_URL: `sqlite:${path.join(dir, 'store.db')}`,
    TOKEN_ENCRYPTION_KEY: generateEncryptionKey(),
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    PAGE_MIN_SPACING_MS: '0',
  };
  let down: Stack | undefined;
  let up: Stack | undefined;
  afterAll(async () => {
    await down?.close();
    await up?.close();
    await dropPrefix(prefix);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers 202 and keeps the approval; /readyz and /v1/queues say 503; the reconciler publishes it when Redis is back', async () => {
    down = await startStack({ env: { ...env, REDIS_URL: 'redis://127.0.0.1:1' }, workers: false, log: createLogger('silent') });
    const { pages } = await seedOrganisation(down, UNITS_TEXT);
    const editor = down.admin.withKey((await down.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
    const approver = down.admin.withKey((await down.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
    const post = await editor.createPost({ message: 'Phê duyệt khi Redis ngừng', target: { unit: '01', scope: 'subtree' } });
    const approved = await approver.approve(post.id);
    expect(approved.status).toBe('approved');
    const auth = { authorization: `Bearer ${down.adminKey}` };
    const queues = await down.app.inject({ method: 'GET', url: '/v1/queues', headers: auth });
    expect(queues.statusCode).toBe(503);
    expect(queues.headers['retry-after']).toBe('5');
    expect(queues.json().error.code).toBe('SERVICE_UNAVAILABLE');
    const ready = await down.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ status: 'not_ready', store: 'ok' });
    expect((await editor.getPost(post.id)).status).toBe('approved');
    await down.close();
    down = undefined;

    // Redis is back: a worker starts on the same store; its start-up reconcile enqueues the fan-out.
    up = await startStack({ env: { ...env, REDIS_URL }, log: createLogger('silent') });
    up.sim.seedPages(pages.map((p) => ({ id: p.pageId, token: p.token })));
    const done = await waitFor(async () => {
      const row = await up!.deps.store.db
        .selectFrom('posts')
        .select(['status', 'total'])
        .where('id', '=', post.id)
        .executeTakeFirstOrThrow();
      return row.status === 'published' ? row : null;
    }, 60_000);
    expect(done.total).toBeGreaterThan(1);
    const units = await up.deps.targets.resolve({ unit: '01', scope: 'subtree' });
    const byUnit = new Map(pages.map((p) => [p.unitCode, p.pageId]));
    const visible = up.sim.visibleCounts();
    for (const u of units) expect(visible.get(byUnit.get(u.code)!)).toBe(1);
  });
});
