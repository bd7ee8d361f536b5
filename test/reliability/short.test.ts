import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSuite } from '../../bench/reliability/suite';
import { loadTestEnv } from '../../config/test-env';

/**
 * The short reliability run: Hà Nội (557 Pages), each scenario once, with the same pieces as
 * `npm run reliability` (own redis-server, simulator process, worker processes on a shared store).
 * Asserts outcomes only (no duplicate, nothing lost, every failure classified), never timings.
 */
const pgUrl = loadTestEnv().testDatabaseUrl;

// One dialect per `npm test`: PostgreSQL when configured (CI), else SQLite. The run is about three
// minutes a dialect and CI has twenty in all; `npm run reliability` runs both dialects in full, and
// the store-level behaviour of each (outages, busy, fencing, migrations) has its own tests on both.
describe.each([pgUrl ? { name: 'postgres' } : { name: 'sqlite' }])('short reliability run on $name', ({ name }) => {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), `lantoa-reliability-short-${name}-`));
  let keep = false;
  afterAll(() => {
    if (!keep) fs.rmSync(logDir, { recursive: true, force: true });
  });

  it('kill -9 of workers, Redis restarted empty, fault mix with 2% revoked, a worker frozen past its lock, store restarted: no duplicate, nothing lost, no process exited', async () => {
    const seed = loadTestEnv().reliabilitySeed;
    const lines: string[] = [];
    const suite = await runSuite(
      {
        seed,
        scope: 'short',
        ...(name === 'postgres' ? { pgUrl: pgUrl! } : {}),
        workers: 2,
        // PostgreSQL: each process pools up to concurrency + 5 connections, on a server other tests share.
        concurrency: name === 'postgres' ? 10 : 20,
        lockMs: 3_000,
        readbackDelayMs: 3_000,
        graphTimeoutMs: 2_000,
        backoffMs: 1_000,
        latencyMs: 20,
        readLagMs: 1_500,
        deadlineMs: 150_000,
        logDir,
        log: (l) => lines.push(l),
      },
      { kill: 1, redis: 1, faults: 1, freeze: 1, 'store-restart': 1 },
    );
    keep = !suite.ok;
    // On failure the message carries the table, the per-run notes and where the worker logs are.
    const report = `${suite.table}\n${lines.join('\n')}\nlogs: ${logDir}`;
    expect({ ok: suite.ok, report }).toEqual({ ok: true, report });
    for (const r of suite.results) {
      expect(r.pages).toBe(557);
      expect({
        run: r.label,
        duplicates: r.duplicates,
        lost: r.lost,
        unclassified: r.unclassified,
        unexpectedFailed: r.unexpectedFailed,
        countDrift: r.countDrift,
        processIssues: r.processIssues,
      }).toEqual({ run: r.label, duplicates: 0, lost: 0, unclassified: 0, unexpectedFailed: 0, countDrift: 0, processIssues: 0 });
    }
    const faults = suite.results.find((r) => r.label.startsWith('faults'))!;
    // 2 % of 557 Pages revoked (12): each fails with its token reason, everything else is published.
    expect(faults.published).toBe(557 - 12);
    expect(Object.values(faults.failedByReason).reduce((a, b) => a + b, 0)).toBe(12);
    // The store went away mid fan-out and every process (start:api, the workers) answered or waited through it.
    const store = suite.results.find((r) => r.label.startsWith('store-restart'))!;
    expect(store.published).toBe(557);
    if (name === 'postgres') expect(store.chaos).toMatch(/post 503\+Retry-After/);
  }, 420_000);
});
