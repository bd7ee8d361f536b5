/**
 * `npm run reliability` — breaks things on purpose during national fan-outs and checks that every
 * targeted Page ends with exactly one visible post, or a failed delivery with a classified reason.
 *
 *   npm run reliability                         # full tree: 20 kill -9 runs, 2 Redis restarts, 1 fault mix, 5 freezes, 2 store restarts (SQLite file)
 *   npm run reliability -- --seed 1234          # replay the same random choices
 *   npm run reliability -- --pg                 # PostgreSQL (postgres://postgres@127.0.0.1:5432/postgres, or --pg <admin url>)
 *   npm run reliability -- --short              # Hà Nội only (557 Pages), each scenario once
 *   npm run reliability -- --only kill --runs 5 # a subset
 *   npm run reliability -- --pg= --only store-restart --runs 4  # PostgreSQL stopped mid fan-out (the suite's own cluster)
 *
 * Exits 1 on any duplicate, lost delivery, failed delivery without a classified reason or unexpected failure.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_WORKER_CONCURRENCY } from '../../config/schema';
import { runSuite } from './suite';
import type { ScenarioId } from './scenarios';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      short: { type: 'boolean', default: false },
      pg: { type: 'string' },
      only: { type: 'string' },
      runs: { type: 'string' },
      'redis-runs': { type: 'string' },
      'fault-runs': { type: 'string' },
      'store-runs': { type: 'string' },
      workers: { type: 'string', default: '3' },
      concurrency: { type: 'string' },
      'read-lag-ms': { type: 'string', default: '1500' },
      'latency-ms': { type: 'string', default: '20' },
      'readback-delay-ms': { type: 'string', default: '3000' },
    },
    strict: true,
  });
  // `--pg` alone means the local server; parseArgs needs a value, so accept `--pg=` / `--pg default`.
  const pgArg = values.pg;
  const pgUrl =
    pgArg === undefined ? undefined : pgArg === '' || pgArg === 'default' ? 'postgres://postgres@127.0.0.1:5432/postgres' : pgArg;
  const seed = values.seed !== undefined ? Number(values.seed) : crypto.randomBytes(4).readUInt32BE(0);
  if (!Number.isInteger(seed)) throw new TypeError('--seed must be an integer');
  const short = values.short === true;
  const only = new Set((values.only ?? 'kill,redis,faults,freeze,store-restart').split(',').map((s) => s.trim()) as ScenarioId[]);
  const count = (v: string | undefined, def: number) => (v === undefined ? def : Number(v));
  const runs: Record<ScenarioId, number> = {
    kill: only.has('kill') ? count(values.runs, short ? 1 : 20) : 0,
    redis: only.has('redis') ? count(values['redis-runs'], short ? 1 : 2) : 0,
    faults: only.has('faults') ? count(values['fault-runs'], 1) : 0,
    // Fenced claims: a worker frozen past its lock and lease never sends after another took over.
    freeze: only.has('freeze') ? count(values.runs, short ? 1 : 5) : 0,
    // `--store-runs`, or `--runs` when it is the only scenario chosen.
    'store-restart': only.has('store-restart')
      ? count(values['store-runs'] ?? (only.size === 1 ? values.runs : undefined), short ? 1 : 2)
      : 0,
  };
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), `lantoa-reliability-${seed}-`));
  const opts = {
    seed,
    scope: short ? ('short' as const) : ('full' as const),
    ...(pgUrl ? { pgUrl } : {}),
    workers: Number(values.workers),
    // The service's default (WORKER_CONCURRENCY); the short run (in npm test) keeps 20 for CI's time. On PostgreSQL each
    // process pools PG_POOL_MAX connections (run-env.ts): 3 workers + the API stay under max_connections (100).
    concurrency: Number(values.concurrency ?? (short ? 20 : DEFAULT_WORKER_CONCURRENCY)),
    lockMs: short ? 3_000 : 5_000,
    readbackDelayMs: Number(values['readback-delay-ms']),
    graphTimeoutMs: 2_000,
    backoffMs: 1_000,
    latencyMs: Number(values['latency-ms']),
    readLagMs: Number(values['read-lag-ms']),
    deadlineMs: short ? 150_000 : 600_000,
    logDir,
    log: (line: string) => console.log(line),
  };
  console.log(
    `Lan Tỏa reliability suite — seed ${seed} (replay with --seed ${seed}); ${short ? 'short: Hà Nội, 557 Pages' : 'full tree, 10,807 Pages'}; store ${pgUrl ? 'PostgreSQL' : 'SQLite file (WAL, shared by the worker processes)'}; ` +
      `${opts.workers} worker processes × concurrency ${opts.concurrency}; WORKER_LOCK_MS ${opts.lockMs}, READBACK_DELAY_MS ${opts.readbackDelayMs} (listing lag ${opts.readLagMs} ms), GRAPH_TIMEOUT_MS ${opts.graphTimeoutMs}, DELIVERY_BACKOFF_MS ${opts.backoffMs}; ` +
      `simulator latency log-normal median ${opts.latencyMs} ms; logs in ${logDir}`,
  );
  const started = Date.now();
  const suite = await runSuite(opts, runs);
  console.log(`\n${suite.table}\n`);
  console.log(
    `${suite.ok ? 'PASS' : 'FAIL'}: ${suite.results.length} runs in ${((Date.now() - started) / 1000).toFixed(0)} s, seed ${seed}. Worker logs (and the stores of failed runs): ${logDir}`,
  );
  process.exit(suite.ok ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
