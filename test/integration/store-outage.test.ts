import { spawn } from 'node:child_process';
import { loadTestEnv } from '../../config/test-env';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import BetterSqlite3 from 'better-sqlite3';
import { createLogger } from '../../src/logger';
import { generateEncryptionKey } from '../../src/security/token-cipher';
import { seedOrganisation, startStack, type Stack } from '../../dev/stack';
import { testDatabases } from '../helpers/databases';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { childCodes, UNITS_TEXT, waitFor } from '../helpers/stack';
import { TcpProxy } from '../helpers/tcp-proxy';

const ROOT = path.resolve(__dirname, '../..');
const pgUrl = testDatabases().find((d) => d.name === 'postgres') ? loadTestEnv().testDatabaseUrl : undefined;

/** A pino logger whose JSON lines land in `lines` (to check what a store outage writes to the log). */
function capturingLogger(level = 'info') {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: createLogger(level, 'lantoa', dest as never), lines };
}

/** Connection internals node-postgres would drag into a log line if the error object were logged as is. */
const CLIENT_INTERNALS = /connectionParameters|_connectionString|"client"|"_pool"|"_idle"|"password"|hunter2/i;

// These tests spawn worker processes against a store behind a proxy. On a loaded machine one run
// (PostgreSQL start-up wait) once saw its worker end by a signal instead of exit 0 after SIGTERM;
// it did not reproduce in isolation. A failure is retried once and its first error is logged, so
// a real regression (every run) still fails, and the signal and stderr tail are in the message.
jest.retryTimes(1, { logErrorsBeforeRetry: true });

function spawnWorker(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers/main.ts')], {
    cwd: ROOT,
    env: {
      PATH: loadTestEnv().path,
      REDIS_URL,
      TOKEN_ENCRYPTION_KEY: generateEncryptionKey(),
      METRICS_PORT: '0',
      GRAPH_API_URL: 'http://127.0.0.1:9',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  let signal: NodeJS.Signals | null = null;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, sig) => {
      signal = sig;
      resolve(code);
    }),
  );
  /** How the process ended, with the tail of its stderr: what a failed exit assertion prints. */
  const ending = async () => ({ code: await exited, signal, stderrTail: err.slice(-2_000) });
  return { child, exited, ending, output: () => ({ out, err }) };
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('start-up with the store down', () => {
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const p of prefixes) await dropPrefix(p);
  });

  it('waits with a log line, then exits 1 after STORE_STARTUP_TIMEOUT_MS with one line naming the URL without its password', async () => {
    const port = await closedPort();
    const prefix = uniquePrefix('store-start');
    prefixes.push(prefix);
    const w = spawnWorker({
      DATABASE_URL: `postgres://lantoa:hunter2-secret@127.0.0.1:${port}/ledger`,
      STORE_STARTUP_TIMEOUT_MS: '1500',
      QUEUE_PREFIX: prefix,
    });
    expect(await w.exited).toBe(1);
    const { out, err } = w.output();
    expect(out).toContain('store not reachable yet; waiting for it');
    const waiting = JSON.parse(out.split('\n').find((l) => l.includes('store not reachable yet'))!);
    expect(waiting).toMatchObject({ store: `postgres://lantoa@127.0.0.1:${port}/ledger`, code: 'ECONNREFUSED', op: 'open' });
    const lines = err.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`postgres://lantoa@127.0.0.1:${port}/ledger`);
    expect(lines[0]).toMatch(/STORE_STARTUP_TIMEOUT_MS/);
    expect(out + err).not.toMatch(/hunter2|\n\s+at /);
  }, 30_000);

  it('SQLite locked by another writer at start: waits, then starts once the lock is released', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-store-start-'));
    const file = path.join(dir, 'store.db');
    const holder = new BetterSqlite3(file);
    holder.exec('create table hold (x int); begin exclusive; insert into hold values (1);');
    const prefix = uniquePrefix('store-start');
    prefixes.push(prefix);
    const w = spawnWorker({ DATABASE_URL: `sqlite:${file}`, STORE_STARTUP_TIMEOUT_MS: '60000', QUEUE_PREFIX: prefix });
    try {
      await waitFor(async () => w.output().out.includes('store not reachable yet; waiting for it'), 30_000);
      expect(w.output().out).not.toContain('"worker started"');
      holder.exec('commit');
      holder.close();
      await waitFor(async () => w.output().out.includes('"worker started"'), 30_000);
      expect(w.output().out).toContain('store reachable; starting');
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
    } finally {
      w.child.kill('SIGKILL');
      if (holder.open) holder.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  (pgUrl ? it : it.skip)(
    'PostgreSQL unreachable at start: waits, then starts when it answers',
    async () => {
      const admin = new URL(pgUrl!);
      const proxy = await TcpProxy.start({ host: admin.hostname, port: Number(admin.port || 5432) }, { down: true });
      const prefix = uniquePrefix('store-start');
      prefixes.push(prefix);
      const db = await testDatabases()
        .find((d) => d.name === 'postgres')!
        .create();
      const w = spawnWorker({ DATABASE_URL: proxy.rewrite(db.url), STORE_STARTUP_TIMEOUT_MS: '60000', QUEUE_PREFIX: prefix });
      try {
        await waitFor(async () => w.output().out.includes('store not reachable yet; waiting for it'), 30_000);
        await proxy.restore();
        await waitFor(async () => w.output().out.includes('"worker started"'), 30_000);
        w.child.kill('SIGTERM');
        expect(await w.ending()).toMatchObject({ code: 0, signal: null });
      } finally {
        w.child.kill('SIGKILL');
        await proxy.close();
        await db.drop();
      }
    },
    60_000,
  );
});

