import type { Redis } from 'ioredis';
import type { GraphUsage, UsageMetrics } from '../graph/usage';

/**
 * Per-Page and app-wide pacing kept in Redis, so every worker process shares it (BullMQ OSS has no
 * per-group limits; this is the "token bucket in the processor + moveToDelayed" pattern).
 *
 * One atomic script answers "may this Page be written to now?" and reserves the slot:
 * - a Page blocked (throttled, or usage at 100 %) waits until its regain time;
 * - writes to one Page are spaced by `pageSpacingMs`, stretched ×2 per 5 points of usage above 80 %;
 * - app-wide usage above 80 % spaces all writes by `appSlowSpacingMs` (an app block pauses the queue instead).
 * Time is Redis's own clock, so workers on different hosts agree.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return blocked - now end
local appNext = tonumber(redis.call('GET', KEYS[4]) or '0')
if appNext > now then return appNext - now end
local factor = tonumber(redis.call('GET', KEYS[3]) or '0')
local spacing = tonumber(ARGV[1])
if factor > 0 then spacing = math.max(spacing, tonumber(ARGV[2])) * factor end
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if nxt > now then return nxt - now end
if spacing > 0 then redis.call('SET', KEYS[1], now + spacing, 'PX', math.ceil(spacing) + 1000) end
local appSlow = tonumber(redis.call('GET', KEYS[5]) or '0')
if appSlow > 0 then redis.call('SET', KEYS[4], now + appSlow, 'PX', appSlow + 1000) end
return 0
`;

export interface PacerSettings {
  prefix: string;
  /** Minimum time between two writes to the same Page. */
  pageSpacingMs: number;
  /** Spacing used as the base when a Page with no configured spacing runs hot (usage ≥ 80 %). */
  slowBaseMs: number;
  /** Spacing between any two writes while app usage is ≥ 80 %. */
  appSlowSpacingMs: number;
  /** Wait when Graph throttles without an estimate. */
  defaultThrottleMs: number;
}

/** What the caller must do after Graph reported usage. */
export type UsageVerdict = { kind: 'ok' } | { kind: 'page_blocked'; ms: number } | { kind: 'app_blocked'; ms: number };

const SLOW_TTL_MS = 10 * 60_000;

function pct(m: UsageMetrics | undefined): number {
  return m ? Math.max(m.callCount, m.totalCputime, m.totalTime) : 0;
}

/** The reserve script as an ioredis command: sent by SHA (EVALSHA), its text only once per connection. */
type WithReserve = { lantoaPaceReserve?(...args: Array<string | number>): Promise<number> };

export class Pacer {
  private readonly keyPrefix: string;
  private readonly appKeys: [string, string];

  constructor(
    private readonly redis: Redis,
    private readonly s: PacerSettings,
  ) {
    if (!(redis as unknown as WithReserve).lantoaPaceReserve) redis.defineCommand('lantoaPaceReserve', { numberOfKeys: 5, lua: RESERVE });
    this.keyPrefix = `${s.prefix}:pace:`;
    this.appKeys = [this.key('app-next'), this.key('app-slow')];
  }

  private key(kind: string, id = ''): string {
    return `${this.s.prefix}:pace:${kind}${id ? `:${id}` : ''}`;
  }

  /** 0 when the Page may be written to now (the slot is then taken), else how long to wait in ms. */
  async reserve(pageId: string): Promise<number> {
    const p = this.keyPrefix;
    const wait = await (this.redis as unknown as Required<WithReserve>).lantoaPaceReserve(
      `${p}next:${pageId}`,
      `${p}block:${pageId}`,
      `${p}slow:${pageId}`,
      this.appKeys[0],
      this.appKeys[1],
      this.s.pageSpacingMs,
      this.s.slowBaseMs,
    );
    return Number(wait);
  }

  /** Blocks a Page (only that Page) for `ms`. */
  async blockPage(pageId: string, ms: number): Promise<void> {
    await this.redis.set(this.key('block', pageId), String(Date.now() + ms), 'PX', ms);
  }

  /** Lifts a Page's block and slow-down (an operator who knows the window has passed). */
  async unblockPage(pageId: string): Promise<void> {
    await this.redis.del(this.key('block', pageId), this.key('slow', pageId), this.key('next', pageId));
  }

  /** Remaining block of a Page in ms (0 when not blocked). */
  /** How much the Page's spacing is stretched now (1 = not at all), after Meta reported its usage ≥ 80 %. */
  async slowdown(pageId: string): Promise<number> {
    return Number((await this.redis.get(this.key('slow', pageId))) ?? 1);
  }

  async blockedFor(pageId: string): Promise<number> {
    const until = Number((await this.redis.get(this.key('block', pageId))) ?? 0);
    return Math.max(0, until - Date.now());
  }

  /** Reads Meta's usage headers after any response and adjusts pacing; never blocks on its own. */
  async observe(pageId: string, usage: GraphUsage | null | undefined): Promise<UsageVerdict> {
    if (!usage) return { kind: 'ok' };
    const pagePct = Math.max(pct(usage.page), pct(usage.pageLegacy));
    const appPct = pct(usage.app);
    const regainMs = usage.page?.regainMinutes ? usage.page.regainMinutes * 60_000 : this.s.defaultThrottleMs;
    if (pagePct >= 100) {
      await this.blockPage(pageId, regainMs);
      return { kind: 'page_blocked', ms: regainMs };
    }
    if (pagePct >= 80) {
      const factor = 2 ** ((pagePct - 80) / 5);
      await this.redis.set(this.key('slow', pageId), factor.toFixed(2), 'PX', SLOW_TTL_MS);
    }
    if (appPct >= 100) return { kind: 'app_blocked', ms: this.s.defaultThrottleMs };
    if (appPct >= 80) await this.redis.set(this.key('app-slow'), String(this.s.appSlowSpacingMs), 'PX', SLOW_TTL_MS);
    return { kind: 'ok' };
  }
}
