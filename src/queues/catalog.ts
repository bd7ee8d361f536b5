import { UnrecoverableError, type JobsOptions, type KeepJobs } from 'bullmq';
import { z } from 'zod';
import type { Env } from '../../config';
import {
  ChangePayload,
  DeliveryPayload,
  editJobId,
  EmptyPayload,
  FanoutPayload,
  fanoutJobId,
  recallJobId,
  TokenSweepPayload,
  WebhookPayload,
  webhookJobId,
  deliveryJobId,
} from './payloads';

export * from './payloads';

/**
 * The job catalog: every queue, every job name, its payload schema, attempts, backoff, retention and
 * job id, in one place. Enqueueing goes through `Queues.add`/`addBulk`, which validate the payload with
 * the entry's schema; processors parse it again with `parseJobData` (a payload can outlive a deploy).
 * Job names are dotted, verb last, and stable: they are stored in Redis with every job.
 */

/** Queue names (keys are `<QUEUE_PREFIX>:<name>:…`). */
export const QUEUE = { fanout: 'fanout', deliveries: 'deliveries', webhooks: 'webhooks', maintenance: 'maintenance' } as const;
export type QueueName = (typeof QUEUE)[keyof typeof QUEUE];

/** Configuration values the catalog reads (attempts, backoff, intervals). Pass `config.env`. */
export type CatalogSettings = Pick<
  Env,
  | 'DELIVERY_ATTEMPTS'
  | 'DELIVERY_BACKOFF_MS'
  | 'WEBHOOK_ATTEMPTS'
  | 'WEBHOOK_BACKOFF_MS'
  | 'TOKEN_SWEEP_EVERY_MINUTES'
  | 'PAGE_SYNC_EVERY_MINUTES'
>;
/** A number fixed here, or read from a setting (times `factor`). */
export type Amount = number | { readonly env: keyof CatalogSettings; readonly factor?: number };

export const amount = (a: Amount, settings: CatalogSettings): number => (typeof a === 'number' ? a : settings[a.env] * (a.factor ?? 1));

export interface Retention {
  readonly removeOnComplete: KeepJobs;
  readonly removeOnFail: KeepJobs;
}

export interface QueueSpec {
  /** Length cap of the queue's events stream (completed events carry the return value). */
  readonly eventsMaxLen: number;
  /** Set on the queue's Worker (not per job: it would be stored in every job's options). */
  readonly retention: Retention;
}

const DAY_S = 24 * 3600;

export const QUEUES: Readonly<Record<QueueName, QueueSpec>> = {
  /** One job per post. A failed fan-out is kept 30 days for operators; the reconciler replaces it if its post is still open. */
  fanout: { eventsMaxLen: 2_000, retention: { removeOnComplete: { age: 7 * DAY_S, count: 5_000 }, removeOnFail: { age: 30 * DAY_S } } },
  /**
   * One job per delivery (and per recall or edit of one). Completed jobs are kept an hour: a deterministic
   * id re-added meanwhile is ignored; later the store still says "published".
   */
  deliveries: { eventsMaxLen: 2_000, retention: { removeOnComplete: { age: 3600, count: 50_000 }, removeOnFail: { age: 7 * DAY_S } } },
  /** Kept a day (completed) and a week (failed): long enough to see what a receiver got; the attempts are also logged in `webhook_deliveries`. */
  webhooks: { eventsMaxLen: 2_000, retention: { removeOnComplete: { age: DAY_S, count: 10_000 }, removeOnFail: { age: 7 * DAY_S } } },
  /** Schedulers' runs: a short history is enough (each run's return value is its totals). */
  maintenance: { eventsMaxLen: 1_000, retention: { removeOnComplete: { count: 200 }, removeOnFail: { count: 500 } } },
};

export interface JobSpec<Q extends QueueName, S extends z.ZodType> {
  readonly queue: Q;
  readonly schema: S;
  readonly attempts: Amount;
  readonly backoff?: { readonly type: 'exponential' | 'fixed'; readonly delay: Amount; readonly jitter?: number };
  /** Added at the head of the queue (overtakes what waits). */
  readonly lifo?: boolean;
  /** Only where a job differs from its queue's retention (then it is stored in each job's options). */
  readonly retention?: Retention;
  /** One-off jobs: the id of the job for a payload. */
  readonly jobId?: (data: z.output<S>) => string;
  /** Recurring jobs: run by this job scheduler (BullMQ makes their ids `repeat:<id>:<millis>`). */
  readonly scheduler?: { readonly id: string; readonly every: Amount };
  /** The job id, as documentation (README); `jobId` or the scheduler builds it. */
  readonly id: string;
  /** What happens to the work when a job of this name fails because its data does not parse. */
  readonly ifDataLost: string;
}

