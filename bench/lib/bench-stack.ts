/**
 * What the fan-out and API benchmarks share: the simulator in its own process (like a remote Graph API),
 * API + workers in this process (as under `npm start`) on a throwaway SQLite store and queue prefix, the
 * 2025-03 tree (10,807 units) with a Page each, an editor and an approver key, and a timed national fan-out.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, readEnv } from '../../config';
import { createLogger } from '../../src/logger';
import { probeRedis } from '../../src/queues/redis';
import { dropKeysUnder } from '../../dev/demo/redis-keys';
import { seedOrganisation, startStack, UNITS_CSV_2025_03, type Stack } from '../../dev/stack';
import { SimulatorProcess } from '../reliability/procs';

/** The realistic Graph latency of the benches: log-normal, median 400 ms. */
export const LOGNORMAL = { medianMs: 400, sigma: 0.5 };

export interface BenchStack {
  stack: Stack;
  sim: SimulatorProcess;
  /** POSTs to the simulator's control API (`/_sim/<route>`). */
  control(route: string, body: unknown): Promise<unknown>;
  pages: Array<{ unitCode: string; pageId: string; token: string }>;
  editorKey: string;
  approverKey: string;
  close(): Promise<void>;
}

/** Exits with a hint when Redis is not there (every bench needs it). */
export async function requireRedis(): Promise<void> {
  const { redisUrl } = loadConfig(readEnv());
  try {
    await probeRedis(redisUrl);
  } catch {
    console.error(`Redis is not reachable at ${redisUrl}: start one with \`redis-server --daemonize yes\`.`);
    process.exit(1);
  }
}

/** Starts the simulator process and the stack, and seeds the 2025-03 tree with one Page per unit. */
export async function startBenchStack(env: Record<string, string | undefined> = {}): Promise<BenchStack> {
  await requireRedis();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-bench-'));
  const sim = await SimulatorProcess.start(7);
  const control = (route: string, body: unknown) => sim.post(`/${route}`, body);
  const prefix = `lantoa-bench-${crypto.randomBytes(3).toString('hex')}`;
  let stack: Stack | undefined;
  try {
    stack = await startStack({
      env: {
        DATABASE_URL: `sqlite:${path.join(dir, 'bench.db')}`,
        QUEUE_PREFIX: prefix,
        GRAPH_API_URL: sim.url,
        LOG_LEVEL: 'warn',
        ...env,
      },
      log: createLogger('warn'),
    });
    const s = stack;
    const { pages } = await seedOrganisation(s, fs.readFileSync(UNITS_CSV_2025_03, 'utf8'), {
      seedSim: async (seeds) => void (await control('pages', { pages: seeds })),
    });
    const editorKey = (await s.admin.createKey({ name: 'bench editor', role: 'editor', unit: 'root' })).key;
    const approverKey = (await s.admin.createKey({ name: 'bench approver', role: 'approver', unit: 'root' })).key;
    return {
      stack: s,
      sim,
      control,
      pages,
      editorKey,
      approverKey,
      async close() {
        await s.close();
        await sim.stop();
        fs.rmSync(dir, { recursive: true, force: true });
        // The run's queues (kept jobs, events, schedulers) go with it: leftovers slow every later SCAN of this Redis.
        await dropKeysUnder(s.config.redisUrl, prefix);
      },
    };
  } catch (err) {
    await stack?.close().catch(() => undefined);
    await sim.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    await dropKeysUnder(loadConfig(readEnv()).redisUrl, prefix).catch(() => undefined);
    throw err;
  }
}

export interface FanoutResult {
  secs: number;
  published: number;
  failed: number;
  total: number;
}

const FINAL = ['published', 'partially_failed', 'failed'];

/** A national post (root subtree), created and approved: resolves when its fan-out has started (approval answered). */
export async function startFanout(b: BenchStack, message: string): Promise<{ postId: string; t0: bigint; wallMs: number }> {
  const post = await b.stack.admin.withKey(b.editorKey).createPost({ message, target: { unit: 'root', scope: 'subtree' } });
  const t0 = process.hrtime.bigint();
  const wallMs = Date.now();
  await b.stack.admin.withKey(b.approverKey).approve(post.id);
  return { postId: post.id, t0, wallMs };
}

/** Seconds from approval (`wallMs`) until the fan-out wrote the rows (`started_at`) and until the first Page got the post. */
export async function fanoutMilestones(b: BenchStack, postId: string, wallMs: number): Promise<{ rowsAfter: number; firstAfter: number }> {
  const db = b.stack.deps.store.db;
  const p = await db.selectFrom('posts').select('started_at').where('id', '=', postId).executeTakeFirstOrThrow();
  const d = await db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.min('published_at').as('first'))
    .where('post_id', '=', postId)
    .executeTakeFirstOrThrow();
  const after = (iso: string | null) => (iso ? (Date.parse(iso) - wallMs) / 1000 : NaN);
  return { rowsAfter: after(p.started_at), firstAfter: after(d.first as string | null) };
}

/** Posts visible on every simulated Page so far: what "Facebook" received, whatever our store has committed yet. */
export async function visibleOnGraph(b: BenchStack): Promise<number> {
  return (await b.sim.control.get<{ totalVisible: number }>('/visible-counts')).data.totalVisible;
}

/** Published deliveries of the post so far (a full count: the bench's own yardstick, not the API's). */
export async function publishedSoFar(b: BenchStack, postId: string): Promise<number> {
  const r = await b.stack.deps.store.db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('post_id', '=', postId)
    .where('status', '=', 'published')
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Waits (polling the store every 25 ms) until the post is final; seconds since `t0`, with its counts. */
export async function awaitFanout(b: BenchStack, postId: string, t0: bigint): Promise<FanoutResult> {
  const db = b.stack.deps.store.db;
  for (;;) {
    const p = await db.selectFrom('posts').select(['status', 'total']).where('id', '=', postId).executeTakeFirstOrThrow();
    if (FINAL.includes(p.status)) {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const rows = await db
        .selectFrom('deliveries')
        .select((eb) => ['status', eb.fn.countAll<number>().as('n')])
        .where('post_id', '=', postId)
        .groupBy('status')
        .execute();
      const n = (s: string) => Number(rows.find((r) => r.status === s)?.n ?? 0);
      return { secs, published: n('published'), failed: n('failed'), total: p.total };
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A whole national fan-out: create, approve, wait until final. */
export async function fanout(b: BenchStack, message: string): Promise<FanoutResult> {
  const { postId, t0 } = await startFanout(b, message);
  return awaitFanout(b, postId, t0);
}
