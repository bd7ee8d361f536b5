import fs from 'node:fs';
import path from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { EnvSchema } from '../../../config/schema';
import {
  buildJob,
  dispatchName,
  JOB,
  JobNotRunError,
  JobPayloadError,
  JOBS,
  parseJobData,
  QUEUE,
  schedulerOf,
  type JobName,
} from '../../../src/queues/catalog';
import { readmeQueuesTable, renderQueuesTable } from '../../../src/queues/catalog-table';

const settings = EnvSchema.parse({
  DELIVERY_ATTEMPTS: '4',
  DELIVERY_BACKOFF_MS: '123',
  WEBHOOK_ATTEMPTS: '6',
  WEBHOOK_BACKOFF_MS: '456',
  TOKEN_SWEEP_EVERY_MINUTES: '30',
});

describe('job catalog', () => {
  it('names every job dotted with the verb last, and every short name points at a catalog entry', () => {
    for (const name of Object.keys(JOBS)) expect(name).toMatch(/^[a-z]+\.[a-z][A-Za-z]*$/);
    expect(new Set(Object.values(JOB))).toEqual(new Set(Object.keys(JOBS)));
  });

  it('builds the deterministic job ids of earlier deploys', () => {
    expect(buildJob(JOB.fanout, { postId: 'p1' }, settings).opts.jobId).toBe('fanout-p1');
    expect(buildJob(JOB.publish, { deliveryId: 5, postId: 'p1' }, settings).opts.jobId).toBe('dlv-5');
    expect(buildJob(JOB.publish, { deliveryId: 5, postId: 'p1', round: 0 }, settings).opts.jobId).toBe('dlv-5');
    expect(buildJob(JOB.publish, { deliveryId: 5, postId: 'p1', round: 2 }, settings).opts.jobId).toBe('dlv-5-r2');
    expect(buildJob(JOB.recall, { deliveryId: 5, postId: 'p1', revision: 1 }, settings).opts.jobId).toBe('rcl-5-r1');
    expect(buildJob(JOB.edit, { deliveryId: 5, postId: 'p1', revision: 3 }, settings).opts.jobId).toBe('edt-5-v3');
    const event = { id: 'evt_1', type: 'post.published', createdAt: '2026-01-01T00:00:00Z', data: {} };
    expect(buildJob(JOB.webhook, { webhookId: 'wh1', event }, settings).opts.jobId).toBe('wh-wh1-evt_1');
    expect(buildJob(JOB.checkNewTokens, {}, settings).opts.jobId).toMatch(/^check-new-\d+-[a-z0-9]+$/);
  });

  it('takes attempts and backoff from the settings where the configuration owns them', () => {
    expect(buildJob(JOB.publish, { deliveryId: 1, postId: 'p' }, settings).opts).toMatchObject({
      attempts: 4,
      backoff: { type: 'exponential', delay: 123, jitter: 0.5 },
    });
    expect(buildJob(JOB.recall, { deliveryId: 1, postId: 'p', revision: 1 }, settings).opts).toMatchObject({ attempts: 4, lifo: true });
    expect(buildJob(JOB.edit, { deliveryId: 1, postId: 'p', revision: 1 }, settings).opts).toMatchObject({ attempts: 4, lifo: false });
    const event = { id: 'e', type: 't', createdAt: 'now', data: {} };
    expect(buildJob(JOB.webhook, { webhookId: 'w', event }, settings).opts).toMatchObject({
      attempts: 6,
      backoff: { type: 'exponential', delay: 456, jitter: 0.3 },
    });
    expect(buildJob(JOB.fanout, { postId: 'p' }, settings).opts).toEqual({
      jobId: 'fanout-p',
      attempts: 5,
      backoff: { type: 'exponential', delay: 2_000 },
    });
    expect(buildJob(JOB.checkNewTokens, {}, settings).opts).toMatchObject({
      attempts: 3,
      removeOnComplete: { count: 100 },
      removeOnFail: { count: 100 },
    });
    expect(schedulerOf(JOB.checkTokens, settings)).toMatchObject({
      id: 'token-sweep',
      every: 30 * 60_000,
      template: { name: 'pages.checkTokens', data: {} },
    });
    expect(schedulerOf(JOB.reconcile, settings)).toMatchObject({
      id: 'reconcile',
      every: 20_000,
      template: { name: 'maintenance.reconcile', opts: { attempts: 1 } },
    });
  });

  it('refuses a bad payload at enqueue time, naming the field', () => {
    const bad = (name: JobName, data: unknown) => () => buildJob(name as typeof JOB.publish, data as never, settings);
    expect(bad(JOB.publish, { deliveryId: '5', postId: 'p' })).toThrow(JobPayloadError);
    expect(bad(JOB.publish, { deliveryId: '5', postId: 'p' })).toThrow(/delivery\.publish: invalid payload at enqueue: deliveryId/);
    expect(bad(JOB.fanout, { postId: '' })).toThrow(/postId/);
    expect(bad(JOB.recall, { deliveryId: 1, postId: 'p' })).toThrow(/revision/);
    expect(bad(JOB.webhook, { webhookId: 'w', event: { id: 'e' } })).toThrow(/event\.type/);
  });

  it('stores only the schema fields', () => {
    const job = buildJob(JOB.publish, { deliveryId: 1, postId: 'p', message: 'secret text' } as never, settings);
    expect(job.data).toEqual({ deliveryId: 1, postId: 'p' });
  });

  it('fails a job whose data does not parse with UnrecoverableError, saying the data is missing', () => {
    for (const data of [undefined, {}, { deliveryId: 'x', postId: 'p' }]) {
      expect(() => parseJobData(JOB.publish, { id: 'dlv-1', data })).toThrow(UnrecoverableError);
      expect(() => parseJobData(JOB.publish, { id: 'dlv-1', data })).toThrow(
        /job data missing or invalid for delivery\.publish job dlv-1 .*the reconciler re-enqueues/,
      );
    }
    const err = (() => {
      try {
        parseJobData(JOB.fanout, { data: { postId: 7 } });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(JobNotRunError);
    expect((err as JobNotRunError).reason).toBe('bad_data');
    expect(parseJobData(JOB.publish, { data: { deliveryId: 3, postId: 'p', round: 1 } })).toEqual({ deliveryId: 3, postId: 'p', round: 1 });
  });

  it('dispatches only the names of a queue (and its retired ones); anything else fails for good', () => {
    expect(dispatchName(QUEUE.deliveries, { name: 'delivery.recall' })).toBe('delivery.recall');
    expect(dispatchName(QUEUE.fanout, { name: 'maintenance.reconcile' })).toBe('maintenance.reconcile');
    expect(dispatchName(QUEUE.maintenance, { name: 'maintenance.reconcile' })).toBe('maintenance.reconcile');
    for (const [queue, name] of [
      [QUEUE.deliveries, 'delivery.unknown'],
      [QUEUE.deliveries, 'post.fanout'],
      [QUEUE.deliveries, 'toString'],
      [QUEUE.deliveries, ''],
      [QUEUE.webhooks, 'maintenance.reconcile'],
    ] as const) {
      expect(() => dispatchName(queue, { id: 'j', name })).toThrow(JobNotRunError);
      expect(() => dispatchName(queue, { id: 'j', name })).toThrow(`unknown job name "${name}" on queue ${queue}`);
    }
  });

  it('the README Queues table is the one generated from the catalog (npm run docs:queues)', () => {
    const readme = fs.readFileSync(path.join(__dirname, '../../../README.md'), 'utf8');
    expect(readmeQueuesTable(readme)).toBe(renderQueuesTable());
  });
});
