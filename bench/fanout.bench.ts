/**
 * `npm run bench:fanout` — a full 10,807-Page fan-out against the simulator (in its own process,
 * like a remote Graph API), measured side by side with a raw keep-alive HTTP loop at the same
 * concurrency, then again at realistic latency against the ideal N × mean latency ÷ concurrency.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, readEnv } from '../config';
import { GraphClient } from '../src/graph/graph-client';
import { createLogger } from '../src/logger';
import { probeRedis } from '../src/queues/redis';
import { seedOrganisation, startStack, UNITS_CSV_2025_03, type Stack } from '../dev/stack';
import { SimulatorProcess } from './reliability/procs';

const LOGNORMAL = { medianMs: 400, sigma: 0.5 };

async function fanout(
  stack: Stack,
  editorKey: string,
  approverKey: string,
  message: string,
): Promise<{ secs: number; published: number; failed: number; total: number }> {
  const post = await stack.admin.withKey(editorKey).createPost({ message, target: { unit: 'root', scope: 'subtree' } });
  const t0 = process.hrtime.bigint();
  await stack.admin.withKey(approverKey).approve(post.id);
  const db = stack.deps.store.db;
  for (;;) {
    const p = await db.selectFrom('posts').select(['status', 'total']).where('id', '=', post.id).executeTakeFirstOrThrow();
    if (['published', 'partially_failed', 'failed'].includes(p.status)) {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const rows = await db
        .selectFrom('deliveries')
        .select((eb) => ['status', eb.fn.countAll<number>().as('n')])
        .where('post_id', '=', post.id)
        .groupBy('status')
        .execute();
      const n = (s: string) => Number(rows.find((r) => r.status === s)?.n ?? 0);
      return { secs, published: n('published'), failed: n('failed'), total: p.total };
    }
    await new Promise((r) => setTimeout(r, 25));
  }
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
  const env = readEnv();
  const base = loadConfig(env);
  try {
    await probeRedis(base.redisUrl);
  } catch {
    console.error(`Redis is not reachable at ${base.redisUrl}: start one with \`redis-server --daemonize yes\`.`);
    process.exit(1);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-bench-'));
  const sim = await SimulatorProcess.start(7);
  const control = (route: string, body: unknown) => sim.post(`/${route}`, body);
  const prefix = `lantoa-bench-${crypto.randomBytes(3).toString('hex')}`;
  const stack = await startStack({
    env: { ...env, DATABASE_URL: `sqlite:${path.join(dir, 'bench.db')}`, QUEUE_PREFIX: prefix, GRAPH_API_URL: sim.url, LOG_LEVEL: 'warn' },
    log: createLogger('warn'),
  });
  const concurrency = stack.config.queue.concurrency;
  try {
    const { pages } = await seedOrganisation(stack, fs.readFileSync(UNITS_CSV_2025_03, 'utf8'), {
      seedSim: async (seeds) => void (await control('pages', { pages: seeds })),
    });
    const editor = (await stack.admin.createKey({ name: 'bench editor', role: 'editor', unit: 'root' })).key;
    const approver = (await stack.admin.createKey({ name: 'bench approver', role: 'approver', unit: 'root' })).key;
    const N = pages.length;
    console.log(
      `Lan Tỏa fan-out benchmark: ${N} Pages, concurrency ${concurrency}, ${os.cpus().length} CPU(s), Node ${process.version}, store SQLite, simulator in its own process`,
    );

    console.log('\n[1] zero latency');
    const bare = await rawHttpLoop(sim.url, stack.config.graph.version, pages, concurrency);
    const raw = await rawClientLoop(sim.url, stack.config.graph.version, pages, concurrency);
    const f0 = await fanout(stack, editor, approver, `Bench zero latency ${Date.now()}`);
    const row = (name: string, secs: number, extra = '') =>
      console.log(`  ${name.padEnd(44)} ${secs.toFixed(2).padStart(7)} s  ${(N / secs).toFixed(0).padStart(6)} /s  ${extra}`);
    row('raw bare node:http keep-alive loop (reference)', bare);
    row('raw Graph-client keep-alive loop', raw);
    row('fan-out (API → BullMQ → workers → Graph)', f0.secs, `published ${f0.published}/${f0.total}, failed ${f0.failed}`);

    if (process.argv.includes('--zero-only')) {
      console.log(`\nfanout/raw ratio: ${(raw / f0.secs).toFixed(2)}`);
      return;
    }
    console.log(`\n[2] realistic latency: log-normal median ${LOGNORMAL.medianMs} ms, sigma ${LOGNORMAL.sigma}`);
    await control('config', { latency: { kind: 'lognormal', ...LOGNORMAL } });
    const meanMs = LOGNORMAL.medianMs * Math.exp((LOGNORMAL.sigma * LOGNORMAL.sigma) / 2);
    const ideal = (N * meanMs) / 1000 / concurrency;
    const f1 = await fanout(stack, editor, approver, `Bench realistic latency ${Date.now()}`);
    row('ideal N × mean latency ÷ concurrency', ideal, `(mean ${meanMs.toFixed(0)} ms)`);
    row('fan-out', f1.secs, `published ${f1.published}/${f1.total}, failed ${f1.failed}`);
    console.log(`  fan-out / ideal: ${(f1.secs / ideal).toFixed(3)} (goal ≤ 1.1)`);
    console.log(`  peak RSS of this process (API + workers): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
    console.log(`\nfanout/raw ratio: ${(raw / f0.secs).toFixed(2)}`);
  } finally {
    await stack.close();
    await sim.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
