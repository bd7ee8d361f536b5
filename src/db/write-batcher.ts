import type { Transaction } from 'kysely';
import type { Db } from './create-db';
import { isStoreUnavailable, isTransactionConflict } from './store-errors';
import { transact } from './transact';
import type { Database } from './types';

type Op = { run: (trx: Transaction<Database>) => Promise<number>; resolve: (n: number) => void; reject: (e: unknown) => void };

/**
 * Group commit for small ledger writes. Writes submitted while a batch is being committed are
 * collected and committed together in one transaction; each caller still learns its own result
 * only after the commit. Many deliveries finishing at once then cost one commit instead of dozens
 * (a WAL append on SQLite, a WAL flush on PostgreSQL), and a write is never acknowledged early.
 */
export class WriteBatcher {
  private pending: Op[] = [];
  private flushing = false;

  constructor(
    private readonly db: Db,
    private readonly maxBatch = 256,
  ) {}

  submit(run: Op['run']): Promise<number> {
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

  private async flush(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        const results = await this.db.transaction().execute(async (trx) => {
          const out: number[] = [];
          for (const op of batch) out.push(await op.run(trx));
          return out;
        });
        batch.forEach((op, i) => op.resolve(results[i]!));
      } catch (err) {
        // One bad write must not fail its neighbours: retry them one by one outside the batch.
        // The store being away is not one bad write: fail them all at once (each caller retries later).
        // A deadlock with another transaction is neither: each write is run again on its own.
        const conflict = isTransactionConflict(err);
        if (!conflict && (batch.length === 1 || isStoreUnavailable(err))) batch.forEach((op) => op.reject(err));
        else {
          for (const op of batch) transact(this.db, (trx) => op.run(trx)).then(op.resolve, op.reject);
        }
      }
    }
    this.flushing = false;
  }
}
