/**
 * What the fan-out and API benchmarks share: the simulator in its own process (like a remote Graph API),
 * the service in its own process as `npm start` runs it (API + workers, one event loop; service-process.ts)
 * on a throwaway SQLite store and queue prefix, the 2025-03 tree (10,807 units) with a Page each, an
 * editor and an approver key, and a timed national fan-out. The bench's process seeds the store (with a
 * stack of its own, closed before the service starts), reads it for its yardsticks and drives the load.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, readEnv, type Config } from '../../config';
import { ApiClient } from '../../src/cli/api-client';
import { openStore, type Db, type Store } from '../../src/db/create-db';
import { createLogger } from '../../src/logger';
import { probeRedis } from '../../src/queues/redis';
import { dropKeysUnder } from '../../dev/demo/redis-keys';
import { seedOrganisation, startStack, UNITS_CSV_2025_03 } from '../../dev/stack';
import { SimulatorProcess } from '../reliability/procs';
import { ServiceProcess } from './service-process';

/** The realistic Graph latency of the benches: log-normal, median 400 ms. */
export const LOGNORMAL = { medianMs: 400, sigma: 0.5 };

export interface BenchStack {
  sim: SimulatorProcess;
  /** POSTs to the simulator's control API (`/_sim/<route>`). */
  control(route: string, body: unknown): Promise<unknown>;
  pages: Array<{ unitCode: string; pageId: string; token: string }>;
  /** The service's configuration (its environment, parsed as the service parses it). */
  config: Config;
  /** The running service: API + workers in one process, or with `split` the API alone. */
  service: ServiceProcess;
  /** With `split`: the workers' own process (`start:worker`). */
  workerService: ServiceProcess | undefined;
  apiUrl: string;
  adminKey: string;
  admin: ApiClient;
  editorKey: string;
  approverKey: string;
  /** The bench's own connection to the service's store (its yardsticks: full counts, milestones). */
  db: Db;
  /** Deliveries in flight the service runs with (WORKER_CONCURRENCY). */
  concurrency: number;
  /**
   * Stops the service and starts a fresh one on the same store and queues with WORKER_CONCURRENCY
   * `concurrency`: each measured part gets a process of its own, so its peak RSS is that part's.
   */
  restart(concurrency: number): Promise<void>;
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

/**
 * Starts the simulator process, seeds a fresh store with the 2025-03 tree and one Page per unit, then
 * starts the service with `env` (WORKER_CONCURRENCY, RATE_LIMIT_MAX…) on top of the bench's settings,
 * and the start scripts' node flags unless `opts.nodeFlags` says otherwise.
 */
export async function startBenchStack(
  env: Record<string, string | undefined> = {},
  opts: { nodeFlags?: readonly string[]; split?: boolean } = {},
): Promise<BenchStack> {
  await requireRedis();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-bench-'));
  const sim = await SimulatorProcess.start(7);
  const control = (route: string, body: unknown) => sim.post(`/${route}`, body);
  const prefix = `lantoa-bench-${crypto.randomBytes(3).toString('hex')}`;
  const redisUrl = loadConfig(readEnv()).redisUrl;
  let service: ServiceProcess | undefined;
  let workerService: ServiceProcess | undefined;
  let store: Store | undefined;
  const cleanUp = async () => {
    await service?.stop();
    await workerService?.stop();
    await store?.close();
    await sim.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    // The run's queues (kept jobs, events, schedulers) go with it: leftovers slow every later SCAN of this Redis.
    await dropKeysUnder(redisUrl, prefix);
  };
  try {
    const base = {
      DATABASE_URL: `sqlite:${path.join(dir, 'bench.db')}`,
      QUEUE_PREFIX: prefix,
      GRAPH_API_URL: sim.url,
      LOG_LEVEL: 'warn',
      METRICS_PORT: '0',
    };
    // Seeding: a stack in this process (no workers), closed before the service starts.
    const seeding = await startStack({ env: { ...base, ...env }, workers: false, log: createLogger('warn') });
    let seeded: { pages: BenchStack['pages']; editorKey: string; approverKey: string; key: string; adminKey: string };
    try {
      const { pages } = await seedOrganisation(seeding, fs.readFileSync(UNITS_CSV_2025_03, 'utf8'), {
        seedSim: async (seeds) => void (await control('pages', { pages: seeds })),
      });
      seeded = {
        pages,
        editorKey: (await seeding.admin.createKey({ name: 'bench editor', role: 'editor', unit: 'root' })).key,
        approverKey: (await seeding.admin.createKey({ name: 'bench approver', role: 'approver', unit: 'root' })).key,
        key: seeding.config.tokenEncryptionKey!.toString('base64'),
        adminKey: seeding.adminKey,
      };
    } finally {
      await seeding.close();
    }
    const serviceEnv = (concurrency?: number): Record<string, string> => {
      const out: Record<string, string> = { ...base, TOKEN_ENCRYPTION_KEY: seeded.key, ADMIN_API_KEY: seeded.adminKey };
      for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
      if (concurrency !== undefined) out['WORKER_CONCURRENCY'] = String(concurrency);
      return out;
    };
    const config = loadConfig({ ...readEnv(), ...serviceEnv() });
    store = await openStore(config.database);
    // `split`: the scale-out layout, `start:api` next to one `start:worker`, each with its own event loop.
    const launch = async (e: Record<string, string>) => {
      if (opts.split) workerService = await ServiceProcess.start(e, opts.nodeFlags, 'worker');
      service = await ServiceProcess.start(e, opts.nodeFlags, opts.split ? 'api' : 'all');
    };
    await launch(serviceEnv());
    const bench: BenchStack = {
      sim,
      control,
      pages: seeded.pages,
      config,
      service: service!,
      workerService,
      apiUrl: service!.url,
      adminKey: seeded.adminKey,
      admin: new ApiClient(service!.url, seeded.adminKey),
      editorKey: seeded.editorKey,
      approverKey: seeded.approverKey,
      db: store.db,
      concurrency: config.queue.concurrency,
      async restart(concurrency: number) {
        await service?.stop();
        await workerService?.stop();
        service = workerService = undefined;
        await launch(serviceEnv(concurrency));
        bench.service = service!;
        bench.workerService = workerService;
        bench.apiUrl = service!.url;
        bench.admin = new ApiClient(service!.url, seeded.adminKey);
        bench.concurrency = concurrency;
      },
      close: cleanUp,
    };
    return bench;
  } catch (err) {
    await cleanUp().catch(() => undefined);
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
  const post = await b.admin.withKey(b.editorKey).createPost({ message, target: { unit: 'root', scope: 'subtree' } });
  const t0 = process.hrtime.bigint();
  const wallMs = Date.now();
  await b.admin.withKey(b.approverKey).approve(post.id);
  return { postId: post.id, t0, wallMs };
}

/** Seconds from approval (`wallMs`) until the fan-out wrote the rows (`started_at`) and until the first Page got the post. */
export async function fanoutMilestones(b: BenchStack, postId: string, wallMs: number): Promise<{ rowsAfter: number; firstAfter: number }> {
  const db = b.db;
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
  const r = await b.db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('post_id', '=', postId)
    .where('status', '=', 'published')
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Waits (polling the store every 25 ms) until the post is final; seconds since `t0`, with its counts. */
export async function awaitFanout(b: BenchStack, postId: string, t0: bigint): Promise<FanoutResult> {
  const db = b.db;
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
