/**
 * `npm run bench:fanout` — a full 10,807-Page fan-out against the simulator (in its own process,
 * like a remote Graph API), measured side by side with a raw keep-alive HTTP loop at the same
 * concurrency, then again at realistic latency against the ideal N × mean latency ÷ concurrency.
 */
import http from 'node:http';
import os from 'node:os';
import { readEnv } from '../config';
import { DEFAULT_WORKER_CONCURRENCY } from '../config/schema';
import { GraphClient } from '../src/graph/graph-client';
import { sampleLatency } from '../src/simulator/latency';
import { mulberry32 } from '../src/simulator/prng';
import { SERVICE_NODE_FLAGS } from '../config/node-flags';
import { fanout, LOGNORMAL, startBenchStack, type BenchStack } from './lib/bench-stack';
import { benchNodeFlags } from './lib/service-process';

/** Deliveries in flight in the realistic-latency part (issue 12). */
const REALISTIC_CONCURRENCY = 500;

/** `--sweep 50,100,500`: the concurrencies of the realistic-latency sweep (how WORKER_CONCURRENCY's default was chosen), or null. */
function sweepArg(): number[] | null {
  const i = process.argv.indexOf('--sweep');
  if (i < 0) return null;
  const list = (process.argv[i + 1] ?? '50,100,200,300,500,800').split(',').map(Number);
  if (!list.every((n) => Number.isInteger(n) && n >= 1 && n <= 1000)) {
    console.error('--sweep takes concurrencies from 1 to 1000, comma-separated, e.g. --sweep 50,100,200,500');
    process.exit(2);
  }
  return list;
}

/**
 * The shortest a fan-out of `n` requests with `concurrency` in flight can take when each request's latency is
 * drawn from the benches' log-normal (the simulator's own sampler): a new request starts the moment one
 * finishes, so only the latencies count, the last wave's slow tail included. The median over 21 seeded
 * draws, in seconds. `N × mean ÷ concurrency` (the issue's ideal) leaves that tail out.
 */
function idealWithTail(n: number, concurrency: number): number {
  const runs: number[] = [];
  for (let seed = 1; seed <= 21; seed++) {
    const rng = mulberry32(seed);
    const free = new Array<number>(Math.min(concurrency, n)).fill(0); // when each slot is free again, ms
    let end = 0;
    for (let i = 0; i < n; i++) {
      // The slot that frees first (a linear scan: 10,807 × 500 steps is nothing next to a fan-out).
      let k = 0;
      for (let j = 1; j < free.length; j++) if (free[j]! < free[k]!) k = j;
      free[k]! += sampleLatency({ kind: 'lognormal', ...LOGNORMAL }, rng);
      end = Math.max(end, free[k]!);
    }
    runs.push(end / 1000);
  }
  return runs.sort((a, b) => a - b)[10]!;
}

/** The mean of the benches' log-normal Graph latency, in ms. */
const MEAN_LATENCY_MS = LOGNORMAL.medianMs * Math.exp((LOGNORMAL.sigma * LOGNORMAL.sigma) / 2);

/**
 * The realistic-latency fan-out at each concurrency of `list`: seconds, deliveries/s, the ratio to the
 * ideal N × mean latency ÷ concurrency, CPU seconds of the service process (API + workers) per 1,000
 * deliveries, and peak RSS. Tells where more deliveries in flight stop paying off.
 */
async function sweep(bench: BenchStack, list: number[]): Promise<void> {
  const N = bench.pages.length;
  await bench.control('config', { latency: { kind: 'lognormal', ...LOGNORMAL } });
  console.log(`\n[3] concurrency sweep at realistic latency (log-normal median ${LOGNORMAL.medianMs} ms, sigma ${LOGNORMAL.sigma})`);
  console.log(
    `  ${'concurrency'.padStart(11)} ${'secs'.padStart(7)} ${'/s'.padStart(6)} ${'ideal s'.padStart(8)} ${'ratio'.padStart(6)} ${'CPU s/1k'.padStart(9)} ${'peak RSS'.padStart(9)}`,
  );
  for (const c of list) {
    const ideal = (N * MEAN_LATENCY_MS) / 1000 / c;
    const f = await measured(bench, c, () => fanout(bench, `Bench sweep ${c} ${Date.now()}`));
    const cpuPer1k = (f.cpuSeconds / N) * 1000;
    console.log(
      `  ${String(c).padStart(11)} ${f.secs.toFixed(1).padStart(7)} ${(N / f.secs).toFixed(0).padStart(6)} ${ideal.toFixed(1).padStart(8)} ${(f.secs / ideal).toFixed(2).padStart(6)} ${cpuPer1k.toFixed(2).padStart(9)} ${`${f.peakRssMb.toFixed(0)} MB`.padStart(9)}` +
        (f.failed ? `  (${f.failed} failed)` : ''),
    );
  }
}

