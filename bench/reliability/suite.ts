/**
 * The reliability suite: a dedicated Redis, the simulator in its own process, then every run of
 * every scenario in turn, each on a fresh store and queue prefix with its own worker processes.
 */
import { formatTable, runOk, type RunResult } from './report';
import { RedisServer, SimulatorProcess } from './procs';
import type { SuiteOptions } from './run-env';
import { runScenario, SCENARIO_NAMES, type ScenarioId } from './scenarios';

export type { SuiteOptions } from './run-env';

export interface SuiteResult {
  results: RunResult[];
  ok: boolean;
  table: string;
}

export async function runSuite(opts: SuiteOptions, runs: Partial<Record<ScenarioId, number>>): Promise<SuiteResult> {
  const redis = await RedisServer.start();
  const sim = await SimulatorProcess.start(opts.seed);
  const shared = { opts, redis, sim };
  const results: RunResult[] = [];
  try {
    for (const scenario of Object.keys(runs) as ScenarioId[]) {
      const n = runs[scenario] ?? 0;
      for (let run = 0; run < n; run++) {
        opts.log(`${SCENARIO_NAMES[scenario]}: run ${run + 1}/${n}…`);
        const r = await runScenario(shared, scenario, run);
        results.push(r);
        const verdict = runOk(r) ? 'ok' : 'FAILED';
        opts.log(`  ${verdict}: ${r.published}/${r.pages} published, failed ${JSON.stringify(r.failedByReason)}, dup ${r.duplicates}, lost ${r.lost}, unclassified ${r.unclassified}, unexpected ${r.unexpectedFailed}, ${r.seconds.toFixed(1)} s — ${r.chaos}`);
        for (const n of r.notes) opts.log(`    ${n}`);
      }
    }
  } finally {
    await sim.stop();
    await redis.stop();
  }
  return { results, ok: results.length > 0 && results.every(runOk), table: formatTable(results) };
}
