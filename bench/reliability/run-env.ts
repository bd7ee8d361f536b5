/**
 * One run of a scenario: a fresh store (SQLite file shared by the worker processes in WAL mode, or a
 * fresh PostgreSQL database), a fresh queue prefix, the organisation seeded through the API, a pool of
 * worker processes, one approved post, and the measurement against the simulator's own view.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { ApiClient } from '../../src/cli/api-client';
import { seedOrganisation, startStack, subtreeCodes, UNITS_CSV_2025_03, type Stack } from '../../dev/stack';
import { createLogger } from '../../src/logger';
import { verifyCounts } from '../../src/services/delivery/delivery-counts';
import { generateEncryptionKey } from '../../src/security/token-cipher';
import { evaluate, type RunResult } from './report';
import { sleep, WorkerPool, type PgCluster, type RedisServer, type SimulatorProcess } from './procs';

export interface SuiteOptions {
  seed: number;
  /** 'full': all 10,807 Pages, target root; 'short': Hà Nội (province 01, 557 Pages). */
  scope: 'full' | 'short';
  /** Admin URL of a PostgreSQL server: each run gets a fresh database there (default: a SQLite file per run). */
  pgUrl?: string;
  workers: number;
  concurrency: number;
  /** WORKER_LOCK_MS of the worker processes. */
  lockMs: number;
  /** READBACK_DELAY_MS of the worker processes (must exceed the listing lag below). */
  readbackDelayMs: number;
  graphTimeoutMs: number;
  backoffMs: number;
  /** Simulator latency before each Graph call is processed (log-normal median, ms; 0 = none). */
  latencyMs: number;
  /** Read-after-create lag applied to listings in the fault mix, ms. */
  readLagMs: number;
  /** Open deliveries left after this long (from approval) count as lost. */
  deadlineMs: number;
  logDir: string;
  log(line: string): void;
}

export interface Shared {
  opts: SuiteOptions;
  redis: RedisServer;
  sim: SimulatorProcess;
  /** The suite's own PostgreSQL cluster, for the store-restart scenario on PostgreSQL. */
  pg?: PgCluster;
}

const UNITS_TEXT = fs.readFileSync(UNITS_CSV_2025_03, 'utf8');
const FINAL_POST = ['published', 'partially_failed', 'failed', 'cancelled'];

