/**
 * Pages BUC rate-limit model (spec §5.3–5.5): calls per Page in a rolling
 * 24 h window, usage percentages, the `x-business-use-case-usage` header and
 * the time to regain access.
 */

const DAY_MS = 86_400_000;
/** Calls within this many ms are coalesced into one window entry. */
const BUCKET_MS = 1000;

interface PageWindow {
  times: number[];
  counts: number[];
  head: number;
  total: number;
}

export interface UsageSnapshot {
  callPct: number;
  cpuPct: number;
  timePct: number;
  regainMinutes: number;
  throttled: boolean;
}

export class RateLimiter {
  private readonly windows = new Map<string, PageWindow>();

  constructor(public budgetPerDay: number) {}

  clear(): void {
    this.windows.clear();
  }

  private win(pageId: string): PageWindow {
    let w = this.windows.get(pageId);
    if (!w) {
      w = { times: [], counts: [], head: 0, total: 0 };
      this.windows.set(pageId, w);
    }
    return w;
  }

  private prune(w: PageWindow, now: number): void {
    const cutoff = now - DAY_MS;
    while (w.head < w.times.length && w.times[w.head]! <= cutoff) {
      w.total -= w.counts[w.head]!;
      w.head++;
    }
    if (w.head > 256 && w.head * 2 > w.times.length) {
      w.times.splice(0, w.head);
      w.counts.splice(0, w.head);
      w.head = 0;
    }
  }

  private add(w: PageWindow, at: number, n: number): void {
    const last = w.times.length - 1;
    if (last >= w.head && at - w.times[last]! < BUCKET_MS && at >= w.times[last]!) {
      w.counts[last]! += n;
    } else {
      w.times.push(at);
      w.counts.push(n);
    }
    w.total += n;
  }

  /** Whether the Page is over budget *before* this call. */
  isThrottled(pageId: string, now: number): boolean {
    const w = this.windows.get(pageId);
    if (!w) return false;
    this.prune(w, now);
    return w.total >= this.budgetPerDay;
  }

  /** Counts one call (throttled calls count too, §5.4). */
  record(pageId: string, now: number): void {
    const w = this.win(pageId);
    this.prune(w, now);
    this.add(w, now, 1);
  }

  /**
   * Replaces the Page's window with synthetic calls worth `percent` of the
   * budget. With `regainMinutes` they are back-dated so they age out after
   * that many minutes; otherwise they age out after 24 h.
   */
  setPercent(pageId: string, percent: number, now: number, regainMinutes?: number): void {
    const w: PageWindow = { times: [], counts: [], head: 0, total: 0 };
    this.windows.set(pageId, w);
    const n = Math.ceil((Math.max(0, percent) * this.budgetPerDay) / 100);
    if (n === 0) return;
    const at = regainMinutes === undefined ? now : now - DAY_MS + Math.max(0, regainMinutes) * 60_000;
    w.times.push(at);
    w.counts.push(n);
    w.total = n;
  }

  snapshot(pageId: string, now: number): UsageSnapshot {
    const w = this.windows.get(pageId);
    if (!w) return { callPct: 0, cpuPct: 0, timePct: 0, regainMinutes: 0, throttled: false };
    this.prune(w, now);
    const callPct = Math.floor((100 * w.total) / this.budgetPerDay);
    const throttled = w.total >= this.budgetPerDay;
    let regainMinutes = 0;
    if (throttled) {
      // Minutes until enough of the oldest calls age out to drop below the budget.
      let remaining = w.total;
      for (let i = w.head; i < w.times.length; i++) {
        remaining -= w.counts[i]!;
        if (remaining < this.budgetPerDay) {
          regainMinutes = Math.max(1, Math.ceil((w.times[i]! + DAY_MS - now) / 60_000));
          break;
        }
      }
    }
    // Simulated CPU and wall-time shares stay well below the call share.
    return { callPct, cpuPct: Math.floor(callPct / 4), timePct: Math.floor(callPct / 4), regainMinutes, throttled };
  }

  /** `x-business-use-case-usage` value, or undefined when usage is effectively 0 %. */
  headerValue(pageId: string, now: number): string | undefined {
    const s = this.snapshot(pageId, now);
    if (Math.max(s.callPct, s.cpuPct, s.timePct) < 1) return undefined;
    return JSON.stringify({
      [pageId]: [
        {
          type: 'pages',
          call_count: s.callPct,
          total_cputime: s.cpuPct,
          total_time: s.timePct,
          estimated_time_to_regain_access: s.regainMinutes,
        },
      ],
    });
  }
}
