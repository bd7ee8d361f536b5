/**
 * Optional spread (issue 12): thousands of identical posts in the same seconds can look like spam to
 * Facebook, so a post may ask for its deliveries to go out evenly over a window. The plan is made once,
 * when the fan-out writes the delivery rows, and stored with each row (`not_before`): the job's delay,
 * a retry, a re-run of the fan-out and the reconciler all read the slot from the store, and the delivery
 * worker refuses to send before it (it delays the job instead), so no path can send a delivery early.
 */

export interface SpreadWindow {
  /** When the first delivery is due (the fan-out's start). */
  startMs: number;
  /** Length of the window, in ms. */
  lengthMs: number;
}

/** The window of a post asking for `minutes` (one minute lasting `minuteMs`), starting at `startMs`. */
export function spreadWindow(minutes: number | null, startMs: number, minuteMs: number): SpreadWindow | null {
  return minutes === null ? null : { startMs, lengthMs: minutes * minuteMs };
}

/**
 * Slots for the units of a target, level by level (root, then provinces, then communes; tree order within
 * a level): the i-th of the n units that have a Page is due at start + i × length ÷ n, so the first goes at
 * once and the last one slot before the window's end. Units without a Page send nothing and get no slot.
 * Returns the slot (ISO) of each unit, in the order given.
 */
export function planSlots<U extends { level: number; pageId: string | null }>(units: readonly U[], w: SpreadWindow): Array<string | null> {
  const order = units
    .map((u, i) => ({ u, i }))
    .filter(({ u }) => u.pageId !== null)
    .sort((a, b) => a.u.level - b.u.level || a.i - b.i);
  const slots: Array<string | null> = units.map(() => null);
  const n = order.length;
  order.forEach(({ i }, k) => {
    slots[i] = new Date(w.startMs + Math.floor((k * w.lengthMs) / n)).toISOString();
  });
  return slots;
}

/** How long a job for a delivery due at `notBefore` must wait from `nowMs` (0 when due or without a slot). */
export function delayUntil(notBefore: string | null, nowMs = Date.now()): number {
  return notBefore === null ? 0 : Math.max(0, Date.parse(notBefore) - nowMs);
}
