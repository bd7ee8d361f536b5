/**
 * `npx tsx bench/job-batching.bench.ts` — what BullMQ's per-job cost is on this machine, and so the
 * most that delivery jobs carrying several deliveries could save (issue 12). 10,807 deliveries go
 * through a Worker whose processor does nothing, once as one job each and once as jobs of `k`
 * deliveries, at the same concurrency. Only the queue is measured: no store, no Graph.
 */
import crypto from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { loadConfig, readEnv } from '../config';
import { createRedis } from '../src/queues/redis';

const N = 10_807;

async function run(url: string, perJob: number, concurrency: number): Promise<number> {
  const prefix = `lantoa-jobcost-${crypto.randomBytes(3).toString('hex')}`;
  const producer = createRedis(url, 'worker');
  const connection = createRedis(url, 'worker');
  const queue = new Queue('deliveries', { connection: producer, prefix });
  const jobs = Math.ceil(N / perJob);
  for (let i = 0; i < jobs; i += 500) {
    await queue.addBulk(
      Array.from({ length: Math.min(500, jobs - i) }, (_, j) => ({
        name: 'delivery.publish',
        data: { deliveryIds: Array.from({ length: perJob }, (_, k) => (i + j) * perJob + k), postId: 'p' },
        opts: { jobId: `d:${i + j}`, attempts: 5, removeOnComplete: { count: 1000 }, removeOnFail: { count: 5000 } },
      })),
    );
  }
  let done = 0;
  const t0 = process.hrtime.bigint();
  const finished = new Promise<void>((resolve) => {
    const worker = new Worker(
      'deliveries',
      async (job) => {
        done += (job.data as { deliveryIds: number[] }).deliveryIds.length;
        return 'published';
      },
      { connection, prefix, concurrency },
    );
    worker.on('completed', () => {
      if (done >= N) void worker.close().then(() => resolve());
    });
  });
  await finished;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await queue.obliterate({ force: true });
  await queue.close();
  producer.disconnect();
  connection.disconnect();
  return secs;
}

async function main(): Promise<void> {
  const { redisUrl } = loadConfig(readEnv());
  const concurrency = Number(process.argv[2] ?? 500);
  console.log(`BullMQ per-job cost: ${N} deliveries, no-op processor, concurrency ${concurrency}`);
  for (const perJob of [1, 5, 10]) {
    const secs = await run(redisUrl, perJob, concurrency);
    console.log(
      `  ${String(perJob).padStart(2)} per job: ${secs.toFixed(2).padStart(6)} s  ${(N / secs).toFixed(0).padStart(6)} deliveries/s  ${((secs * 1e6) / N).toFixed(0)} µs per delivery`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
