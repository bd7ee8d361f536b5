import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiClient } from '../../src/cli/api-client';
import { createGraphSimulator } from '../../src/simulator/simulator';
import { testDatabases, type TestDatabase } from '../helpers/databases';
import { freePort, ROOT, spawnNode, waitForHttp, type NodeProcess } from '../helpers/processes';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { waitFor } from '../helpers/stack';

// bin/build.js is the plain-JavaScript build used by `npm run build` and the start scripts' pre-scripts.
const { ensureBuilt } = require(path.join(ROOT, 'bin/build.js')) as { ensureBuilt(root?: string): number };

/** What the image runs (Dockerfile CMD and docker-compose.yml `command`): node on dist/, no npm, no tsx. */
const API = ['dist/src/main.js', '--role=api'];
const WORKER = ['dist/workers/main.js'];
const ALL_IN_ONE = ['dist/src/main.js'];
/** The entry points' own shutdown budget (close-with-grace `delay`); docker's stop_grace_period is above it. */
const GRACE_MS = 30_000;

const UNITS = [
  'code,parent_code,level,type,name',
  '01,,1,Thành phố Trung ương,Thành phố Hà Nội',
  '001,01,2,Quận,Quận Ba Đình',
  '00001,001,3,Phường,Phường Phúc Xá',
].join('\n');

describe('compiled entry points (node dist/…)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-compiled-'));
  const running: NodeProcess[] = [];

  beforeAll(() => {
    // Builds dist/ when it is missing or older than the sources, like `npm start` does first.
    expect(ensureBuilt(ROOT)).toBe(0);
  }, 600_000);

  afterEach(() => {
    for (const p of running.splice(0)) p.child.kill('SIGKILL');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function start(args: string[], env: Record<string, string>): NodeProcess {
    const p = spawnNode(args, env);
    running.push(p);
    return p;
  }

  describe.each(testDatabases().map((db): [string, TestDatabase] => [db.name, db]))('on %s', (name, db) => {
    it('start:worker and start:api deliver a post to every Page, answer requests, and exit 0 on SIGTERM', async () => {
      const database = name === 'sqlite' ? { url: `sqlite:${dir}/split.db`, drop: async () => {} } : await db.create();
      const prefix = uniquePrefix('compiled');
      const sim = createGraphSimulator({});
      const simUrl = await sim.start(0, '127.0.0.1');
      const port = await freePort();
      const adminKey = `lt_admin_${crypto.randomBytes(18).toString('base64url')}`;
      const env = {
        DATABASE_URL: database.url,
        PG_POOL_MAX: '4',
        REDIS_URL,
        QUEUE_PREFIX: prefix,
        TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
        ADMIN_API_KEY: adminKey,
        GRAPH_API_URL: simUrl,
        WORKER_CONCURRENCY: '4',
        PAGE_MIN_SPACING_MS: '50',
        DELIVERY_BACKOFF_MS: '200',
        READBACK_DELAY_MS: '300',
        GRAPH_TIMEOUT_MS: '5000',
        METRICS_PORT: '0',
        LOG_LEVEL: 'info',
      };
      try {
        const worker = start(WORKER, env);
        await worker.waitForOutput(/"msg":"worker started"/);
        const api = start(API, { ...env, PORT: String(port) });
        const base = `http://127.0.0.1:${port}`;
        const ready = await waitForHttp(`${base}/readyz`);
        expect(ready.status).toBe(200);
        expect(await ready.json()).toEqual({ status: 'ready', redis: 'ok', store: 'ok', down: [] });

        // The dashboard's static files were copied next to the compiled plugin.
        const dashboard = await fetch(`${base}/dashboard/`);
        expect(dashboard.status).toBe(200);
        expect(await dashboard.text()).toContain('<script type="module" src="app.js"></script>');
        expect((await fetch(`${base}/dashboard/i18n/vi.js`)).status).toBe(200);

        // One post through the API process, fanned out and delivered by the worker process.
        const admin = new ApiClient(base, adminKey);
        expect(await admin.importUnits(UNITS)).toMatchObject({ total: 3 });
        const pages = ['root', '01', '001', '00001'].map((code, i) => ({
          code,
          id: `1000000000000${i + 1}`,
          token: `EAAG${crypto.randomBytes(24).toString('base64url')}`,
        }));
        sim.seedPages(pages.map((p) => ({ id: p.id, token: p.token, name: `MTTQ ${p.code}` })));
        expect(
          await admin.importPages(['unit_code,page_id,access_token', ...pages.map((p) => `${p.code},${p.id},${p.token}`)].join('\n')),
        ).toMatchObject({ linked: 4 });
        const editor = admin.withKey((await admin.createKey({ name: 'editor', role: 'editor', unit: 'root' })).key);
        const approver = admin.withKey((await admin.createKey({ name: 'approver', role: 'approver', unit: 'root' })).key);
        const post = await editor.createPost({ message: `Bản dựng biên dịch (${name})`, target: { unit: 'root', scope: 'subtree' } });
        await approver.approve(post.id);
        const done = await waitFor(async () => {
          const view = await admin.getPost(post.id);
          return ['published', 'partially_failed', 'failed'].includes(view.status) && view;
        }, 60_000);
        expect({ status: done.status, counts: done.counts }).toMatchObject({ status: 'published', counts: { published: 4, failed: 0 } });

        expect(await api.terminate(GRACE_MS)).toBe(0);
        expect(await worker.terminate(GRACE_MS)).toBe(0);
        expect(worker.output().out).toContain('"msg":"worker shutting down"');
        expect(api.output().err).toBe('');
        expect(worker.output().err).toBe('');
      } finally {
        await sim.stop();
        await dropPrefix(prefix);
        await database.drop();
      }
    }, 180_000);
  });

  it('npm start (API and workers in one process) serves /healthz and /readyz, then exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const prefix = uniquePrefix('proc');
    const p = start(ALL_IN_ONE, {
      PORT: String(port),
      DATABASE_URL: `sqlite:${dir}/start.db`,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
      ADMIN_API_KEY: 'test-admin-key-0123456789',
      LOG_LEVEL: 'warn',
    });
    try {
      const ready = await waitForHttp(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', redis: 'ok', store: 'ok', down: [] });
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const queues = await fetch(`http://127.0.0.1:${port}/v1/queues`, { headers: { authorization: 'Bearer test-admin-key-0123456789' } });
      expect(queues.status).toBe(200);
      expect(Object.keys((await queues.json()) as object)).toEqual(['fanout', 'deliveries', 'scope']);
      expect(await p.terminate(GRACE_MS)).toBe(0);
    } finally {
      await dropPrefix(prefix);
    }
  });
});