/** Several national posts approved at once; resolves when all are done. Deliveries/s over all of them. */
async function fanoutMany(b: BenchStack, count: number): Promise<{ secs: number; deliveries: number }> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const post = await b.admin
      .withKey(b.editorKey)
      .createPost({ message: `Bench national post ${i + 1} of ${count} ${Date.now()}`, target: { unit: 'root', scope: 'subtree' } });
    ids.push(post.id);
  }
  const t0 = process.hrtime.bigint();
  await Promise.all(ids.map((id) => b.admin.withKey(b.approverKey).approve(id)));
  const db = b.db;
  for (;;) {
    const rows = await db.selectFrom('posts').select(['status', 'total']).where('id', 'in', ids).execute();
    if (rows.every((p) => ['published', 'partially_failed', 'failed'].includes(p.status))) {
      return { secs: Number(process.hrtime.bigint() - t0) / 1e9, deliveries: rows.reduce((n, p) => n + p.total, 0) };
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Runs `run` on a fresh service process with WORKER_CONCURRENCY `concurrency`, and reports that process's
 * peak RSS (the kernel's VmHWM: API + workers, start-up included) and the CPU seconds it spent.
 */
async function measured<T>(
  bench: BenchStack,
  concurrency: number,
  run: () => Promise<T>,
): Promise<T & { peakRssMb: number; cpuSeconds: number; memory: string }> {
  await bench.restart(concurrency);
  const idle = bench.service.memory();
  const cpu0 = bench.service.cpuSeconds();
  const out = await run();
  const { peakRssMb } = bench.service.memory();
  const memory = `RSS ${idle.rssMb.toFixed(0)} MB after start, peak ${peakRssMb.toFixed(0)} MB (the service process: API + workers)`;
  return { ...out, peakRssMb, cpuSeconds: bench.service.cpuSeconds() - cpu0, memory };
}

/** The raw loop: our Graph client (axios, keep-alive), `concurrency` requests in flight, nothing else. */
async function rawClientLoop(
  url: string,
  version: string,
  pages: Array<{ pageId: string; token: string }>,
  concurrency: number,
): Promise<number> {
  const client = new GraphClient({ baseUrl: url, version, maxSockets: concurrency, timeoutMs: 30_000 });
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < pages.length) {
        const p = pages[next++]!;
        await client.createFeedPost(p.pageId, p.token, { message: `raw loop ${p.pageId}` });
      }
    }),
  );
  client.close();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** For reference only: bare node:http with a keep-alive agent (no client library at all). */
