/**
 * The scenarios (a–c by default, d opt-in). Every random choice (when to kill, whom, which Pages lose their token, when
 * the incident starts) is drawn from a PRNG seeded by the suite seed, the scenario and the run number.
 */
import { QueueEvents } from 'bullmq';
import { QUEUE } from '../../src/queues/catalog';
import { createRedis } from '../../src/queues/redis';
import { mulberry32, type Rng } from '../../src/simulator/prng';
import type { FaultRule } from '../../src/simulator/types';
import { runOk, type RunResult } from './report';
import { sleep } from './procs';
import { RunEnv, type Shared } from './run-env';

export type ScenarioId = 'kill' | 'redis' | 'faults' | 'freeze';

export const SCENARIO_NAMES: Record<ScenarioId, string> = {
  kill: 'a. kill -9 workers',
  redis: 'b. Redis restarted empty',
  faults: 'c. fault mix + 2% revoked',
  freeze: 'd. worker frozen > lock',
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
  const env = await RunEnv.create(shared, label, Math.floor(rng() * 2 ** 31));
  let result: RunResult | undefined;
  try {
    if (scenario === 'kill') result = await killWorkers(env, rng, run);
    else if (scenario === 'redis') result = await restartRedis(env, rng, run);
    else if (scenario === 'faults') result = await faultMix(env, rng);
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
  return env.measure(SCENARIO_NAMES.redis, `${env.pool.size} workers; Redis killed at ${(at / 1000).toFixed(1)}s/${pct(before)}%, down ${downMs} ms, restarted empty; ${recovered}`);
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
  const wrongReason = Object.keys(result.failedByReason).filter((r) => !['password_changed', 'token_expired', 'role_removed', 'needs_reauth'].includes(r));
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
