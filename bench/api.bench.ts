/**
 * `npm run bench:api` — the API under load while a national fan-out (10,807 Pages, Graph latency
 * log-normal, median 400 ms) runs in the same service process, as under `npm start` (API + workers, one
 * event loop; bench-stack.ts). For each endpoint a fresh national post is approved and the endpoint is loaded for 10 s at 50
 * connections from a separate process (autocannon); the fan-out's deliveries/s in that window is set
 * against fan-outs with no readers (one before, one after, same run).
 */
import os from 'node:os';
import { readEnv } from '../config';
import {
  awaitFanout,
  fanoutMilestones,
  LOGNORMAL,
  publishedSoFar,
  startBenchStack,
  startFanout,
  visibleOnGraph,
  type BenchStack,
} from './lib/bench-stack';
import { runLoad, type LoadSpec, type LoadSummary } from './lib/load-client';
import { benchNodeFlags, PROFILE_DIR } from './lib/service-process';

const CONNECTIONS = 50;
const DURATION_SEC = 10;

interface Window {
  /**
   * Pages that received the post per second (counted by the simulator) from approval to the end of the
   * window, or to the end of the fan-out if sooner: the fan-out's speed as Facebook sees it.
   */
  rate: number;
  /** The same, counted as deliveries committed `published` in our store (its writes can lag behind the sends). */
  ledgerRate: number;
  load: LoadSummary | undefined;
  secs: number;
  /** Seconds from approval to the rows written, and to the first Page published. */
  rowsAfter: number;
  firstAfter: number;
}

/** Approves a national post, runs `load` against it (or just waits), and measures the fan-out meanwhile. */
async function window(b: BenchStack, label: string, load: ((postId: string) => Promise<LoadSummary>) | undefined): Promise<Window> {
  const v0 = await visibleOnGraph(b);
  const { postId, t0, wallMs } = await startFanout(b, `Bench api ${label} ${Date.now()}`);
  const done = awaitFanout(b, postId, t0);
  let finished: { secs: number; published: number } | undefined;
  void done.then((r) => (finished = r));
  const summary = load ? await load(postId) : await new Promise<undefined>((r) => setTimeout(() => r(undefined), DURATION_SEC * 1000));
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const [visible, committed] = await Promise.all([visibleOnGraph(b), finished ? finished.published : publishedSoFar(b, postId)]);
  const rate = finished ? finished.published / finished.secs : (visible - v0) / elapsed;
  const ledgerRate = finished ? finished.published / finished.secs : committed / elapsed;
  const end = await done; // the next window starts on a quiet system
  return { rate, ledgerRate, load: summary, secs: end.secs, ...(await fanoutMilestones(b, postId, wallMs)) };
}

const rates = (w: Window) => `${w.rate.toFixed(0)} Pages/s on Graph (${w.ledgerRate.toFixed(0)}/s committed in the store)`;
const milestones = (w: Window) => ` (rows written after ${w.rowsAfter.toFixed(1)} s, first Page after ${w.firstAfter.toFixed(1)} s)`;

