import type { Transaction } from 'kysely';
import type { Db } from './create-db';
import { isStoreUnavailable, isTransactionConflict } from './store-errors';
import { transact } from './transact';
import type { Database } from './types';

/**
 * Per-transaction state of a batch: `open` starts it, every op of the transaction gets it, and `close`
 * runs after the last op, before the commit (the ledger folds the ops' counter deltas there and writes
 * them once per batch).
 */
export interface BatchHook<C> {
  open(): C;
  close(trx: Transaction<Database>, context: C): Promise<void>;
}

type Run<C> = (trx: Transaction<Database>, context: C) => Promise<number>;
type Op<C> = { run: Run<C>; resolve: (n: number) => void; reject: (e: unknown) => void };

/**
 * Group commit for small ledger writes. Writes submitted while a batch is being committed are
 * collected and committed together in one transaction; each caller still learns its own result
 * only after the commit. Many deliveries finishing at once then cost one commit instead of dozens
 * (a WAL append on SQLite, a WAL flush on PostgreSQL), and a write is never acknowledged early.
 */
export class WriteBatcher<C = undefined> {
  private pending: Array<Op<C>> = [];
  private flushing = false;

  constructor(
    private readonly db: Db,
    private readonly maxBatch = 256,
    private readonly hook?: BatchHook<C>,
  ) {}

  submit(run: Run<C>): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ run, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // flush() settles every op itself; the catch only guards against a bug leaving a rejection unhandled.
        setImmediate(() => this.flush().catch((err: unknown) => this.failAll(err)));
      }
    });
  }

  private failAll(err: unknown): void {
    for (const op of this.pending.splice(0)) op.reject(err);
    this.flushing = false;
  }

  /** One transaction for `ops`; `rerun` runs it again on a deadlock (see transact), for a single write. */
  private commit(ops: ReadonlyArray<Op<C>>, rerun = false): Promise<number[]> {
    const body = async (trx: Transaction<Database>): Promise<number[]> => {
      const context = this.hook?.open() as C;
      const out: number[] = [];
      for (const op of ops) out.push(await op.run(trx, context));
      await this.hook?.close(trx, context);
      return out;
    };
    return rerun ? transact(this.db, body) : this.db.transaction().execute(body);
  }

  private async flush(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        const results = await this.commit(batch);
        batch.forEach((op, i) => op.resolve(results[i]!));
      } catch (err) {
        // One bad write must not fail its neighbours: retry them one by one outside the batch.
        // The store being away is not one bad write: fail them all at once (each caller retries later).
        // A deadlock with another transaction is neither: each write is run again on its own.
        const conflict = isTransactionConflict(err);
        if (!conflict && (batch.length === 1 || isStoreUnavailable(err))) batch.forEach((op) => op.reject(err));
        else {
          for (const op of batch) this.commit([op], true).then((r) => op.resolve(r[0]!), op.reject);
        }
      }
    }
    this.flushing = false;
  }
}
