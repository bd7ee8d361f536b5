/**
 * The reliability suite: a dedicated Redis, the simulator in its own process, then every run of
 * every scenario in turn, each on a fresh store and queue prefix with its own worker processes.
 */
import { formatTable, runOk, type RunResult } from './report';
import { PgCluster, RedisServer, SimulatorProcess } from './procs';
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
  // store-restart on PostgreSQL stops and starts the server: never somebody else's, so the suite runs its own cluster
  // (Debian's binaries, a free port, a temporary data directory), whatever server --pg names for the other scenarios.
  let pg: PgCluster | undefined;
  if (opts.pgUrl && (runs['store-restart'] ?? 0) > 0) {
    try {
      pg = await PgCluster.start();
    } catch (err) {
      await sim.stop();
      await redis.stop();
      throw new Error(
        `store-restart needs its own PostgreSQL cluster and could not start one: ${(err as Error).message}. Leave it out with --only kill,redis,faults.`,
        { cause: err },
      );
    }
    opts.log(
      `store-restart: on the suite's own PostgreSQL cluster at ${pg.url} (stopped with pg_ctl stop -m fast), not on ${opts.pgUrl.replace(/:[^:@/]*@/, '@')}`,
    );
  }
  const shared = { opts, redis, sim, ...(pg ? { pg } : {}) };
  const results: RunResult[] = [];
  try {
    for (const scenario of Object.keys(runs) as ScenarioId[]) {
      const n = runs[scenario] ?? 0;
      for (let run = 0; run < n; run++) {
        opts.log(`${SCENARIO_NAMES[scenario]}: run ${run + 1}/${n}…`);
        const r = await runScenario(shared, scenario, run);
        results.push(r);
        const verdict = runOk(r) ? 'ok' : 'FAILED';
        opts.log(
          `  ${verdict}: ${r.published}/${r.pages} published, failed ${JSON.stringify(r.failedByReason)}, dup ${r.duplicates}, lost ${r.lost}, unclassified ${r.unclassified}, unexpected ${r.unexpectedFailed}, count drift ${r.countDrift}, exits/500 ${r.processIssues}, ${r.seconds.toFixed(1)} s — ${r.chaos}`,
        );
        for (const n of r.notes) opts.log(`    ${n}`);
      }
    }
  } finally {
    await sim.stop();
    await redis.stop();
    await pg?.destroy();
  }
  return { results, ok: results.length > 0 && results.every(runOk), table: formatTable(results) };
}