async function freshDatabase(opts: SuiteOptions, label: string): Promise<{ url: string; drop(): Promise<void> }> {
  if (!opts.pgUrl) {
    const file = path.join(opts.logDir, `${label}.db`);
    return { url: `sqlite:${file}`, drop: async () => ['', '-wal', '-shm'].forEach((s) => fs.rmSync(file + s, { force: true })) };
  }
  const name = `lantoa_rel_${crypto.randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: opts.pgUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(opts.pgUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: opts.pgUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export interface Progress {
  total: number;
  done: number;
  counts: Record<string, number>;
  postStatus: string;
}

export class RunEnv {
  postId = '';
  approvedAt = 0;
  /** Page ids of the target, by unit code. */
  pageOf = new Map<string, string>();
  readonly notes: string[] = [];

  private constructor(
    readonly shared: Shared,
    readonly label: string,
    readonly stack: Stack,
    readonly pool: WorkerPool,
    readonly db: { url: string; drop(): Promise<void> },
    private readonly editor: ApiClient,
    private readonly approver: ApiClient,
    /** The environment of the worker processes (and of a `start:api` process, when a scenario runs one). */
    readonly processEnv: Record<string, string>,
    /** The editor's API key (to call a separate API process as a real client would). */
    readonly editorKey: string,
  ) {}

  /** `pgUrl` overrides the suite's store: the store-restart scenario runs on its own PostgreSQL cluster. */
  static async create(
    shared: Shared,
    label: string,
    simSeed: number,
    workers = shared.opts.workers,
    store: { pgUrl?: string } = {},
  ): Promise<RunEnv> {
    const { sim, redis } = shared;
    const opts = store.pgUrl ? { ...shared.opts, pgUrl: store.pgUrl } : shared.opts;
    const db = await freshDatabase(opts, label);
    const prefix = `rel-${label}-${crypto.randomBytes(3).toString('hex')}`;
    const key = generateEncryptionKey();
    await sim.post('/reset', {});
    await sim.post('/config', {
      seed: simSeed,
      ...(opts.latencyMs > 0 ? { latency: { kind: 'lognormal', medianMs: opts.latencyMs, sigma: 0.5 } } : {}),
    });
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      TOKEN_ENCRYPTION_KEY: key,
      GRAPH_API_URL: sim.url,
      GRAPH_TIMEOUT_MS: String(opts.graphTimeoutMs),
      DELIVERY_BACKOFF_MS: String(opts.backoffMs),
      WORKER_CONCURRENCY: String(opts.concurrency),
      // 3 workers + the API on one PostgreSQL (max_connections 100): 20 each, whatever the concurrency (ignored for SQLite).
      PG_POOL_MAX: '20',
      WORKER_LOCK_MS: String(opts.lockMs),
      READBACK_DELAY_MS: String(opts.readbackDelayMs),
      // Several worker processes on one machine: no per-process metrics listener (they would all want port 9464).
      METRICS_PORT: '0',
    };
    // The API (and the store the suite reads) in this process; the workers are separate processes.
    const stack = await startStack({ workers: false, env: { ...env, LOG_LEVEL: 'silent' }, log: createLogger('silent') });
    const only = opts.scope === 'full' ? undefined : subtreeCodes(UNITS_TEXT, '01');
    const { pages } = await seedOrganisation(stack, UNITS_TEXT, {
      ...(only ? { only: (c: string) => only.has(c) } : {}),
      seedSim: async (seeds) => sim.post('/pages', { pages: seeds }),
    });
    const editorKey = (await stack.admin.createKey({ name: 'reliability editor', role: 'editor', unit: 'root' })).key;
    const editor = stack.admin.withKey(editorKey);
    const approver = stack.admin.withKey(
      (await stack.admin.createKey({ name: 'reliability approver', role: 'approver', unit: 'root' })).key,
    );
    const pool = new WorkerPool({ ...env, LOG_LEVEL: 'info' }, workers, path.join(opts.logDir, label));
    const run = new RunEnv(shared, label, stack, pool, db, editor, approver, env, editorKey);
    for (const p of pages) run.pageOf.set(p.unitCode, p.pageId);
    return run;
  }

  get target() {
    return this.shared.opts.scope === 'full' ? { unit: 'root', scope: 'subtree' } : { unit: '01', scope: 'subtree' };
  }

  /** Submits the post as the editor and approves it as the approver; the clock starts at approval. */
  async publish(): Promise<void> {
    const message = `[Lan Tỏa reliability ${this.label} seed ${this.shared.opts.seed}] Thông báo của Ủy ban MTTQ gửi các cấp`;
    const post = await this.editor.createPost({ message, target: this.target });
    this.postId = post.id;
    this.approvedAt = Date.now();
    await this.approver.approve(post.id);
  }

  async progress(): Promise<Progress> {
    const db = this.stack.deps.store.db;
    const rows = await db
      .selectFrom('deliveries')
      .select((eb) => ['status', eb.fn.countAll<number>().as('n')])
      .where('post_id', '=', this.postId)
      .groupBy('status')
      .execute();
    const post = await db.selectFrom('posts').select(['status', 'total']).where('id', '=', this.postId).executeTakeFirstOrThrow();
    const counts: Record<string, number> = {};
    for (const r of rows) counts[r.status] = Number(r.n);
    const open = (counts['queued'] ?? 0) + (counts['publishing'] ?? 0);
    const total = post.total || this.pageOf.size;
    return { total, done: post.total ? post.total - open : 0, counts, postStatus: post.status };
  }

  elapsed(): number {
    return Date.now() - this.approvedAt;
  }

  /** Waits until `fraction` of the deliveries are final (or the post is done, or the deadline passed). */
  async waitFraction(fraction: number): Promise<Progress> {
    for (;;) {
      // The store may be away (store-restart): keep polling until it answers or the deadline passes.
      const p = await this.progress().catch(() => undefined);
      if (!p) {
        if (this.elapsed() > this.shared.opts.deadlineMs) return { total: 0, done: 0, counts: {}, postStatus: 'unknown' };
        await sleep(200);
        continue;
      }
      if (p.total > 0 && p.done >= fraction * p.total) return p;
      if (FINAL_POST.includes(p.postStatus) || this.elapsed() > this.shared.opts.deadlineMs) return p;
      await sleep(50);
    }
  }

  /** Waits for the post to be final with no open delivery, up to the deadline. */
  async waitDone(): Promise<Progress> {
    for (;;) {
      const p = await this.progress().catch(() => undefined);
      if (!p) {
        if (this.elapsed() > this.shared.opts.deadlineMs) {
          this.notes.push(`deadline of ${Math.round(this.shared.opts.deadlineMs / 1000)} s passed with the store not answering`);
          return { total: 0, done: 0, counts: {}, postStatus: 'unknown' };
        }
        await sleep(200);
        continue;
      }
      if (FINAL_POST.includes(p.postStatus) && p.done === p.total) return p;
      if (this.elapsed() > this.shared.opts.deadlineMs) {
        this.notes.push(
          `deadline of ${Math.round(this.shared.opts.deadlineMs / 1000)} s passed with ${p.total - p.done} open deliveries (post ${p.postStatus})`,
        );
        return p;
      }
      await sleep(200);
    }
  }

  /** Stops the workers (SIGTERM), then compares the ledger with what the simulator shows on every Page. */
  async measure(scenario: string, chaos: string, expectFailed: Set<string> = new Set()): Promise<RunResult> {
    const seconds = this.elapsed() / 1000;
    await this.pool.stop();
    const rows = await this.stack.deps.store.db
      .selectFrom('deliveries')
      .select(['id', 'unit_code', 'page_id', 'status', 'reason', 'attempts', 'updated_at'])
      .where('post_id', '=', this.postId)
      .execute();
    const visible = await this.shared.sim.visibleCounts();
    const result = evaluate({ scenario, label: this.label, seconds, rows, visible, pageOf: this.pageOf, expectFailed, chaos });
    result.notes.unshift(...this.notes);
    // The counters the status reads use (kept by the ledger's writes) against a full count, after the chaos.
    const drift = await verifyCounts(this.stack.deps.store.db, this.postId);
    result.countDrift = drift.length;
    if (drift.length) {
      const shown = drift.slice(0, 3).map((d) => `${d.scope || 'post'}/${d.level}/${d.status}: kept ${d.actual}, counted ${d.expected}`);
      result.notes.push(`${drift.length} delivery counters drifted from a full count: ${shown.join('; ')}`);
    }
    if (this.pool.unexpectedExits) {
      result.processIssues += this.pool.unexpectedExits;
      result.notes.push(`${this.pool.unexpectedExits} worker process(es) exited by themselves (see the worker logs)`);
    }
    // Evidence for a few duplicated Pages: when each copy was created, against the ledger row.
    const dupPages = rows.filter((r) => r.page_id && (visible[r.page_id] ?? 0) > 1).slice(0, 3);
    for (const r of dupPages) {
      const posts = (await this.shared.sim.control.get<{ posts: Array<{ id: string; createdAt: number }> }>(`/pages/${r.page_id}/posts`))
        .data.posts;
      const row = await this.stack.deps.store.db
        .selectFrom('deliveries')
        .select(['fb_post_id', 'attempt_started_at', 'published_at'])
        .where('id', '=', r.id)
        .executeTakeFirstOrThrow();
      const t = (ms: number) => `+${((ms - this.approvedAt) / 1000).toFixed(3)}s`;
      result.notes.push(
        `Page ${r.page_id}: copies created at ${posts.map((p) => `${t(p.createdAt)} (${p.id})`).join(', ')}; ledger: last attempt started ${t(Date.parse(row.attempt_started_at!))}, published ${t(Date.parse(row.published_at!))} as ${row.fb_post_id}`,
      );
    }
    for (const r of rows.filter((x) => x.status === 'queued' || x.status === 'publishing').slice(0, 5)) {
      const q = this.stack.deps.queues.deliveries;
      const state = await q.getJobState(`dlv-${r.id}`).catch((e: Error) => `error ${e.message}`);
      const why = state === 'failed' ? ` ("${(await q.getJob(`dlv-${r.id}`))?.failedReason}")` : '';
      result.notes.push(
        `open delivery ${r.id} (${r.unit_code}): ${r.status}, reason ${r.reason}, attempts ${r.attempts}, updated ${r.updated_at}, BullMQ job ${state}${why}`,
      );
    }
    return result;
  }

  async dispose(keepFiles: boolean): Promise<void> {
    await this.pool.stop();
    await this.stack.close();
    await this.shared.redis.flushAll().catch(() => undefined);
    if (!keepFiles) await this.db.drop();
  }
}
