/**
 * The scenarios (a–c by default, d opt-in). Every random choice (when to kill, whom, which Pages lose their token, when
 * the incident starts) is drawn from a PRNG seeded by the suite seed, the scenario and the run number.
 */
import path from 'node:path';
import axios from 'axios';
import BetterSqlite3 from 'better-sqlite3';
import { QueueEvents } from 'bullmq';
import { QUEUE } from '../../src/queues/catalog';
import { createRedis } from '../../src/queues/redis';
import { mulberry32, type Rng } from '../../src/simulator/prng';
import type { FaultRule } from '../../src/simulator/types';
import { runOk, type RunResult } from './report';
import { ApiProcess, sleep } from './procs';
import { RunEnv, type Shared } from './run-env';

export type ScenarioId = 'kill' | 'redis' | 'faults' | 'freeze' | 'store-restart';

export const SCENARIO_NAMES: Record<ScenarioId, string> = {
  kill: 'a. kill -9 workers',
  redis: 'b. Redis restarted empty',
  faults: 'c. fault mix + 2% revoked',
  freeze: 'd. worker frozen > lock',
  'store-restart': 'e. store restarted',
};

export function runRng(seed: number, scenario: ScenarioId, run: number): Rng {
  let h = seed >>> 0;
  for (const ch of `${scenario}#${run}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x9e3779b1) >>> 0;
  return mulberry32(h);
}

const pct = (p: { done: number; total: number }) => (p.total ? Math.round((100 * p.done) / p.total) : 0);
const secs = (env: RunEnv) => (env.elapsed() / 1000).toFixed(1);

/** Runs one scenario run end to end: set up, chaos, wait, measure, clean up (files kept when the run failed). */
export async function runScenario(shared: Shared, scenario: ScenarioId, run: number): Promise<RunResult> {
  const rng = runRng(shared.opts.seed, scenario, run);
  const label = `${scenario}-${run + 1}`;
  const simSeed = Math.floor(rng() * 2 ** 31);
  // store-restart on PostgreSQL runs on the suite's own cluster, which it may stop (see suite.ts).
  const env = await RunEnv.create(
    shared,
    label,
    simSeed,
    shared.opts.workers,
    scenario === 'store-restart' && shared.pg ? { pgUrl: shared.pg.url } : {},
  );
  let result: RunResult | undefined;
  try {
    if (scenario === 'kill') result = await killWorkers(env, rng, run);
    else if (scenario === 'redis') result = await restartRedis(env, rng, run);
    else if (scenario === 'faults') result = await faultMix(env, rng);
    else if (scenario === 'store-restart') result = await restartStore(env, rng, run);
    else result = await freezeWorker(env, rng);
    return result;
  } finally {
    await env.dispose(!result || !runOk(result));
  }
}

/** (a) SIGKILL 1–3 times a random worker process (sometimes two at once) at random moments, restart after 0.2–3 s. */
async function killWorkers(env: RunEnv, rng: Rng, run: number): Promise<RunResult> {
  if (run % 4 === 2) return chainedKill(env, rng);
  await env.pool.start();
  await env.publish();
  const kills = 1 + Math.floor(rng() * 3);
  // Roughly every third run kills during the fan-out itself (while the fan-out job enqueues the deliveries).
  const early = run % 3 === 0;
  const moments = Array.from({ length: kills }, (_, i) => (i === 0 && early ? -1 : 0.02 + rng() * 0.88)).sort((a, b) => a - b);
  const events: string[] = [];
  const restarts: Array<Promise<void>> = [];
  for (const at of moments) {
    if (at < 0) await sleep(Math.floor(rng() * 1_000));
    else await env.waitFraction(at);
    const p = await env.progress();
    if (p.total > 0 && p.done === p.total) break;
    const alive = env.pool.alive();
    if (!alive.length) continue;
    const victims = [alive[Math.floor(rng() * alive.length)]!];
    if (alive.length > 1 && rng() < 0.25) victims.push(alive.filter((v) => v !== victims[0])[Math.floor(rng() * (alive.length - 1))]!);
    for (const v of victims) await env.pool.kill(v);
    const downMs = 200 + Math.floor(rng() * 2_800);
    events.push(`w${victims.join('+w')}@${secs(env)}s/${pct(p)}%`);
    restarts.push(sleep(downMs).then(() => victims.forEach((v) => env.pool.restart(v))));
  }
  await Promise.all(restarts);
  await env.waitDone();
  return env.measure(SCENARIO_NAMES.kill, `${env.pool.size} workers; kill -9 ${events.join(' ') || '(finished before the first kill)'}`);
}

/**
 * (a, every 4th run) A crash right after a recovery: kill one worker; as soon as the stalled check hands
 * its jobs to the survivors, kill every survivor too, so those jobs stall a second time (BullMQ's
 * maxStalledCount is 1). Slower Graph answers (median 200 ms) keep the recovered jobs in flight long enough.
 */
async function chainedKill(env: RunEnv, rng: Rng): Promise<RunResult> {
  await env.shared.sim.post('/config', { latency: { kind: 'lognormal', medianMs: 200, sigma: 0.5 } });
  await env.pool.start();
  const connection = createRedis(env.shared.redis.url, 'worker');
  connection.on('error', () => undefined);
  const events = new QueueEvents(QUEUE.deliveries, { connection, prefix: env.stack.config.queue.prefix });
  await events.waitUntilReady();
  const stalled = new Promise<void>((resolve) => events.once('stalled', () => resolve()));
  const log: string[] = [];
  try {
    await env.publish();
    let p = await env.waitFraction(0.1 + rng() * 0.4);
    const first = env.pool.alive()[Math.floor(rng() * env.pool.size)]!;
    await env.pool.kill(first);
    log.push(`w${first}@${secs(env)}s/${pct(p)}%`);
    await Promise.race([stalled, sleep(4 * env.shared.opts.lockMs)]);
    await sleep(Math.floor(rng() * 50));
    p = await env.progress();
    const survivors = env.pool.alive();
    for (const v of survivors) await env.pool.kill(v);
    log.push(`then, when its jobs were recovered, w${survivors.join('+w')}@${secs(env)}s/${pct(p)}%`);
    await sleep(500 + Math.floor(rng() * 1_500));
    for (let i = 0; i < env.pool.size; i++) env.pool.restart(i);
  } finally {
    await events.close();
    connection.disconnect();
  }
  await env.waitDone();
  return env.measure(SCENARIO_NAMES.kill, `${env.pool.size} workers, Graph median 200 ms; kill -9 ${log.join(' ')}`);
}

/** (b) kill -9 the (persistence-less) Redis mid fan-out and start a new, empty one on the same port. */
async function restartRedis(env: RunEnv, rng: Rng, run: number): Promise<RunResult> {
  await env.pool.start();
  await env.publish();
  // Even runs: while the fan-out job is still enqueuing; odd runs: somewhere in the middle of the sends.
  if (run % 2 === 0) await sleep(Math.floor(rng() * 800));
  else await env.waitFraction(0.1 + rng() * 0.5);
  const before = await env.progress();
  const downMs = Math.floor(rng() * 2_000);
  await env.shared.redis.restartEmpty(downMs);
  const at = env.elapsed();
  const p = await env.waitDone();
  const recovered = p.done === p.total ? `all final ${((env.elapsed() - at) / 1000).toFixed(1)} s after the restart` : 'not recovered';
  return env.measure(
    SCENARIO_NAMES.redis,
    `${env.pool.size} workers; Redis killed at ${(at / 1000).toFixed(1)}s/${pct(before)}%, down ${downMs} ms, restarted empty; ${recovered}`,
  );
}

/** Rules of the fault mix: ≥ 10 % of writes fail one way or another, plus read faults and listing lag. */
export function faultRules(graphTimeoutMs: number, readLagMs: number): FaultRule[] {
  return [
    // Before processing (nothing created): 500 code 2 / code 1, HTML 502, dropped connection, answer past the client timeout.
    { kind: 'error', endpoint: 'feed', code: 2, rate: 0.04 },
    { kind: 'error', endpoint: 'feed', code: 1, rate: 0.01 },
    { kind: 'html-error', endpoint: 'feed', status: 502, rate: 0.015 },
    { kind: 'drop-before-process', endpoint: 'feed', rate: 0.02 },
    // 'delay' is applied after the post is created: the client times out, the post exists.
    { kind: 'delay', endpoint: 'feed', delayMs: graphTimeoutMs + 1_000, rate: 0.015 },
    // After processing (post created, answer lost or wrong).
    { kind: 'drop-after-process', endpoint: 'feed', rate: 0.02 },
    { kind: 'error-after-process', endpoint: 'feed', code: 2, rate: 0.02 },
    // Read-backs: sometimes failing, always subject to read-after-create lag.
    { kind: 'error', endpoint: 'list', code: 2, rate: 0.03 },
    { kind: 'drop-before-process', endpoint: 'list', rate: 0.01 },
    { kind: 'read-lag', endpoint: 'list', delayMs: readLagMs },
  ];
}

/** (c) the fault mix above, 2 % of the Pages' tokens revoked beforehand, and a write incident window mid fan-out. */
async function faultMix(env: RunEnv, rng: Rng): Promise<RunResult> {
  const { sim, opts } = env.shared;
  const units = [...env.pageOf.keys()];
  const revokedCount = Math.ceil(units.length * 0.02);
  for (let i = 0; i < revokedCount; i++) {
    const j = i + Math.floor(rng() * (units.length - i));
    [units[i], units[j]] = [units[j]!, units[i]!];
  }
  const revoked = new Set(units.slice(0, revokedCount));
  const subcodes = [460, 463, 492] as const;
  let k = 0;
  for (const unit of revoked) await sim.post('/tokens/invalidate', { pageId: env.pageOf.get(unit), subcode: subcodes[k++ % 3] });
  await sim.post('/faults', { rules: faultRules(opts.graphTimeoutMs, opts.readLagMs) });
  await env.pool.start();
  const before = await sim.stats();
  await env.publish();
  const p = await env.waitFraction(0.2 + rng() * 0.4);
  const incidentMs = opts.scope === 'full' ? 4_000 : 1_500;
  await sim.post('/faults', { rules: [{ kind: 'incident', durationMs: incidentMs }] });
  const incidentAt = `${secs(env)}s/${pct(p)}%`;
  await env.waitDone();
  const after = await sim.stats();
  const feed = (after.byEndpoint['feed'] ?? 0) - (before.byEndpoint['feed'] ?? 0);
  const list = (after.byEndpoint['list'] ?? 0) - (before.byEndpoint['list'] ?? 0);
  const result = await env.measure(
    SCENARIO_NAMES.faults,
    `${env.pool.size} workers; ${revokedCount} revoked; ${feed} writes for ${env.pageOf.size} Pages, ${list} read-backs; incident ${incidentMs / 1000} s at ${incidentAt}; listing lag ${opts.readLagMs} ms`,
    revoked,
  );
  const wrongReason = Object.keys(result.failedByReason).filter(
    (r) => !['password_changed', 'token_expired', 'role_removed', 'needs_reauth'].includes(r),
  );
  if (wrongReason.length) result.notes.push(`failure reasons other than the revoked tokens': ${wrongReason.join(', ')}`);
  return result;
}

/**
 * (d, opt-in) SIGSTOP one worker process mid fan-out for longer than its job lock, then SIGCONT it: the
 * stalled check hands its jobs to the other workers while the frozen one still holds them, and after
 * SIGCONT it carries on with whatever it was doing (a long GC pause, a VM steal, a blocked event loop).
 */
async function freezeWorker(env: RunEnv, rng: Rng): Promise<RunResult> {
  await env.pool.start();
  await env.publish();
  const events: string[] = [];
  const freezes = 1 + Math.floor(rng() * 2);
  for (let k = 0; k < freezes; k++) {
    const p = await env.waitFraction(0.05 + rng() * 0.6);
    if (p.total > 0 && p.done === p.total) break;
    const alive = env.pool.alive();
    const v = alive[Math.floor(rng() * alive.length)]!;
    const ms = Math.floor(env.shared.opts.lockMs * (2.5 + rng()));
    env.pool.freeze(v, true);
    events.push(`w${v}@${secs(env)}s/${pct(p)}% for ${(ms / 1000).toFixed(1)} s`);
    await sleep(ms);
    env.pool.freeze(v, false);
  }
  await env.waitDone();
  return env.measure(SCENARIO_NAMES.freeze, `${env.pool.size} workers; SIGSTOP ${events.join(', ')}, then SIGCONT`);
}

/**
 * (e) The store goes away mid fan-out and comes back, twice (8 s, then 60 s; the short run: once).
 * PostgreSQL: the suite's own cluster is stopped with `pg_ctl stop -m fast` (every session gets
 * "terminating connection due to administrator command") and started again. SQLite: another
 * connection holds the write lock (`BEGIN IMMEDIATE`) for that long, so writers get SQLITE_BUSY.
 * Even runs start the first outage while the fan-out job is still writing rows and enqueuing.
 * Besides no duplicate and nothing lost, every process must survive: the `start:api` process (asked
 * every 500 ms during the outage: 503 with Retry-After expected on PostgreSQL, never a 500) and the workers.
 */
async function restartStore(env: RunEnv, rng: Rng, run: number): Promise<RunResult> {
  const { opts, pg } = env.shared;
  const api = await ApiProcess.start(env.processEnv, path.join(opts.logDir, `${env.label}-api.log`));
  const answers: Record<string, number> = {};
  let bad = 0;
  const badExamples: string[] = [];
  const ask = async (url: string, headers: Record<string, string> = {}) => {
    const res = await axios
      .get(`${api.url}${url}`, { headers, timeout: 10_000, validateStatus: () => true })
      .catch((e: Error) => ({ status: 0, headers: {} as Record<string, unknown>, data: e.message }));
    const key = `${url.startsWith('/readyz') ? 'readyz' : 'post'} ${res.status}${res.status === 503 && res.headers['retry-after'] ? '+Retry-After' : ''}`;
    answers[key] = (answers[key] ?? 0) + 1;
    if (res.status >= 500 && res.status !== 503) {
      bad++;
      if (badExamples.length < 3) badExamples.push(`${url} → ${res.status} ${JSON.stringify(res.data).slice(0, 200)}`);
    }
  };
  // SQLite, short run: 12 s, past the 10 s a writer waits for the lock, so jobs really meet SQLITE_BUSY.
  const outages = opts.scope === 'short' ? [pg ? 8_000 : 12_000] : [8_000, 60_000];
  const events: string[] = [];
  let backAt = 0;
  try {
    await env.pool.start();
    await env.publish();
    for (let k = 0; k < outages.length; k++) {
      if (k === 0 && run % 2 === 0) await sleep(Math.floor(rng() * 1_500));
      else {
        const now = await env.waitFraction(0);
        const at = now.total ? now.done / now.total : 0;
        await env.waitFraction(Math.min(0.95, at + 0.05 + rng() * 0.3));
      }
      const p = await env.progress().catch(() => undefined);
      if (p && p.total > 0 && p.done === p.total) {
        events.push(`(finished before outage ${k + 1})`);
        break;
      }
      const downMs = outages[k]!;
      const started = env.elapsed();
      let holder: BetterSqlite3.Database | undefined;
      if (pg) await pg.stopServer();
      else {
        holder = new BetterSqlite3(env.db.url.slice('sqlite:'.length), { timeout: 30_000 });
        holder.exec('begin immediate');
      }
      const until = Date.now() + downMs;
      while (Date.now() < until) {
        await Promise.all([ask('/readyz'), ask(`/v1/posts/${env.postId}`, { authorization: `Bearer ${env.editorKey}` })]);
        await sleep(Math.min(500, Math.max(0, until - Date.now())));
      }
      if (pg) await pg.startServer();
      else {
        holder!.exec('commit');
        holder!.close();
      }
      backAt = env.elapsed();
      events.push(
        `${downMs / 1000} s at ${(started / 1000).toFixed(1)}s/${p ? pct(p) : '?'}%${p && p.total === 0 ? ' (fan-out not written yet)' : ''}`,
      );
    }
    const done = await env.waitDone();
    const recovered =
      done.total > 0 && done.done === done.total
        ? `all final ${((env.elapsed() - backAt) / 1000).toFixed(1)} s after the store came back`
        : 'not finished';
    const apiAlive = api.alive;
    const result = await env.measure(
      SCENARIO_NAMES['store-restart'],
      `${env.pool.size} workers + start:api; ${pg ? 'PostgreSQL pg_ctl stop -m fast' : 'SQLite write lock held'} ${events.join(', ')}; ${recovered}; API answers during outages: ${Object.entries(
        answers,
      )
        .map(([k, v]) => `${k} ×${v}`)
        .join(', ')}`,
    );
    if (!apiAlive) {
      result.processIssues++;
      result.notes.push('the start:api process exited during the run (see its log)');
    }
    if (bad) {
      result.processIssues += bad;
      result.notes.push(`${bad} API answers were 5xx other than 503: ${badExamples.join('; ')}`);
    }
    if (pg && !Object.keys(answers).some((k) => k.startsWith('post 503+Retry-After'))) {
      result.notes.push('no 503 with Retry-After seen from the API during the outage');
    }
    return result;
  } finally {
    await api.stop();
  }
}
