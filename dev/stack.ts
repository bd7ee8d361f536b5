import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { loadConfig, readEnv, type Config } from '../config';
import { buildApp } from '../src/api/app';
import { ApiClient } from '../src/cli/api-client';
import { createDeps, type Deps } from '../src/deps';
import { createGraphSimulator, type GraphSimulator, type SimulatorOptions } from '../src/simulator/simulator';
import { generateEncryptionKey } from '../src/security/token-cipher';
import { startWorkers, type Workers } from '../workers/create-workers';

/** GSO administrative units as of 2025-03-01, before the July 2025 merger: 10,806 rows + root = 10,807 Pages (data/README.md). */
export const UNITS_CSV_2025_03 = path.resolve(__dirname, '../data/vn-admin-units-2025-03.csv');
/** The tree after the reorganisation of 2025-07-01 (provinces and communes, no districts): 3,355 rows + root = 3,356 Pages. */
export const UNITS_CSV_2025_07 = path.resolve(__dirname, '../data/vn-admin-units-2025-07.csv');
/** `new_code,old_code,kind`: which 2025-03 units each 2025-07 unit absorbed. */
export const MERGES_CSV_2025_07 = path.resolve(__dirname, '../data/vn-2025-07-merges.csv');
/** The default tree of seedOrganisation (and so of the demo): the current one, 2025-07. Pass the text of another to pick it. */
export const UNITS_CSV = UNITS_CSV_2025_07;

export interface Stack {
  config: Config;
  deps: Deps;
  app: FastifyInstance;
  sim: GraphSimulator;
  workers: Workers | undefined;
  apiUrl: string;
  admin: ApiClient;
  adminKey: string;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Variables on top of the environment (DATABASE_URL, QUEUE_PREFIX, WORKER_CONCURRENCY…). */
  env?: Record<string, string | undefined>;
  simulator?: SimulatorOptions;
  /** Start the workers in this process (default true). */
  workers?: boolean;
  /** API port; 0 picks a free one. */
  port?: number;
  log?: Logger;
  /**
   * For the connect-link flow: PUBLIC_BASE_URL is the API's own address (a free port is chosen first),
   * FB_DIALOG_URL the simulator's, and the simulator accepts PUBLIC_BASE_URL/connect/callback as a redirect URI.
   */
  connectFlow?: boolean;
}

/** A port nothing listens on right now (the OS picks it). */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/**
 * Simulator + store + API (+ workers) in one process, on a throwaway encryption key and admin key.
 * Used by the demo, the benchmark and the end-to-end tests, so all three run the real pieces.
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const sim = createGraphSimulator(opts.simulator ?? {});
  const simUrl = await sim.start(0, '127.0.0.1');
  const adminKey = `lt_admin_${crypto.randomBytes(24).toString('base64url')}`;
  const port = opts.connectFlow ? await freePort() : (opts.port ?? 0);
  const config = loadConfig({
    ...readEnv(),
    TOKEN_ENCRYPTION_KEY: generateEncryptionKey(),
    ADMIN_API_KEY: adminKey,
    GRAPH_API_URL: simUrl,
    ...opts.env,
    ...(opts.connectFlow ? { PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, FB_DIALOG_URL: simUrl } : {}),
  });
  if (opts.connectFlow) sim.configure({ redirectUris: [`http://127.0.0.1:${port}/connect/callback`] });
  const deps = await createDeps(config, opts.log ? { log: opts.log } : {});
  const app = await buildApp(deps);
  const workers = opts.workers === false ? undefined : await startWorkers(deps);
  let apiUrl: string;
  try {
    apiUrl = await app.listen({ port, host: '127.0.0.1' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || opts.connectFlow) throw err;
    apiUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  }
  return {
    config,
    deps,
    app,
    sim,
    workers,
    apiUrl,
    admin: new ApiClient(apiUrl, adminKey),
    adminKey,
    async close() {
      await app.close();
      await workers?.close(5_000);
      await deps.close();
      await sim.stop();
    },
  };
}

/** Codes of `rootCode` and everything under it, computed from a units CSV alone (independent of the store). */
export function subtreeCodes(csv: string, rootCode: string): Set<string> {
  const children = new Map<string, string[]>();
  for (const line of csv.split(/\r?\n/).slice(1)) {
    const [code, parent] = line.split(',');
    if (code && parent) children.set(parent, [...(children.get(parent) ?? []), code]);
  }
  const out = new Set<string>();
  const stack = [rootCode];
  while (stack.length) {
    const c = stack.pop()!;
    out.add(c);
    stack.push(...(children.get(c) ?? []));
  }
  return out;
}

