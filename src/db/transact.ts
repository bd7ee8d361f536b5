import type { Transaction } from 'kysely';
import type { Db } from './create-db';
import { isTransactionConflict } from './store-errors';
import type { Database } from './types';

/** How many times a transaction is run before its conflict is reported (as a 503 "store busy"). */
const ATTEMPTS = 4;

/**
 * Runs `fn` in a transaction and runs it again, after a short random pause, when PostgreSQL aborted
 * it for a deadlock or a serialization failure. Bulk updates of a post's deliveries (recall, cancel,
 * retry, edit) take row locks in scan order while the ledger's write batches lock rows in arrival
 * order, so a deadlock between them is expected under load and is not the caller's fault.
 * `fn` must only touch the store: it may run more than once.
 */
export async function transact<T>(db: Db, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(fn);
    } catch (err) {
      if (attempt >= ATTEMPTS || !isTransactionConflict(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 50));
    }
  }
}
