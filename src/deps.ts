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
import { TokenCipher } from './security/token-cipher';
import { DeliveryLedger } from './services/delivery/delivery-ledger';
import { EventBus } from './services/shared/events';
import { FanoutService } from './services/delivery/fanout.service';
import { KeysService } from './services/auth/keys.service';
import { PagesService } from './services/tree/pages.service';
import { PostViewsService } from './services/read-models/post-views.service';
import { PostsService } from './services/posts/posts.service';
import { Publisher } from './services/delivery/publisher';
import { ReconcilerService } from './services/delivery/reconciler.service';
import { RetryService } from './services/delivery/retry.service';
import { TargetService } from './services/tree/target.service';
import { UnitsService } from './services/tree/units.service';
import { WebhooksService } from './services/webhooks/webhooks.service';
import { WebhookDispatcher } from './services/webhooks/webhook-dispatcher';
import { ApprovalsService } from './services/read-models/approvals.service';
import { AuditService } from './services/governance/audit.service';
import { EditsService } from './services/governance/edits.service';
import { RecallService } from './services/governance/recall.service';
import { TokenHealthService } from './services/governance/token-health.service';
import { BusinessService } from './services/onboarding/business.service';
import { ConnectLinkIssuer } from './services/onboarding/connect-link-issuer';
import { ConnectLinksService } from './services/onboarding/connect-links.service';
import { ReorganiseService } from './services/tree/reorganise.service';

/** Everything a process needs, built from the config. The API and the workers share this. */
export interface Deps {
  config: Config;
  log: Logger;
  store: Store;
  events: EventBus;
  redis: Redis;
  /** Every queue of the job catalog and its typed enqueue helpers. */
  queues: Queues;
  pacer: Pacer;
  graph: GraphClient;
  cipher(): TokenCipher;
  units: UnitsService;
  targets: TargetService;
  keys: KeysService;
  pages: PagesService;
  /** The Business Manager connection and the Page sync from its system user. */
  business: BusinessService;
  /** Self-service connect links, issued by admins: one per unit, or a subtree's CSV. */
  connectLinkIssuer: ConnectLinkIssuer;
  /** Redeeming a connect link: the unit's Page admin logs in with Facebook and picks the Page. */
  connectLinks: ConnectLinksService;
  /** Moves the organisation to a new tree (dry run or one transaction), keeping the old versions. */
  reorganise: ReorganiseService;
  posts: PostsService;
  postViews: PostViewsService;
  /** What awaits an approver: pending posts and edits in their subtree that they did not write. */
  approvals: ApprovalsService;
  /** The delivery ledger: the only writer of `deliveries` (fenced claims, one write batcher). */
  ledger: DeliveryLedger;
  fanout: FanoutService;
  publisher: Publisher;
  reconciler: ReconcilerService;
  retries: RetryService;
  /** This process's Prometheus registry (fed by the event bus and the Graph client). */
  metrics: Metrics;
  webhooks: WebhooksService;
  /** Raises the webhook events of API-side changes (`post.pending_approval`, `post.rejected`); workers raise the others. */
  webhookEvents: WebhookDispatcher;
  // Governance (issue 4)
  audit: AuditService;
  recalls: RecallService;
  edits: EditsService;
  tokenHealth: TokenHealthService;
  close(): Promise<void>;
}

export async function createDeps(config: Config, opts: { log?: Logger } = {}): Promise<Deps> {
  const log = opts.log ?? createLogger(config.logLevel);
  const store = await openStore(config.database, { log, startupTimeoutMs: config.storeStartupTimeoutMs });
  const redis = createRedis(config.redisUrl, 'producer');
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const queues = new Queues(redis, { prefix: config.queue.prefix, catalog: config.env });
  for (const q of queues.all()) q.on('error', (err) => log.warn({ err: err.message, queue: q.name }, 'queue error'));
  const pacer = new Pacer(redis, {
    prefix: config.queue.prefix,
    pageSpacingMs: config.queue.pageSpacingMs,
    slowBaseMs: 60_000,
    appSlowSpacingMs: config.queue.appSlowSpacingMs,
    defaultThrottleMs: DEFAULT_THROTTLE_MS,
  });
  const metrics = new Metrics();
  metrics.trackQueues(queues.all());
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
  // A claim's lease is the job lock; after it, another worker waits out the holder's request timeout and the listing lag.
  const ledger = new DeliveryLedger(db, events, {
    leaseMs: config.queue.lockMs,
    takeoverMs: config.graph.timeoutMs + config.queue.readbackDelayMs,
  });
  const webhooks = new WebhooksService(db, getCipher);
  const webhookEvents = new WebhookDispatcher(db, webhooks, queues, log.child({ component: 'webhooks' }));
  const posts = new PostsService(db, ledger, targets, queues, log, webhookEvents, config.queue.spreadMinuteMs);
  const publisher = new Publisher(graph);
  const pages = new PagesService(db, getCipher);
  const postViews = new PostViewsService(db, posts);
  const edits = new EditsService(db, ledger, posts, queues, log);
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
    pages,
    connectLinkIssuer: new ConnectLinkIssuer(db, config, log.child({ component: 'connect-links' })),
    connectLinks: new ConnectLinksService(db, graph, getCipher, pages, config, log.child({ component: 'connect-links' })),
    reorganise: new ReorganiseService(db, store.dialect, queues, log),
    business: new BusinessService(db, graph, getCipher, config.facebookApp, log),
    posts,
    postViews,
    approvals: new ApprovalsService(db, postViews, edits, targets),
    ledger,
    fanout: new FanoutService(db, targets, ledger, queues, config.queue.fanoutChunkSize, log, events, config.queue.spreadMinuteMs),
    publisher,
    reconciler: new ReconcilerService(db, queues, ledger, log),
    retries: new RetryService(db, ledger, posts, queues, log),
    metrics,
    webhooks,
    webhookEvents,
    audit: new AuditService(db),
    recalls: new RecallService(db, ledger, posts, queues, log),
    edits,
    tokenHealth: new TokenHealthService(
      db,
      graph,
      getCipher,
      targets,
      config.facebookApp,
      { expiringWithinMs: config.tokenHealth.expiringWithinMs, maxAgeMs: config.tokenHealth.sweepEveryMs },
      log,
    ),
    async close() {
      await webhookEvents.drain();
      await queues.close().catch(() => {});
      redis.disconnect();
      graph.close();
      await store.close();
    },
  };
}
