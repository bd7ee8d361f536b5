/**
 * The V8 heap settings every service process starts with (`npm start`, `start:api`, `start:worker`, the
 * image's NODE_OPTIONS; test/unit/node-flags.test.ts keeps those copies equal to this list).
 *
 * Without them V8 lets the old generation grow to a few hundred MB before it collects: objects of the
 * deliveries in flight outlive a scavenge or two, are promoted, and die there, and V8's default growth
 * (sized for a heap limit of gigabytes) waits long before a full collection. A national fan-out then
 * peaked at 273 MB RSS at concurrency 50 and 336 MB at 500, of which the live heap is about 60 MB (the
 * fan-out slows down only when the old space is capped at 64 MB). Capped at 160 MB with 8 MB semi-spaces
 * the same fan-outs peak at 157 and 183 MB, as fast as before (README, "Memory").
 *
 * Raise the cap for a much larger tree or concurrency: run `node --max-old-space-size=N dist/src/main.js`,
 * or set NODE_OPTIONS in the image.
 */
export const SERVICE_NODE_FLAGS = ['--max-old-space-size=160', '--max-semi-space-size=8'] as const;
