import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { openStore, type Store } from './db/create-db';
import { GraphClient } from './graph/graph-client';
import { createLogger } from './logger';
import { Pacer } from './queues/pacer';
import { Metrics } from './metrics/metrics';
import { subscribeMetrics } from './metrics/metrics-events';
import { Queues } from './queues/queues';
import { DEFAULT_THROTTLE_MS } from './graph/classify';
import { createRedis } from './queues/redis';
import { WebhookQueue } from './queues/webhook-queue';
import { TokenCipher } from './security/token-cipher';
import { DeliveriesService } from './services/deliveries.service';
import { EventBus } from './services/events';
import { FanoutService } from './services/fanout.service';
import { KeysService } from './services/keys.service';
import { PagesService } from './services/pages.service';
import { PostViewsService } from './services/post-views.service';
import { PostsService } from './services/posts.service';
import { Publisher } from './services/publisher';
import { ReconcilerService } from './services/reconciler.service';
import { RetryService } from './services/retry.service';
import { TargetService } from './services/target.service';
import { UnitsService } from './services/units.service';
import { WebhooksService } from './services/webhooks.service';
import { ChangeJobs } from './queues/change-jobs';
import { AuditService } from './services/audit.service';
import { ChangeLedger } from './services/change-ledger';
import { EditsService } from './services/edits.service';
import { RecallService } from './services/recall.service';
import { TokenHealthService } from './services/token-health.service';

/** Everything a process needs, built from the config. The API and the workers share this. */
export interface Deps {
  config: Config;
  log: Logger;
  store: Store;
  events: EventBus;
  redis: Redis;
  queues: Queues;
  pacer: Pacer;
  graph: GraphClient;
  cipher(): TokenCipher;
  units: UnitsService;
  targets: TargetService;
  keys: KeysService;
  pages: PagesService;
  posts: PostsService;
  postViews: PostViewsService;
  deliveries: DeliveriesService;
  fanout: FanoutService;
  publisher: Publisher;
  reconciler: ReconcilerService;
  retries: RetryService;
  /** This process's Prometheus registry (fed by the event bus and the Graph client). */
  metrics: Metrics;
  webhooks: WebhooksService;
  webhookQueue: WebhookQueue;
  // Governance (issue 4)
  audit: AuditService;
  changeJobs: ChangeJobs;
  changeLedger: ChangeLedger;
  recalls: RecallService;
  edits: EditsService;
  tokenHealth: TokenHealthService;
  close(): Promise<void>;
}

export async function createDeps(config: Config, opts: { log?: Logger } = {}): Promise<Deps> {
  const log = opts.log ?? createLogger(config.logLevel);
  const store = await openStore(config.database, { poolSize: Math.min(config.queue.concurrency + 5, 60), log, startupTimeoutMs: config.storeStartupTimeoutMs });
  const redis = createRedis(config.redisUrl, 'producer');
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const queues = new Queues(redis, { prefix: config.queue.prefix, attempts: config.queue.attempts, backoffMs: config.queue.backoffMs });
  queues.fanout.on('error', (err) => log.warn({ err: err.message }, 'fan-out queue error'));
  queues.deliveries.on('error', (err) => log.warn({ err: err.message }, 'delivery queue error'));
  const pacer = new Pacer(redis, {
    prefix: config.queue.prefix,
    pageSpacingMs: config.queue.pageSpacingMs,
    slowBaseMs: 60_000,
    appSlowSpacingMs: config.queue.appSlowSpacingMs,
    defaultThrottleMs: DEFAULT_THROTTLE_MS,
  });
  const webhookQueue = new WebhookQueue(redis, { prefix: config.queue.prefix, attempts: config.env.WEBHOOK_ATTEMPTS, backoffMs: config.env.WEBHOOK_BACKOFF_MS });
  webhookQueue.queue.on('error', (err) => log.warn({ err: err.message }, 'webhook queue error'));
  const metrics = new Metrics();
  metrics.trackQueues([queues.fanout, queues.deliveries, webhookQueue.queue]);
  const graph = new GraphClient({
    baseUrl: config.graph.baseUrl,
    version: config.graph.version,
    timeoutMs: config.graph.timeoutMs,
    maxSockets: Math.max(64, config.queue.concurrency * 2),
    logger: log,
    onRequest: (info) => metrics.observeGraph(info),
  });
  let cipher: TokenCipher | undefined;
  const getCipher = () => {
    if (!config.tokenEncryptionKey) throw new Error('TOKEN_ENCRYPTION_KEY is not set: Page tokens cannot be encrypted or decrypted');
    return (cipher ??= new TokenCipher(config.tokenEncryptionKey, config.oldTokenEncryptionKeys));
  };
  const { db } = store;
  const units = new UnitsService(db);
  const targets = new TargetService(db);
  const events = new EventBus();
  subscribeMetrics(events, metrics, db, log);
  const deliveries = new DeliveriesService(db, events);
  const posts = new PostsService(db, targets, queues, log);
  const publisher = new Publisher(graph);
  const changeJobs = new ChangeJobs(queues, redis, { prefix: config.queue.prefix, attempts: config.queue.attempts, backoffMs: config.queue.backoffMs });
  changeJobs.governance.on('error', (err) => log.warn({ err: err.message }, 'governance queue error'));
  return {
    config,
    log,
    store,
    events,
    redis,
    queues,
    pacer,
    graph,
    cipher: getCipher,
    units,
    targets,
    keys: new KeysService(db, config.adminApiKey),
    pages: new PagesService(db, getCipher),
    posts,
    postViews: new PostViewsService(db, posts),
    deliveries,
    fanout: new FanoutService(db, targets, deliveries, queues, config.queue.fanoutChunkSize, log, events),
    publisher,
    reconciler: new ReconcilerService(db, queues, deliveries, log),
    retries: new RetryService(db, posts, queues, log),
    metrics,
    webhooks: new WebhooksService(db, getCipher),
    webhookQueue,
    audit: new AuditService(db),
    changeJobs,
    changeLedger: new ChangeLedger(db),
    recalls: new RecallService(db, posts, changeJobs, log),
    edits: new EditsService(db, posts, changeJobs, log),
    tokenHealth: new TokenHealthService(db, graph, getCipher, targets, config.facebookApp, { expiringWithinMs: config.tokenHealth.expiringWithinMs, maxAgeMs: config.tokenHealth.sweepEveryMs }, log),
    async close() {
      await changeJobs.close().catch(() => {});
      await queues.close().catch(() => {});
      await webhookQueue.close().catch(() => {});
      redis.disconnect();
      graph.close();
      await store.close();
    },
  };
}