async function rawHttpLoop(
  url: string,
  version: string,
  pages: Array<{ pageId: string; token: string }>,
  concurrency: number,
): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const u = new URL(url);
  let next = 0;
  const post = (p: { pageId: string; token: string }) =>
    new Promise<void>((resolve, reject) => {
      const body = JSON.stringify({ message: `bare loop ${p.pageId}` });
      const req = http.request(
        {
          agent,
          host: u.hostname,
          port: u.port,
          method: 'POST',
          path: `/${version}/${p.pageId}/feed`,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${p.token}` },
        },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < pages.length) await post(pages[next++]!);
    }),
  );
  agent.destroy();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function main(): Promise<void> {
  // The zero-latency part runs at the configured concurrency (WORKER_CONCURRENCY, default of config/schema.ts);
  // each part starts a service process of its own at its concurrency.
  const concurrency = Number(readEnv().WORKER_CONCURRENCY ?? DEFAULT_WORKER_CONCURRENCY);
  const sweepList = sweepArg();
  // `--v8-defaults`: the service without the start scripts' heap settings (config/node-flags.ts), for comparison.
  const v8Defaults = process.argv.includes('--v8-defaults');
  // `--cpu-prof`: each service process writes a V8 CPU profile to bench/profiles/ when it stops.
  const bench = await startBenchStack(
    { WORKER_CONCURRENCY: String(concurrency) },
    { nodeFlags: benchNodeFlags(process.argv, v8Defaults ? [] : SERVICE_NODE_FLAGS) },
  );
  const { sim, control, pages } = bench;
  try {
    const N = pages.length;
    console.log(
      `Lan Tỏa fan-out benchmark: ${N} Pages, concurrency ${concurrency}, ${os.cpus().length} CPU(s), Node ${process.version}, store SQLite, the service (API + workers${v8Defaults ? ', on V8 heap defaults' : ''}) and the simulator each in a process of their own`,
    );

    console.log('\n[1] zero latency');
    const bare = await rawHttpLoop(sim.url, bench.config.graph.version, pages, concurrency);
    const raw = await rawClientLoop(sim.url, bench.config.graph.version, pages, concurrency);
    const f0 = await measured(bench, concurrency, () => fanout(bench, `Bench zero latency ${Date.now()}`));
    const row = (name: string, secs: number, extra = '', n = N) =>
      console.log(`  ${name.padEnd(44)} ${secs.toFixed(2).padStart(7)} s  ${(n / secs).toFixed(0).padStart(6)} /s  ${extra}`);
    row('raw bare node:http keep-alive loop (reference)', bare);
    row('raw Graph-client keep-alive loop', raw);
    row('fan-out (API → BullMQ → workers → Graph)', f0.secs, `published ${f0.published}/${f0.total}, failed ${f0.failed}`);
    console.log(`  memory during the fan-out (API + workers): ${f0.memory}`);
    let peakRssMb = f0.peakRssMb;

    if (process.argv.includes('--five')) {
      console.log('\n[1b] 5 national posts at once, zero latency');
      const many = await measured(bench, concurrency, () => fanoutMany(bench, 5));
      peakRssMb = Math.max(peakRssMb, many.peakRssMb);
      row('5 national posts at once', many.secs, `${many.deliveries} deliveries`, many.deliveries);
      console.log(`  5 posts / single post deliveries per s: ${(many.deliveries / many.secs / (N / f0.secs)).toFixed(2)} (goal ≥ 1)`);
      console.log(`  memory during the 5 fan-outs: ${many.memory}`);
    }

    let realistic: number | null = null;
    if (!process.argv.includes('--zero-only')) {
      console.log(
        `\n[2] realistic latency: log-normal median ${LOGNORMAL.medianMs} ms, sigma ${LOGNORMAL.sigma}, concurrency ${REALISTIC_CONCURRENCY}`,
      );
      await control('config', { latency: { kind: 'lognormal', ...LOGNORMAL } });
      const meanMs = MEAN_LATENCY_MS;
      const ideal = (N * meanMs) / 1000 / REALISTIC_CONCURRENCY;
      const f1 = await measured(bench, REALISTIC_CONCURRENCY, () => fanout(bench, `Bench realistic latency ${Date.now()}`));
      row('ideal N × mean latency ÷ concurrency', ideal, `(mean ${meanMs.toFixed(0)} ms)`);
      const tail = idealWithTail(N, REALISTIC_CONCURRENCY);
      row('ideal with the latency tail (simulated)', tail, `(realistic/ideal-with-tail ${(f1.secs / tail).toFixed(2)})`);
      row('fan-out', f1.secs, `published ${f1.published}/${f1.total}, failed ${f1.failed}`);
      console.log(`  memory during the fan-out (API + workers): ${f1.memory}`);
      realistic = f1.secs / ideal;
      peakRssMb = Math.max(peakRssMb, f1.peakRssMb);
    }
    if (sweepList) await sweep(bench, sweepList);
    console.log(
      `  the bench's own process (seeding, yardsticks, raw loops): max RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
    );
    // The last four lines (issue 12); fanout/raw stays last with its meaning unchanged.
    console.log(`\nfanout/bare ratio: ${(bare / f0.secs).toFixed(2)}`);
    console.log(
      `realistic/ideal at concurrency ${REALISTIC_CONCURRENCY}: ${realistic === null ? 'n/a (--zero-only)' : realistic.toFixed(2)}`,
    );
    console.log(`peak RSS MB: ${peakRssMb.toFixed(0)}`);
    console.log(`fanout/raw ratio: ${(raw / f0.secs).toFixed(2)}`);
  } finally {
    await bench.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
