/**
 * `npm run bench:fanout` — a full 10,807-Page fan-out against the simulator (in its own process,
 * like a remote Graph API), measured side by side with a raw keep-alive HTTP loop at the same
 * concurrency, then again at realistic latency against the ideal N × mean latency ÷ concurrency.
 */
import http from 'node:http';
import os from 'node:os';
import { GraphClient } from '../src/graph/graph-client';
import { fanout, LOGNORMAL, startBenchStack } from './lib/bench-stack';

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
  const bench = await startBenchStack();
  const { stack, sim, control, pages } = bench;
  const concurrency = stack.config.queue.concurrency;
  try {
    const N = pages.length;
    console.log(
      `Lan Tỏa fan-out benchmark: ${N} Pages, concurrency ${concurrency}, ${os.cpus().length} CPU(s), Node ${process.version}, store SQLite, simulator in its own process`,
    );

    console.log('\n[1] zero latency');
    const bare = await rawHttpLoop(sim.url, stack.config.graph.version, pages, concurrency);
    const raw = await rawClientLoop(sim.url, stack.config.graph.version, pages, concurrency);
    const f0 = await fanout(bench, `Bench zero latency ${Date.now()}`);
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
    const f1 = await fanout(bench, `Bench realistic latency ${Date.now()}`);
    row('ideal N × mean latency ÷ concurrency', ideal, `(mean ${meanMs.toFixed(0)} ms)`);
    row('fan-out', f1.secs, `published ${f1.published}/${f1.total}, failed ${f1.failed}`);
    console.log(`  fan-out / ideal: ${(f1.secs / ideal).toFixed(3)} (goal ≤ 1.1)`);
    console.log(`  peak RSS of this process (API + workers): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
    console.log(`\nfanout/raw ratio: ${(raw / f0.secs).toFixed(2)}`);
  } finally {
    await bench.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
