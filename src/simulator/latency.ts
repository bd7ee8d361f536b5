/**
 * Latency model (spec §10): fixed, or log-normal around a median,
 * sampled from the simulator's seeded latency stream.
 */
import { normal, type Rng } from './prng';
import type { LatencySpec } from './types';

export function validateLatency(spec: unknown): LatencySpec {
  const s = spec as LatencySpec;
  if (s && s.kind === 'fixed' && typeof s.ms === 'number' && s.ms >= 0) return s;
  if (s && s.kind === 'lognormal' && typeof s.medianMs === 'number' && s.medianMs >= 0 && typeof s.sigma === 'number' && s.sigma >= 0) {
    return s;
  }
  throw new TypeError('latency must be {kind:"fixed",ms>=0} or {kind:"lognormal",medianMs>=0,sigma>=0}');
}

/** Next latency in whole ms: median * exp(sigma * N(0,1)) for log-normal. */
export function sampleLatency(spec: LatencySpec, rng: Rng): number {
  if (spec.kind === 'fixed') return spec.ms;
  if (spec.medianMs === 0) return 0;
  return Math.round(spec.medianMs * Math.exp(spec.sigma * normal(rng)));
}

/** `fixed:0`, `fixed:250`, `lognormal:400:0.5` (CLI form). */
export function parseLatencyFlag(flag: string): LatencySpec {
  const parts = flag.split(':');
  if (parts[0] === 'fixed' && parts.length === 2) return validateLatency({ kind: 'fixed', ms: Number(parts[1]) });
  if (parts[0] === 'lognormal' && parts.length === 3) {
    return validateLatency({ kind: 'lognormal', medianMs: Number(parts[1]), sigma: Number(parts[2]) });
  }
  throw new TypeError(`invalid --latency ${flag}; expected fixed:MS or lognormal:MEDIAN_MS:SIGMA`);
}
