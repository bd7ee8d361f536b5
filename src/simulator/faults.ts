/**
 * Fault injection (spec §6.3–6.4, §10): rules matched per request, in the
 * order they were added, with seeded probabilities and optional counts.
 */
import type { Rng } from './prng';
import type { FaultEndpoint, FaultKind, FaultRule } from './types';

/** What a Graph request is, for fault matching and stats. */
export type Op = 'feed' | 'photos' | 'get' | 'edit' | 'delete' | 'list' | 'debug_token' | 'dialog' | 'oauth' | 'accounts' | 'other';

export const WRITE_OPS: ReadonlySet<Op> = new Set<Op>(['feed', 'photos', 'edit', 'delete']);

/** When a rule kind is consulted. */
export type FaultPhase = 'arrival' | 'before' | 'after' | 'read';

const PHASE: Record<FaultKind, FaultPhase> = {
  error: 'before',
  'html-error': 'before',
  'drop-before-process': 'before',
  delay: 'before',
  incident: 'before',
  'drop-after-process': 'after',
  'error-after-process': 'after',
  'read-lag': 'read',
  'arrive-late': 'arrival',
};

const KINDS = new Set(Object.keys(PHASE));
const ENDPOINTS = new Set<FaultEndpoint>(['feed', 'photos', 'get', 'edit', 'delete', 'list', 'oauth', 'accounts', 'any-write', 'any']);

interface ActiveRule extends FaultRule {
  endpoint: FaultEndpoint;
  remaining: number;
  until: number;
}

export function validateFaultRule(rule: unknown): FaultRule {
  if (!rule || typeof rule !== 'object') throw new TypeError('fault rule must be an object');
  const r = rule as FaultRule;
  if (!KINDS.has(r.kind)) throw new TypeError(`unknown fault kind: ${String(r.kind)}`);
  if (r.endpoint !== undefined && !ENDPOINTS.has(r.endpoint)) throw new TypeError(`unknown fault endpoint: ${String(r.endpoint)}`);
  if (r.rate !== undefined && !(typeof r.rate === 'number' && r.rate >= 0 && r.rate <= 1)) throw new TypeError('rate must be in 0..1');
  if (r.count !== undefined && !(Number.isInteger(r.count) && r.count > 0)) throw new TypeError('count must be a positive integer');
  for (const k of ['code', 'subcode', 'status', 'delayMs', 'untilMs', 'durationMs'] as const) {
    if (r[k] !== undefined && !(typeof r[k] === 'number' && Number.isFinite(r[k]))) throw new TypeError(`${k} must be a number`);
  }
  if ((r.kind === 'delay' || r.kind === 'read-lag' || r.kind === 'arrive-late') && r.delayMs === undefined) {
    throw new TypeError(`${r.kind} needs delayMs`);
  }
  if (r.kind === 'incident' && r.untilMs === undefined && r.durationMs === undefined) {
    throw new TypeError('incident needs untilMs or durationMs');
  }
  return r;
}

function endpointMatches(ep: FaultEndpoint, op: Op): boolean {
  switch (ep) {
    case 'any':
      return true;
    case 'any-write':
      return WRITE_OPS.has(op);
    default:
      return ep === op;
  }
}

export class FaultEngine {
  private rules: ActiveRule[] = [];

  constructor(private readonly rng: () => Rng) {}

  add(rules: FaultRule[], now: number): void {
    for (const raw of rules) {
      const r = validateFaultRule(raw);
      const defaultEp: FaultEndpoint = r.kind === 'incident' ? 'any-write' : r.kind === 'read-lag' ? 'get' : 'any';
      this.rules.push({
        ...r,
        endpoint: r.endpoint ?? defaultEp,
        remaining: r.count ?? Number.POSITIVE_INFINITY,
        until: r.untilMs ?? (r.durationMs !== undefined ? now + r.durationMs : Number.POSITIVE_INFINITY),
      });
    }
  }

  clear(): void {
    this.rules = [];
  }

  list(): FaultRule[] {
    return this.rules.map(({ remaining, until: _until, ...r }) => ({
      ...r,
      ...(Number.isFinite(remaining) ? { count: remaining } : {}),
    }));
  }

  get size(): number {
    return this.rules.length;
  }

  /**
   * First rule of `phase` that matches and fires, consuming one of its count.
   * `accept` lets the caller add a condition (read-lag: only young posts).
   */
  take(phase: FaultPhase, op: Op, pageId: string | undefined, now: number, accept?: (rule: FaultRule) => boolean): FaultRule | undefined {
    if (this.rules.length === 0) return undefined;
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i]!;
      if (now >= r.until) {
        this.rules.splice(i--, 1);
        continue;
      }
      if (PHASE[r.kind] !== phase || !endpointMatches(r.endpoint, op)) continue;
      if (r.pageId !== undefined && r.pageId !== pageId) continue;
      if (accept && !accept(r)) continue;
      if (r.rate !== undefined && r.rate < 1 && this.rng()() >= r.rate) continue;
      r.remaining--;
      if (r.remaining <= 0) this.rules.splice(i, 1);
      return r;
    }
    return undefined;
  }
}
