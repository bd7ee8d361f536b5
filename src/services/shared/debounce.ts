/**
 * Coalesces checks per key: the first request schedules one run `delayMs` later, requests made
 * meanwhile join it, a request made after the run started schedules the next one. So the last
 * change is always followed by a check, at one query per window instead of one per change.
 */
export class Debouncer {
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly delayMs: number) {}

  request(key: string, run: () => Promise<unknown>): Promise<void> {
    const existing = this.pending.get(key);
    if (existing) return existing;
    const p = new Promise<void>((resolve, reject) => {
      setTimeout(() => {
        this.pending.delete(key);
        run().then(() => resolve(), reject);
      }, this.delayMs).unref();
    });
    this.pending.set(key, p);
    return p;
  }
}
