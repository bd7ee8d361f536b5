/**
 * `npm run bench:reorganise` — the real 2025-03 → 2025-07 reorganisation (10,807 linked Pages) through
 * `POST /v1/units/reorganise`: dry run, apply, and the same apply again, on a fresh SQLite file per
 * run (and on PostgreSQL too when TEST_DATABASE_URL names a server). Prints each
 * run and the medians; the target is an apply under 10 s on SQLite.
 *
 *   npm run bench:reorganise -- [--runs 3]
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { readEnv } from '../config';
import { loadTestEnv } from '../config/test-env';
import { createLogger } from '../src/logger';
import { MERGES_CSV_2025_07, seedOrganisation, startStack, UNITS_CSV_2025_03, UNITS_CSV_2025_07 } from '../dev/stack';
import { dropKeysUnder } from '../dev/demo/redis-keys';

const OLD = fs.readFileSync(UNITS_CSV_2025_03, 'utf8');
const NEW = fs.readFileSync(UNITS_CSV_2025_07, 'utf8');
const MERGES = fs.readFileSync(MERGES_CSV_2025_07, 'utf8');

interface Run {
  dryMs: number;
  applyMs: number;
  againMs: number;
}

async function withDatabase<T>(kind: 'sqlite' | 'postgres', adminUrl: string | undefined, fn: (url: string) => Promise<T>): Promise<T> {
  if (kind === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-reorg-bench-'));
    try {
      return await fn(`sqlite:${path.join(dir, 'bench.db')}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const name = `lantoa_bench_${crypto.randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl!);
  url.pathname = `/${name}`;
  try {
    return await fn(url.toString());
  } finally {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`drop database if exists ${name} with (force)`);
    await c.end();
  }
}

async function once(url: string): Promise<Run> {
  const env = readEnv();
  const stack = await startStack({
    env: { ...env, DATABASE_URL: url, QUEUE_PREFIX: `lantoa-reorg-bench-${crypto.randomBytes(3).toString('hex')}`, LOG_LEVEL: 'warn' },
    workers: false,
    log: createLogger('warn'),
  });
  try {
    await seedOrganisation(stack, OLD);
    const call = async (apply: boolean) => {
      const t0 = process.hrtime.bigint();
      const res = await stack.app.inject({
        method: 'POST',
        url: '/v1/units/reorganise',
        headers: { authorization: `Bearer ${stack.adminKey}` },
        payload: { units: NEW, merges: MERGES, apply },
      });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (res.statusCode !== 200) throw new Error(`reorganise answered ${res.statusCode}: ${res.body.slice(0, 300)}`);
      return { ms, body: res.json() as { units: Record<string, number>; pages: { carried: number; retired: number } } };
    };
    const dry = await call(false);
    const apply = await call(true);
    const again = await call(true);
    if (again.body.units.kept !== 3_356) throw new Error(`second apply kept ${again.body.units.kept} units, expected 3,356`);
    console.log(
      `    units ${JSON.stringify(apply.body.units)}, Pages carried ${apply.body.pages.carried} / retired ${apply.body.pages.retired}`,
    );
    return { dryMs: dry.ms, applyMs: apply.ms, againMs: again.ms };
  } finally {
    await stack.close();
    await dropKeysUnder(stack.config.redisUrl, stack.config.queue.prefix);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } }, strict: true });
  const runs = Math.max(1, Number(values.runs));
  const pgUrl = loadTestEnv().testDatabaseUrl;
  console.log(
    `Lan Tỏa reorganisation benchmark: 2025-03 (10,807 Pages) → 2025-07, ${runs} run(s) per store, ${os.cpus().length} CPU(s), Node ${process.version}`,
  );
  const dialects: Array<'sqlite' | 'postgres'> = pgUrl ? ['sqlite', 'postgres'] : ['sqlite'];
  for (const kind of dialects) {
    console.log(`\n[${kind}]`);
    const all: Run[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await withDatabase(kind, pgUrl, once);
      console.log(
        `  run ${i + 1}: dry run ${r.dryMs.toFixed(0)} ms, apply ${r.applyMs.toFixed(0)} ms, apply again ${r.againMs.toFixed(0)} ms`,
      );
      all.push(r);
    }
    const m = (k: keyof Run) => median(all.map((r) => r[k]));
    console.log(
      `  median: dry run ${m('dryMs').toFixed(0)} ms, apply ${m('applyMs').toFixed(0)} ms, apply again ${m('againMs').toFixed(0)} ms` +
        (kind === 'sqlite' ? `; apply / 10 s target = ${(m('applyMs') / 10_000).toFixed(3)}` : ''),
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
