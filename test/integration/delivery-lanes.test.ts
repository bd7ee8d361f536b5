import net from 'node:net';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/queues/redis';
import { DeliveryLanes, LANE_CONCURRENCY } from '../../workers/delivery-lanes';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';

/**
 * Redis behind a proxy that holds every reply for `delayMs`: a round trip then costs about the same
 * whatever else the machine does, so the number of round trips made one after another shows in the time.
 */
async function slowRedis(delayMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    const drop = () => [client, upstream].forEach((x) => x.destroy());
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => setTimeout(() => client.writable && client.write(chunk), delayMs));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    close: async () => {
      sockets.forEach((x) => x.destroy());
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * Why the deliveries queue runs on lanes: a BullMQ Worker runs its first job only after it has fetched up to
 * its concurrency, one Redis round trip after another (on an event loop busy with API requests, each round
 * trip waits a busy turn). Here every round trip takes 10 ms: 200 waiting jobs, concurrency 100, and the time
 * until the first job starts, one Worker against lanes, side by side (a ratio, not a speed target).
 */
describe('delivery lanes: the first job runs after a lane fills, not after the whole concurrency (real Redis)', () => {
  const CONCURRENCY = 100;
  const prefix = uniquePrefix('lanes');
  let proxy: Awaited<ReturnType<typeof slowRedis>>;
  let connection: Redis;
  let queue: Queue;

  beforeAll(async () => {
    proxy = await slowRedis(10);
    connection = createRedis(proxy.url, 'worker');
    queue = new Queue('lanes', { connection: createRedis(REDIS_URL, 'producer'), prefix });
  });
  afterAll(async () => {
    await queue.close();
    connection.disconnect();
    await proxy.close();
    await dropPrefix(prefix);
  });

  /** Milliseconds from starting `start`'s (ready) workers until the first job's processor is called; then closes them. */
  async function msToFirstJob(start: (processor: () => Promise<string>) => Worker[]): Promise<number> {
    await queue.obliterate({ force: true });
    await queue.addBulk(Array.from({ length: 200 }, (_, i) => ({ name: 'job', data: { i } })));
    let first: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (first = resolve));
    const workers = start(async () => (first(), 'ok'));
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    const t0 = performance.now();
    workers.forEach((w) => void w.run());
    await started;
    const ms = performance.now() - t0;
    await Promise.all(workers.map((w) => w.close()));
    return ms;
  }

  const worker = (processor: () => Promise<string>, concurrency: number) =>
    new Worker('lanes', processor, { connection, prefix, concurrency, autorun: false });

  it(`lanes of ${LANE_CONCURRENCY} start the first job in a fraction of the time one Worker of ${CONCURRENCY} needs`, async () => {
    const single = await msToFirstJob((p) => [worker(p, CONCURRENCY)]);
    let lanes: DeliveryLanes | undefined;
    const laned = await msToFirstJob((p) => (lanes = new DeliveryLanes(CONCURRENCY, (c) => worker(p, c))).lanes);
    expect(lanes!.lanes.map((w) => w.concurrency)).toEqual([25, 25, 25, 25]);
    // 100 round trips in sequence (≥ 1 s) against 25 per lane, side by side: about a quarter.
    expect(single).toBeGreaterThanOrEqual(CONCURRENCY * 10);
    expect(laned * 2).toBeLessThan(single);
  });

  it('spreads a new total over its lanes, at least one job each', () => {
    const fake = (c: number) => ({ concurrency: c }) as unknown as Worker;
    const lanes = new DeliveryLanes(60, fake);
    expect(lanes.lanes.map((w) => w.concurrency)).toEqual([20, 20, 20]);
    lanes.concurrency = 50;
    expect(lanes.lanes.map((w) => w.concurrency)).toEqual([17, 17, 16]);
    expect(lanes.concurrency).toBe(50);
    lanes.concurrency = 2;
    expect(lanes.lanes.map((w) => w.concurrency)).toEqual([1, 1, 1]);
    expect(new DeliveryLanes(1, fake).lanes).toHaveLength(1);
    expect(new DeliveryLanes(500, fake).lanes).toHaveLength(20);
  });
});
