/**
 * Graph rate-limit usage headers (docs/graph-api.md §5.3):
 * `x-business-use-case-usage` (Pages BUC), `x-app-usage`, `x-page-usage`.
 * Values are whole percentages; unparseable headers are ignored.
 */

export interface UsageMetrics {
  callCount: number;
  totalCputime: number;
  totalTime: number;
}

export interface GraphUsage {
  /** Pages BUC usage (highest entry of type `pages` in `x-business-use-case-usage`). */
  page?: UsageMetrics & { regainMinutes: number };
  /** Platform usage from `x-app-usage`. */
  app?: UsageMetrics;
  /** Legacy `x-page-usage`. */
  pageLegacy?: UsageMetrics;
  /** Highest percentage over every metric present. */
  maxPercent: number;
}

/** Anything header-like: a plain object (any key case), a Fetch `Headers`, or axios headers. */
export type HeaderSource = Record<string, unknown> | { get(name: string): unknown };

function num(v: unknown): number {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}

function parseJson(raw: unknown): unknown {
  const s = Array.isArray(raw) ? raw[0] : raw;
  if (typeof s !== 'string' || s.length === 0) return undefined;
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

function metrics(o: unknown): UsageMetrics | undefined {
  if (!o || typeof o !== 'object' || Array.isArray(o)) return undefined;
  const r = o as Record<string, unknown>;
  if (!('call_count' in r) && !('total_cputime' in r) && !('total_time' in r)) return undefined;
  return { callCount: num(r['call_count']), totalCputime: num(r['total_cputime']), totalTime: num(r['total_time']) };
}

function peak(m: UsageMetrics): number {
  return Math.max(m.callCount, m.totalCputime, m.totalTime);
}

/** Picks the most saturated usage object of the BUC header (up to 32 business objects per response). */
function parseBuc(raw: unknown): (UsageMetrics & { regainMinutes: number }) | undefined {
  const parsed = parseJson(raw);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  let best: (UsageMetrics & { regainMinutes: number }) | undefined;
  for (const entries of Object.values(parsed as Record<string, unknown>)) {
    const list = Array.isArray(entries) ? entries : [entries];
    for (const e of list) {
      const m = metrics(e);
      if (!m) continue;
      const type = (e as Record<string, unknown>)['type'];
      if (type !== undefined && type !== 'pages') continue;
      const candidate = { ...m, regainMinutes: num((e as Record<string, unknown>)['estimated_time_to_regain_access']) };
      if (!best || peak(candidate) > peak(best) || (peak(candidate) === peak(best) && candidate.regainMinutes > best.regainMinutes)) {
        best = candidate;
      }
    }
  }
  return best;
}

const USAGE_HEADERS = ['x-business-use-case-usage', 'x-app-usage', 'x-page-usage'];

function usageHeaderValues(headers: HeaderSource): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const getter = (headers as { get?: unknown }).get;
  if (typeof getter === 'function') {
    // Fetch `Headers` and axios `AxiosHeaders` both look names up case-insensitively.
    for (const name of USAGE_HEADERS) {
      const v: unknown = getter.call(headers, name);
      if (v !== undefined && v !== null && v !== false) out.set(name, v);
    }
    return out;
  }
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    const lower = key.toLowerCase();
    if (USAGE_HEADERS.includes(lower)) out.set(lower, value);
  }
  return out;
}

/** Parses the usage headers of one response; null when none is present and parseable. */
export function parseUsageHeaders(headers: HeaderSource | null | undefined): GraphUsage | null {
  if (!headers) return null;
  const h = usageHeaderValues(headers);
  const page = parseBuc(h.get('x-business-use-case-usage'));
  const app = metrics(parseJson(h.get('x-app-usage')));
  const pageLegacy = metrics(parseJson(h.get('x-page-usage')));
  if (!page && !app && !pageLegacy) return null;
  const usage: GraphUsage = { maxPercent: 0 };
  if (page) usage.page = page;
  if (app) usage.app = app;
  if (pageLegacy) usage.pageLegacy = pageLegacy;
  usage.maxPercent = Math.max(page ? peak(page) : 0, app ? peak(app) : 0, pageLegacy ? peak(pageLegacy) : 0);
  return usage;
}
