/**
 * Seeded pseudo-random sources for the Graph simulator. Every random choice
 * the simulator makes (latency, injected errors, id gaps, trace ids) draws
 * from one of these so a run with the same seed is reproducible.
 */

export type Rng = () => number;

/** mulberry32: small, fast 32-bit PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** splitmix32 step, used to derive independent stream seeds from one seed. */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** Standard normal sample via Box-Muller (uses two uniforms per sample). */
export function normal(rng: Rng): number {
  let u = rng();
  if (u < 1e-12) u = 1e-12;
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

const TRACE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

/**
 * Independent streams so that, e.g., adding a fault rule does not shift the
 * latency sequence: each concern has its own generator derived from the seed.
 */
export class RandomStreams {
  latency!: Rng;
  faults!: Rng;
  ids!: Rng;
  trace!: Rng;

  constructor(seed: number) {
    this.reseed(seed);
  }

  reseed(seed: number): void {
    const base = splitmix32(seed >>> 0);
    this.latency = mulberry32(splitmix32(base ^ 0x1));
    this.faults = mulberry32(splitmix32(base ^ 0x2));
    this.ids = mulberry32(splitmix32(base ^ 0x3));
    this.trace = mulberry32(splitmix32(base ^ 0x4));
  }

  /** A 23-character opaque trace id shaped like Meta's `fbtrace_id`. */
  traceId(): string {
    let out = '';
    for (let i = 0; i < 23; i++) out += TRACE_ALPHABET[Math.floor(this.trace() * 64)];
    return out;
  }
}