/** Deterministic numeric Page id for the i-th unit (15 digits, like real Page ids). */
export function simulatedPageId(i: number): string {
  return `10${String(i + 1).padStart(13, '0')}`;
}

/** The simulator's default app (FB_APP_ID / FB_APP_SECRET for a stack that talks to it as Facebook). */
export const SIM_APP = { id: '100000000000001', secret: 'sim-app-secret' };

/** The simulator's Business Manager system user (`via: 'sync'`): every seeded Page assigned to it with CREATE_CONTENT. */
export const SIM_SYSTEM_USER = { id: '61550000000001', name: 'Lan Tỏa (system user)' };

/**
 * Imports the unit tree through the API, creates one simulated Page per unit (root included) with
 * its own token, and links them all. The tree is the text of a units CSV, by default UNITS_CSV
 * (2025-07); `fs.readFileSync(UNITS_CSV_2025_03, 'utf8')` picks the old one.
 * - `via: 'tokens'` (default): a `POST /v1/pages/import` CSV with every Page's token.
 * - `via: 'sync'`: the way a real organisation connects its Pages: the Pages are assigned to a system
 *   user of the (simulated) Business Manager, its token is stored with `PUT /v1/business/connection`,
 *   a mapping CSV without tokens links each Page to its unit, and `POST /v1/pages/sync` derives the
 *   tokens through `/me/accounts`. Needs FB_APP_ID/FB_APP_SECRET set to the simulator's app.
 */
export async function seedOrganisation(
  stack: Stack,
  csvText = fs.readFileSync(UNITS_CSV, 'utf8'),
  opts: {
    only?: (code: string) => boolean;
    seedSim?: (pages: Array<{ id: string; token: string; name: string }>) => Promise<void>;
    via?: 'tokens' | 'sync';
  } = {},
) {
  const units = await stack.admin.importUnits(csvText);
  const codes = [
    'root',
    ...csvText
      .split(/\r?\n/)
      .slice(1)
      .filter(Boolean)
      .map((l) => l.split(',')[0]!),
  ].filter((c) => !opts.only || opts.only(c));
  const pages = codes.map((code, i) => ({
    unitCode: code,
    pageId: simulatedPageId(i),
    token: `EAAG${crypto.randomBytes(30).toString('base64url')}`,
  }));
  const seeds = pages.map((p) => ({ id: p.pageId, token: p.token, name: `MTTQ ${p.unitCode}` }));
  if (opts.seedSim) await opts.seedSim(seeds);
  else stack.sim.seedPages(seeds);
  if (opts.via === 'sync') {
    const systemUserToken = `EAAGsu${crypto.randomBytes(30).toString('base64url')}`;
    stack.sim.seedSystemUsers([
      {
        ...SIM_SYSTEM_USER,
        token: systemUserToken,
        scopes: ['pages_show_list', 'pages_manage_posts', 'pages_read_engagement', 'business_management'],
        pages: pages.map((p) => ({ id: p.pageId, tasks: ['CREATE_CONTENT', 'MODERATE', 'ANALYZE'] })),
      },
    ]);
    await stack.admin.connectBusiness(systemUserToken);
    const mapping = ['unit_code,page_id,access_token', ...pages.map((p) => `${p.unitCode},${p.pageId},`)].join('\n');
    const linked = await stack.admin.importPages(mapping);
    const sync = await stack.admin.syncPages();
    return { units, linked, pages, sync };
  }
  const csv = ['unit_code,page_id,access_token', ...pages.map((p) => `${p.unitCode},${p.pageId},${p.token}`)].join('\n');
  const linked = await stack.admin.importPages(csv);
  return { units, linked, pages, sync: undefined };
}