async function main(): Promise<void> {
  const env = readEnv();
  // `--split`: the scale-out layout (`start:api` next to a `start:worker`), each with its own event loop.
  const split = process.argv.includes('--split');
  // `--only <prefix>`: just the endpoints whose name starts with it (e.g. --only "POST"), with the two no-reader windows.
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
  // `--cpu-prof`: the service processes write V8 CPU profiles to bench/profiles/ when they stop.
  const cpuProf = process.argv.includes('--cpu-prof');
  const bench = await startBenchStack(
    {
      // The realistic-latency setting; WORKER_CONCURRENCY in the environment wins.
      WORKER_CONCURRENCY: env.WORKER_CONCURRENCY ?? '500',
      // 50 connections on one key would be answered 429 by the default limit; the Redis-backed limiter still runs.
      RATE_LIMIT_MAX: env.RATE_LIMIT_MAX ?? '1000000',
    },
    { split, nodeFlags: benchNodeFlags(process.argv) },
  );
  try {
    await bench.control('config', { latency: { kind: 'lognormal', ...LOGNORMAL } });
    const N = bench.pages.length;
    console.log(
      `Lan Tỏa API benchmark: ${N} Pages, concurrency ${bench.concurrency}, Graph latency log-normal median ${LOGNORMAL.medianMs} ms, ` +
        `${CONNECTIONS} connections × ${DURATION_SEC} s per endpoint, ${os.cpus().length} CPU(s), Node ${process.version}, store SQLite, ` +
        (split ? 'API and workers in two processes (start:api, start:worker)' : 'API and workers in one process (npm start)'),
    );
    const spec = (path: string, extra: Partial<LoadSpec> = {}): LoadSpec => ({
      url: bench.apiUrl,
      path,
      method: 'GET',
      key: bench.adminKey,
      connections: CONNECTIONS,
      durationSec: DURATION_SEC,
      ...extra,
    });
    const endpoints: Array<[string, (postId: string) => LoadSpec]> = [
      ['GET /v1/posts/{id}', (id) => spec(`/v1/posts/${id}`)],
      ['GET /v1/posts?limit=50', () => spec('/v1/posts?limit=50')],
      ['GET /v1/posts/{id}/deliveries?limit=100', (id) => spec(`/v1/posts/${id}/deliveries?limit=100`)],
      ['GET /v1/posts/{id}/tree', (id) => spec(`/v1/posts/${id}/tree`)],
      [
        'POST /v1/posts',
        () => spec('/v1/posts', { method: 'POST', key: bench.editorKey, createBody: { target: { unit: 'root', scope: 'subtree' } } }),
      ],
    ];

    const before = await window(bench, 'no readers (before)', undefined);
    console.log(
      `\n  fan-out, no readers (before): ${rates(before)} in the window, whole fan-out ${before.secs.toFixed(1)} s${milestones(before)}`,
    );
    const rows: Array<{ name: string; w: Window }> = [];
    for (const [name, make] of endpoints.filter(([n]) => only === undefined || n.startsWith(only))) {
      const w = await window(bench, name, (postId) => runLoad(make(postId)));
      rows.push({ name, w });
      const l = w.load!;
      console.log(
        `  ${name.padEnd(40)} ${l.rps.toFixed(0).padStart(6)} req/s  p50 ${String(l.p50).padStart(5)} ms  p99 ${String(l.p99).padStart(6)} ms` +
          `  (${l.requests} requests, ${l.non2xx} non-2xx, ${l.errors} errors, ${l.timeouts} timeouts)  fan-out ${rates(w)}, whole ${w.secs.toFixed(1)} s${milestones(w)}`,
      );
    }
    const after = await window(bench, 'no readers (after)', undefined);
    console.log(
      `  fan-out, no readers (after): ${rates(after)} in the window, whole fan-out ${after.secs.toFixed(1)} s${milestones(after)}`,
    );
    const baseline = (before.rate + after.rate) / 2;

    console.log(
      `\n  ${'endpoint'.padEnd(40)} ${'req/s'.padStart(7)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)}  fan-out with/without readers`,
    );
    for (const { name, w } of rows) {
      const l = w.load!;
      console.log(
        `  ${name.padEnd(40)} ${l.rps.toFixed(0).padStart(7)} ${String(l.p50).padStart(7)} ${String(l.p99).padStart(7)}  ${(w.rate / baseline).toFixed(2)}`,
      );
    }
    const get = rows.find((r) => r.name === 'GET /v1/posts/{id}');
    if (cpuProf) console.log(`\nCPU profiles of the service: ${PROFILE_DIR} (written when it stops; open in Chrome DevTools)`);
    if (!get) return;
    console.log(
      `\nGET /v1/posts/{id}: ${get.w.load!.rps.toFixed(0)} req/s (goal ≥ 2000), p99 ${get.w.load!.p99} ms (goal ≤ 20)` +
        `, fan-out slowed by ${Math.max(0, (1 - get.w.rate / baseline) * 100).toFixed(0)} % (goal ≤ 20 %)`,
    );
  } finally {
    await bench.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