const oneOff = <Q extends QueueName, S extends z.ZodType>(spec: JobSpec<Q, S> & { jobId: (data: z.output<S>) => string }) => spec;
const scheduled = <Q extends QueueName, S extends z.ZodType>(
  spec: JobSpec<Q, S> & { scheduler: { id: string; every: Amount }; jobId?: undefined },
) => spec;

const REENQUEUED = 'the reconciler re-enqueues from the store what is still open';

/** Every job name, by the short name the code uses. */
export const JOBS = {
  /**
   * Resolves a post's target, writes every delivery row, then enqueues their jobs in chunks. Delayed to
   * `publishAt`. A few quick retries: its failures are the store or Redis being away for a moment, and
   * a fan-out that failed for good is replaced by the reconciler while its post is still open.
   */
  'post.fanout': oneOff({
    queue: QUEUE.fanout,
    schema: FanoutPayload,
    attempts: 5,
    backoff: { type: 'exponential', delay: 2_000 },
    jobId: (d) => fanoutJobId(d.postId),
    id: 'fanout-<postId>',
    ifDataLost: REENQUEUED,
  }),
  /**
   * Publishes one delivery. Transient errors retry with exponential backoff and jitter (10 attempts
   * ≈ one hour with the defaults), so a Graph incident is ridden out without a thundering herd.
   * Throttling and pacing delay the job without using an attempt.
   */
  'delivery.publish': oneOff({
    queue: QUEUE.deliveries,
    schema: DeliveryPayload,
    attempts: { env: 'DELIVERY_ATTEMPTS' },
    backoff: { type: 'exponential', delay: { env: 'DELIVERY_BACKOFF_MS' }, jitter: 0.5 },
    jobId: (d) => deliveryJobId(d.deliveryId, d.round),
    id: 'dlv-<deliveryId>[-r<round>]',
    ifDataLost: REENQUEUED,
  }),
  /**
   * Deletes one Page's copy of a recalled post. Runs on the deliveries queue, next to publishing, so it
   * shares its workers, retry/backoff settings and throttle handling. Recalls jump the queue (`lifo`):
   * a wrong post must come down before the backlog of new ones goes out.
   */
  'delivery.recall': oneOff({
    queue: QUEUE.deliveries,
    schema: ChangePayload,
    attempts: { env: 'DELIVERY_ATTEMPTS' },
    backoff: { type: 'exponential', delay: { env: 'DELIVERY_BACKOFF_MS' }, jitter: 0.5 },
    lifo: true,
    jobId: (d) => recallJobId(d.deliveryId, d.revision),
    id: 'rcl-<deliveryId>-r<revision>',
    ifDataLost: REENQUEUED,
  }),
  /** Applies an approved edit to one Page; same queue and retry settings as publishing. */
  'delivery.edit': oneOff({
    queue: QUEUE.deliveries,
    schema: ChangePayload,
    attempts: { env: 'DELIVERY_ATTEMPTS' },
    backoff: { type: 'exponential', delay: { env: 'DELIVERY_BACKOFF_MS' }, jitter: 0.5 },
    lifo: false,
    jobId: (d) => editJobId(d.deliveryId, d.revision),
    id: 'edt-<deliveryId>-v<revision>',
    ifDataLost: REENQUEUED,
  }),
  /** POSTs one event to one webhook (5xx, 408, 425, 429 and network errors retry; 8 attempts ≈ 21 min with the defaults). */
  'webhook.send': oneOff({
    queue: QUEUE.webhooks,
    schema: WebhookPayload,
    attempts: { env: 'WEBHOOK_ATTEMPTS' },
    backoff: { type: 'exponential', delay: { env: 'WEBHOOK_BACKOFF_MS' }, jitter: 0.3 },
    jobId: (d) => webhookJobId(d.webhookId, d.event.id),
    id: 'wh-<webhookId>-<event.id>',
    ifDataLost: 'the event is not sent (the ledger and the API stay authoritative)',
  }),
  /**
   * Re-enqueues every fan-out and delivery the store says is unfinished (Redis forgot them, or BullMQ
   * failed them on its own). One attempt: the next run is 20 s away, and a watchdog recreates the
   * scheduler when Redis lost it.
   */
  'maintenance.reconcile': scheduled({
    queue: QUEUE.maintenance,
    schema: EmptyPayload,
    attempts: 1,
    scheduler: { id: 'reconcile', every: 20_000 },
    id: 'scheduler `reconcile`',
    ifDataLost: 'the next scheduled run does the work',
  }),
  /** Re-queues recall and edit work the store says is unfinished, and finishes recalls and edits whose last job was lost. */
  'maintenance.reconcileChanges': scheduled({
    queue: QUEUE.maintenance,
    schema: EmptyPayload,
    attempts: 1,
    scheduler: { id: 'reconcile-changes', every: 15_000 },
    id: 'scheduler `reconcile-changes`',
    ifDataLost: 'the next scheduled run does the work',
  }),
  /** The debug_token sweep of every Page token; checkpoints in its data, so a retried run resumes. Only while FB_APP_ID/FB_APP_SECRET are set. */
  'pages.checkTokens': scheduled({
    queue: QUEUE.maintenance,
    schema: TokenSweepPayload,
    attempts: 1,
    scheduler: { id: 'token-sweep', every: { env: 'TOKEN_SWEEP_EVERY_MINUTES', factor: 60_000 } },
    id: 'scheduler `token-sweep`',
    ifDataLost: 'the next scheduled sweep does the work',
  }),
  /**
   * The Business Manager sync: derives every mapped Page's token from the system user's token
   * (`/me/accounts`, every page of it). Does nothing while no system-user token is stored.
   */
  'pages.sync': scheduled({
    queue: QUEUE.maintenance,
    schema: EmptyPayload,
    attempts: 1,
    scheduler: { id: 'page-sync', every: { env: 'PAGE_SYNC_EVERY_MINUTES', factor: 60_000 } },
    id: 'scheduler `page-sync`',
    ifDataLost: 'the next scheduled sync does the work',
  }),
  /**
   * After Pages were linked: checks the tokens never checked yet, now rather than at the next sweep.
   * Not deterministic on purpose: a request made while a check runs must get a run of its own (the
   * running one may have listed the Pages already). A short history: these can be frequent.
   */
  'pages.checkNewTokens': oneOff({
    queue: QUEUE.maintenance,
    schema: TokenSweepPayload,
    attempts: 3,
    backoff: { type: 'exponential', delay: 5_000 },
    retention: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
    jobId: () => `check-new-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
    id: 'check-new-<ms>-<random>',
    ifDataLost: 'the next scheduled sweep checks those Pages',
  }),
} as const;

type Jobs = typeof JOBS;
export type JobName = keyof Jobs;
export type JobData<N extends JobName> = z.output<Jobs[N]['schema']>;
/** Job names of one queue. */
export type JobNameOf<Q extends QueueName> = { [N in JobName]: Jobs[N]['queue'] extends Q ? N : never }[JobName];
/** Jobs added one at a time or in bulk (the others are produced by their job scheduler). */
export type OneOffJobName = { [N in JobName]: Jobs[N] extends { jobId: (data: never) => string } ? N : never }[JobName];
export type ScheduledJobName = Exclude<JobName, OneOffJobName>;

/** The short names the code uses: `JOB.publish` is `'delivery.publish'`. */
export const JOB = {
  fanout: 'post.fanout',
  publish: 'delivery.publish',
  recall: 'delivery.recall',
  edit: 'delivery.edit',
  webhook: 'webhook.send',
  reconcile: 'maintenance.reconcile',
  reconcileChanges: 'maintenance.reconcileChanges',
  checkTokens: 'pages.checkTokens',
  checkNewTokens: 'pages.checkNewTokens',
  syncPages: 'pages.sync',
} as const satisfies Record<string, JobName>;

/**
 * Names no longer enqueued but still handled where jobs of them may wait, until those queues drain.
 * @deprecated Kept for the upgrade from a deploy where the reconcile scheduler rode the fan-out
 * queue (with data `{ postId: '' }`); workers remove that scheduler when they start.
 */
export const RETIRED_JOBS = { fanout: ['maintenance.reconcile'] } as const satisfies Partial<Record<QueueName, readonly string[]>>;
type RetiredOf<Q extends QueueName> = Q extends keyof typeof RETIRED_JOBS ? (typeof RETIRED_JOBS)[Q][number] : never;
/** The names a queue's worker dispatches on. */
export type DispatchedName<Q extends QueueName> = JobNameOf<Q> | RetiredOf<Q>;

/**
 * Job schedulers of earlier deploys, removed by the workers when they start (and by the watchdog),
 * since their jobs now run elsewhere: the reconciler moved from the fan-out queue to `maintenance`,
 * and the `governance` queue was renamed `maintenance`.
 */
export const RETIRED_SCHEDULERS = [
  { queue: 'fanout', id: 'reconcile' },
  { queue: 'governance', id: 'reconcile-changes' },
  { queue: 'governance', id: 'token-sweep' },
] as const;
/** Queues of earlier deploys that no worker listens to any more. */
export const RETIRED_QUEUES = ['governance'] as const;

/** Enqueue-time payload error: a bug in the caller, never client input (that is validated by the API). */
export class JobPayloadError extends Error {
  override name = 'JobPayloadError';
}

/**
 * A dequeued job that is failed for good without running: its name is not in its queue's catalog, or
 * its data does not parse. An UnrecoverableError, so BullMQ does not retry it.
 */
export class JobNotRunError extends UnrecoverableError {
  constructor(
    readonly reason: 'unknown_name' | 'bad_data',
    message: string,
  ) {
    super(message);
  }
}

const describe = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.') || '(data)'}: ${i.message}`).join('; ');

/** The BullMQ options of one job: validates `data` (throws JobPayloadError) and returns what is stored. */
export function buildJob<N extends OneOffJobName>(
  name: N,
  data: JobData<N>,
  settings: CatalogSettings,
): { name: N; data: JobData<N>; opts: JobsOptions } {
  const spec = JOBS[name] as JobSpec<QueueName, z.ZodType>;
  const parsed = spec.schema.safeParse(data);
  if (!parsed.success) throw new JobPayloadError(`${name}: invalid payload at enqueue: ${describe(parsed.error)}`);
  const value = parsed.data as JobData<N>;
  return { name, data: value, opts: { jobId: spec.jobId!(value), ...jobOptions(spec, settings) } };
}

/** Attempts, backoff, lifo and retention of an entry (also the template options of a job scheduler). */
export function jobOptions(spec: JobSpec<QueueName, z.ZodType>, settings: CatalogSettings): JobsOptions {
  const opts: JobsOptions = { attempts: amount(spec.attempts, settings) };
  if (spec.backoff) {
    opts.backoff = {
      type: spec.backoff.type,
      delay: amount(spec.backoff.delay, settings),
      ...(spec.backoff.jitter === undefined ? {} : { jitter: spec.backoff.jitter }),
    };
  }
  if (spec.lifo !== undefined) opts.lifo = spec.lifo;
  if (spec.retention) Object.assign(opts, spec.retention);
  return opts;
}

/** A job scheduler of the catalog: its id, interval and the template of the jobs it produces. */
export function schedulerOf(
  name: ScheduledJobName,
  settings: CatalogSettings,
): { id: string; every: number; template: { name: ScheduledJobName; data: Record<string, never>; opts: JobsOptions } } {
  const spec = JOBS[name];
  return {
    id: spec.scheduler.id,
    every: amount(spec.scheduler.every, settings),
    template: { name, data: {}, opts: jobOptions(spec, settings) },
  };
}

/**
 * Dequeue-time check of a job's data, which may predate this deploy or be half lost (Redis lost keys
 * mid-flight). A job that does not parse fails visibly, without retries, instead of "succeeding".
 */
export function parseJobData<N extends JobName>(name: N, job: { id?: string; data: unknown }): JobData<N> {
  const parsed = (JOBS[name].schema as z.ZodType).safeParse(job.data ?? undefined);
  if (parsed.success) return parsed.data as JobData<N>;
  throw new JobNotRunError(
    'bad_data',
    `job data missing or invalid for ${name} job ${job.id ?? '?'} (Redis lost it?): ${describe(parsed.error)}; ${JOBS[name].ifDataLost}`,
  );
}

/**
 * The job's name as one of its queue's catalog names (or retired names still handled). Anything else
 * fails visibly without retries: an unknown name is never run as some other job.
 */
export function dispatchName<Q extends QueueName>(queue: Q, job: { id?: string; name: string }): DispatchedName<Q> {
  const spec = Object.hasOwn(JOBS, job.name) ? JOBS[job.name as JobName] : undefined;
  if (spec?.queue === queue) return job.name as DispatchedName<Q>;
  const retired: readonly string[] = (RETIRED_JOBS as Partial<Record<QueueName, readonly string[]>>)[queue] ?? [];
  if (retired.includes(job.name)) return job.name as DispatchedName<Q>;
  throw new JobNotRunError(
    'unknown_name',
    `unknown job name "${job.name}" on queue ${queue} (job ${job.id ?? '?'}): not in the job catalog, not run`,
  );
}

/** Closes a `switch` over a union: a case left out is a compile error; reaching it at run time fails the job. */
export function assertNever(value: never): never {
  throw new JobNotRunError('unknown_name', `unhandled job name "${String(value)}"`);
}
