/**
 * Control API under `/_sim/` (no auth): seeding, inspection, configuration,
 * faults, token invalidation and usage overrides for tests and benchmarks.
 */
import type {
  DialogBehaviour,
  FaultRule,
  GraphSimulator,
  InvalidationSubcode,
  PageSeed,
  SimulatorOptions,
  SystemUserSeed,
  UserSeed,
} from './types';

export interface ControlResult {
  status: number;
  body: unknown;
}

const SUBCODES = new Set([460, 463, 492, 458, 467]);

function bad(message: string): ControlResult {
  return { status: 400, body: { error: { message } } };
}

function parseJson(raw: string): unknown {
  if (raw.trim().length === 0) return {};
  return JSON.parse(raw);
}

/** Options that may be patched over HTTP (logger/now are in-process only). */
function configPatch(body: Record<string, unknown>): Partial<SimulatorOptions> {
  const allowed = [
    'seed',
    'latency',
    'errorRate',
    'duplicateMode',
    'duplicateWindowMs',
    'appId',
    'appSecret',
    'redirectUris',
    'loginConfigs',
    'defaultVersion',
    'bucCallsPerDay',
    'scheduleMaxLeadDays',
  ] as const;
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(body)) {
    if (!(allowed as readonly string[]).includes(k)) throw new TypeError(`unknown config key: ${k}`);
    patch[k] = body[k];
  }
  return patch as Partial<SimulatorOptions>;
}

export function handleControl(sim: GraphSimulator, method: string, path: string, raw: string): ControlResult {
  let body: Record<string, unknown>;
  try {
    const parsed = parseJson(raw);
    body = (parsed && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>;
  } catch {
    return bad('invalid JSON body');
  }
  const route = `${method} ${path.replace(/\/+$/, '')}`;
  try {
    if (route === 'GET /_sim/health') return { status: 200, body: { ok: true } };
    if (route === 'POST /_sim/pages') {
      const pages = body['pages'];
      if (!Array.isArray(pages)) return bad('body must be {pages:[{id,name?,token}]}');
      sim.seedPages(pages as PageSeed[]);
      return { status: 200, body: { seeded: pages.length } };
    }
    const postsMatch = /^GET \/_sim\/pages\/([^/]+)\/posts$/.exec(route);
    if (postsMatch) {
      return { status: 200, body: { posts: sim.postsOf(decodeURIComponent(postsMatch[1]!)) } };
    }
    if (route === 'GET /_sim/visible-counts') {
      const counts: Record<string, number> = {};
      let totalVisible = 0;
      for (const [id, n] of sim.visibleCounts()) {
        counts[id] = n;
        totalVisible += n;
      }
      return { status: 200, body: { counts, totalVisible } };
    }
    if (route === 'POST /_sim/config') {
      sim.configure(configPatch(body));
      return { status: 200, body: { ok: true } };
    }
    if (route === 'POST /_sim/faults') {
      const rules = Array.isArray(body['rules']) ? body['rules'] : Array.isArray(body['faults']) ? body['faults'] : [body];
      sim.addFaults(rules as FaultRule[]);
      return { status: 200, body: { added: rules.length } };
    }
    if (route === 'GET /_sim/faults') return { status: 200, body: { faults: sim.listFaults() } };
    if (route === 'DELETE /_sim/faults') {
      sim.clearFaults();
      return { status: 200, body: { ok: true } };
    }
    if (route === 'POST /_sim/tokens/invalidate') {
      const { pageId, subcode } = body;
      if (typeof pageId !== 'string' || !SUBCODES.has(Number(subcode))) {
        return bad('body must be {pageId, subcode: 460|463|492|458|467}');
      }
      sim.invalidateToken(pageId, Number(subcode) as InvalidationSubcode);
      return { status: 200, body: { ok: true } };
    }
    if (route === 'POST /_sim/usage') {
      const { pageId, percent, regainMinutes } = body;
      if (typeof pageId !== 'string' || typeof percent !== 'number' || percent < 0) {
        return bad('body must be {pageId, percent>=0, regainMinutes?}');
      }
      if (regainMinutes !== undefined && typeof regainMinutes !== 'number') return bad('regainMinutes must be a number');
      sim.setUsagePercent(pageId, percent, regainMinutes);
      return { status: 200, body: { ok: true } };
    }
    if (route === 'POST /_sim/reset') {
      sim.reset({ keepPages: body['keepPages'] === true });
      return { status: 200, body: { ok: true } };
    }
    if (route === 'GET /_sim/stats') return { status: 200, body: sim.stats() };
    if (route === 'POST /_sim/users') {
      const users = body['users'];
      if (!Array.isArray(users)) return bad('body must be {users:[{id,name?,pages:[{id,tasks}]}]}');
      sim.seedUsers(users as UserSeed[]);
      return { status: 200, body: { seeded: users.length } };
    }
    if (route === 'POST /_sim/system-users') {
      const users = body['systemUsers'];
      if (!Array.isArray(users)) return bad('body must be {systemUsers:[{id,name?,token,scopes,pages:[{id,tasks}],expiresAt?}]}');
      sim.seedSystemUsers(users as SystemUserSeed[]);
      return { status: 200, body: { seeded: users.length } };
    }
    if (route === 'POST /_sim/dialog') {
      sim.setDialog(body as DialogBehaviour);
      return { status: 200, body: { ok: true } };
    }
    if (route === 'POST /_sim/codes/expire') return { status: 200, body: { expired: sim.expireCodes() } };
    if (route === 'POST /_sim/user-tokens/expire') return { status: 200, body: { expired: sim.expireUserTokens() } };
  } catch (err) {
    return bad(err instanceof Error ? err.message : String(err));
  }
  return { status: 404, body: { error: { message: `unknown control route: ${route}` } } };
}
