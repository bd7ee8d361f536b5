import fs from 'node:fs';
import path from 'node:path';
import type { KeepJobs } from 'bullmq';
import { z } from 'zod';
import { EnvSchema } from '../../config/schema';
import { JOBS, QUEUES, type Amount, type JobName, type JobSpec, type QueueName } from './catalog';

/** The README's Queues table is generated from the catalog: `npm run docs:queues` rewrites it, a unit test compares. */
export const TABLE_BEGIN = '<!-- queues-table:begin (generated from src/queues/catalog.ts by `npm run docs:queues`) -->';
export const TABLE_END = '<!-- queues-table:end -->';

const DEFAULTS = EnvSchema.parse({});

function duration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}

function shown(a: Amount, unit: 'count' | 'ms'): string {
  const fmt = (n: number) => (unit === 'ms' ? duration(n) : String(n));
  if (typeof a === 'number') return fmt(a);
  return `\`${a.env}\` (${fmt(DEFAULTS[a.env] * (a.factor ?? 1))})`;
}

function keep(k: KeepJobs): string {
  const parts = [];
  if ('age' in k && k.age !== undefined) parts.push(duration(k.age * 1000));
  if ('count' in k && k.count !== undefined) parts.push(`last ${k.count}`);
  return parts.join(', ');
}

function payload(schema: z.ZodType): string {
  if (!(schema instanceof z.ZodObject)) return '?';
  const keys = Object.entries(schema.shape as Record<string, z.ZodType>).map(([k, v]) => (v.safeParse(undefined).success ? `${k}?` : k));
  return keys.length ? `\`{ ${keys.join(', ')} }\`` : '`{}`';
}

/** One row per job name: queue, job, payload, id, attempts, backoff, retention. */
export function renderQueuesTable(): string {
  const rows = (Object.entries(JOBS) as Array<[JobName, JobSpec<QueueName, z.ZodType>]>).map(([name, spec]) => {
    const retention = spec.retention ?? QUEUES[spec.queue].retention;
    const backoff = spec.backoff
      ? `${spec.backoff.type} ${shown(spec.backoff.delay, 'ms')}${spec.backoff.jitter ? `, jitter ${spec.backoff.jitter}` : ''}`
      : '—';
    const when = spec.scheduler ? `every ${shown(spec.scheduler.every, 'ms')}` : spec.lifo ? 'on demand, LIFO' : 'on demand';
    return `| \`${spec.queue}\` | \`${name}\` | ${payload(spec.schema)} | ${spec.id.includes('`') ? spec.id : `\`${spec.id}\``} | ${when} | ${shown(spec.attempts, 'count')} | ${backoff} | ${keep(retention.removeOnComplete)} | ${keep(retention.removeOnFail)} |`;
  });
  return [
    '| queue | job | payload | job id | runs | attempts | backoff | keeps completed | keeps failed |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** The README's generated section between the markers, or undefined when the markers are missing. */
export function readmeQueuesTable(readme: string): string | undefined {
  const start = readme.indexOf(TABLE_BEGIN);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) return undefined;
  return readme.slice(start + TABLE_BEGIN.length, end).trim();
}

/** `npm run docs:queues`: rewrites the README's table from the catalog. */
if (require.main === module) {
  const file = path.resolve(__dirname, '../../README.md');
  const readme = fs.readFileSync(file, 'utf8');
  if (readmeQueuesTable(readme) === undefined) throw new Error(`README.md has no ${TABLE_BEGIN} … ${TABLE_END} section`);
  const start = readme.indexOf(TABLE_BEGIN) + TABLE_BEGIN.length;
  fs.writeFileSync(file, `${readme.slice(0, start)}\n${renderQueuesTable()}\n${readme.slice(readme.indexOf(TABLE_END))}`);
}