describe('SQLite busy', () => {
  it("a write waits out another writer's lock (bounded, without blocking the event loop) and succeeds once it is released", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-busy-'));
    const file = path.join(dir, 'store.db');
    const prefix = uniquePrefix('busy');
    const stack = await startStack({
      env: { DATABASE_URL: `sqlite:${file}`, QUEUE_PREFIX: prefix, REDIS_URL, LOG_LEVEL: 'silent' },
      workers: false,
      log: createLogger('silent'),
    });
    const holder = new BetterSqlite3(file);
    try {
      await seedOrganisation(stack, UNITS_TEXT, { only: (c) => c === 'root' || c === '01' });
      holder.exec('begin immediate');
      const write = stack.app.inject({
        method: 'POST',
        url: '/v1/keys',
        headers: { authorization: `Bearer ${stack.adminKey}` },
        payload: { name: 'during lock', role: 'viewer', unit: '01' },
      });
      let settled = false;
      void write.then(() => (settled = true));
      // The event loop keeps running while the write waits (SQLite's own busy handler would block it).
      const ticks = await new Promise<number>((resolve) => {
        let n = 0;
        const t = setInterval(() => n++, 100);
        setTimeout(() => (clearInterval(t), resolve(n)), 1_500);
      });
      expect(ticks).toBeGreaterThanOrEqual(5); // a 10 s synchronous busy wait would allow none
      if (settled) throw new Error(`write settled during the lock: ${(await write).statusCode} ${(await write).body}`);
      holder.exec('commit');
      expect((await write).statusCode).toBe(201);
      expect(
        (await stack.app.inject({ method: 'GET', url: '/v1/units/01', headers: { authorization: `Bearer ${stack.adminKey}` } })).statusCode,
      ).toBe(200);
    } finally {
      holder.close();
      await stack.close();
      await dropPrefix(prefix);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

(pgUrl ? describe : describe.skip)('PostgreSQL outage (through a proxy that drops every connection)', () => {
  let stack: Stack | undefined;
  let proxy: TcpProxy | undefined;
  let db: { url: string; drop(): Promise<void> } | undefined;
  const prefix = uniquePrefix('pg-outage');
  const captured = capturingLogger('info');
  afterAll(async () => {
    await proxy?.restore();
    await stack?.close();
    await proxy?.close();
    await db?.drop();
    await dropPrefix(prefix);
  });

  it('answers 503 with Retry-After, /readyz names the store, workers put jobs back unspent; 0 duplicates, 0 lost; logs carry no client internals', async () => {
    db = await testDatabases()
      .find((d) => d.name === 'postgres')!
      .create();
    const admin = new URL(db.url);
    proxy = await TcpProxy.start({ host: admin.hostname, port: Number(admin.port || 5432) });
    stack = await startStack({
      env: {
        DATABASE_URL: proxy.rewrite(db.url),
        QUEUE_PREFIX: prefix,
        REDIS_URL,
        LOG_LEVEL: 'info',
        WORKER_CONCURRENCY: '10',
        PAGE_MIN_SPACING_MS: '0',
        READBACK_DELAY_MS: '300',
        DELIVERY_BACKOFF_MS: '200',
        RATE_LIMIT_MAX: '1000000',
      },
      simulator: { latency: { kind: 'fixed', ms: 40 }, duplicateMode: 'off' },
      log: captured.log,
    });
    // A national post that reaches 622 Pages (root and the four largest provinces with their communes; the other
    // units have no Page and are skipped), so the store goes away mid fan-out: the cut comes at 50 published, with
    // more than 500 still to send. (All 3,356 Pages took most of this file's minute and proved nothing more.)
    const withPages = new Set(['root', ...['79', '38', '25', '52'].flatMap((p) => [p, ...childCodes(UNITS_TEXT, p)])]);
    const { pages } = await seedOrganisation(stack, UNITS_TEXT, { only: (c) => withPages.has(c) });
    expect(pages).toHaveLength(622);
    const editor = stack.admin.withKey((await stack.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
    const approver = stack.admin.withKey((await stack.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
    const post = await editor.createPost({ message: 'Cơ sở dữ liệu khởi động lại giữa chừng', target: { unit: 'root', scope: 'subtree' } });
    await approver.approve(post.id);
    const s = stack;
    const published = async () => {
      const r = await s.deps.store.db
        .selectFrom('deliveries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('post_id', '=', post.id)
        .where('status', '=', 'published')
        .executeTakeFirst();
      return Number(r?.n ?? 0);
    };
    await waitFor(async () => (await published()) >= 50, 60_000, 20);

    await proxy.cut();
    // Mid fan-out indeed: most Pages have no copy yet when the store goes away.
    const visibleAtCut = [...stack.sim.visibleCounts().values()].reduce((a, b) => a + b, 0);
    expect(visibleAtCut).toBeLessThan(pages.length / 2);
    const auth = { authorization: `Bearer ${stack.adminKey}` };
    const res = await stack.app.inject({ method: 'GET', url: `/v1/posts/${post.id}`, headers: auth });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json()).toEqual({
      error: { code: 'SERVICE_UNAVAILABLE', message: expect.stringMatching(/^store unavailable \(\w+\); retry later$/) },
    });
    const ready = await stack.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.headers['retry-after']).toBe('5');
    expect(ready.json()).toMatchObject({
      status: 'not_ready',
      redis: 'ok',
      store: expect.stringMatching(/^error: store unavailable/),
      down: ['store'],
    });
    // The workers notice and pause; jobs that met the outage go back to the queue without spending an attempt.
    await waitFor(async () => stack!.workers!.storeGuard.down, 20_000);
    await new Promise((r) => setTimeout(r, 3_000));
    await proxy.restore();

    await waitFor(async () => !stack!.workers!.storeGuard.down, 20_000);
    expect((await stack.app.inject({ method: 'GET', url: '/readyz' })).json()).toMatchObject({ status: 'ready', down: [] });
    const done = await waitFor(async () => {
      const row = await s.deps.store.db.selectFrom('posts').select(['status']).where('id', '=', post.id).executeTakeFirstOrThrow();
      return ['published', 'partially_failed', 'failed'].includes(row.status) ? row : null;
    }, 120_000);
    expect(done.status).toBe('published');
    const visible = stack.sim.visibleCounts();
    const wrong = pages.filter((p) => visible.get(p.pageId) !== 1).map((p) => `${p.unitCode}: ${visible.get(p.pageId) ?? 0}`);
    expect(wrong).toEqual([]);
    // No delivery job spent an attempt on the outage (each took one attempt, or none when it was put back).
    const failed = await stack.deps.queues.deliveries.getJobCounts('failed');
    expect(failed.failed).toBe(0);

    const outageLines = captured.lines.filter((l) => /store (unavailable|connection lost|still unavailable)/.test(l));
    expect(outageLines.length).toBeGreaterThan(0);
    for (const l of outageLines) {
      const entry = JSON.parse(l) as Record<string, unknown>;
      expect(entry).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String), op: expect.any(String) }));
    }
    expect(captured.lines.filter((l) => CLIENT_INTERNALS.test(l))).toEqual([]);
  }, 240_000);
});
