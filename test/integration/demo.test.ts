import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { DEMO_PREFIX, dropKeysUnder } from '../../dev/demo/redis-keys';
import { freePort, ROOT, spawnNode, TSX } from '../helpers/processes';
import { REDIS_URL, uniquePrefix } from '../helpers/redis';

async function keysUnder(r: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    out.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

describe('npm run demo -- --exit (a process, on the sources like npm run demo)', () => {
  const r = new Redis(REDIS_URL);
  // Keys the demo must leave alone: another prefix that starts like the demo's, and a test's.
  const others = [`${DEMO_PREFIX}-not-the-demo-${process.pid}:keep`, `${uniquePrefix('demo-neighbour')}:keep`];
  afterAll(async () => {
    await r.del(...others);
    r.disconnect();
  });

  it("removes a crashed run's leftovers at start and every key of its fixed prefix on exit, and prints no URL of the stopped API", async () => {
    await r.set(`${DEMO_PREFIX}:bull:fanout:left-by-a-crash`, 'x');
    for (const k of others) await r.set(k, 'keep');
    const port = await freePort();
    const demo = spawnNode([TSX, path.join(ROOT, 'dev/demo/main.ts'), '--exit', '--latency-ms', '0', '--port', String(port)], {
      REDIS_URL,
      LOG_LEVEL: 'warn',
    });
    const code = await demo.exited;
    const { out, err } = demo.output();
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toMatch(/Removed 1 Redis keys under lantoa-demo: left by an earlier demo run/);
    expect(out).toMatch(/Result: published\. published 3356, failed 0/);
    expect(out).not.toMatch(/https?:\/\//);
    const removed = Number(/removed the demo's (\d+) Redis keys \(prefix lantoa-demo\)/.exec(out)?.[1]);
    expect(removed).toBeGreaterThan(1000); // it did use the prefix: queues, jobs, pacing and rate-limit keys
    expect(await keysUnder(r, DEMO_PREFIX)).toEqual([]);
    for (const k of others) expect(await r.get(k)).toBe('keep');
    expect(fs.existsSync(path.join(ROOT, 'data/demo-keys.json'))).toBe(false);
  }, 300_000);

  it('refuses to clean a prefix that is a pattern', async () => {
    await expect(dropKeysUnder(REDIS_URL, '*')).rejects.toThrow('refusing');
    await expect(dropKeysUnder(REDIS_URL, 'lantoa-demo:*')).rejects.toThrow('refusing');
  });
});
