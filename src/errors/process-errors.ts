import type { Logger } from 'pino';
import { MissingDatabaseError, StoreStartupError } from '../db/create-db';
import { describeStoreError, isStoreUnavailable } from '../db/store-errors';

/**
 * For entry points: the store did not answer within STORE_STARTUP_TIMEOUT_MS, or PostgreSQL has no
 * database of that name. Those are expected cases, so one line (naming the store without its
 * password) and exit 1, no stack trace.
 */
export async function exitIfStoreNeverCame<T>(starting: Promise<T>): Promise<T> {
  try {
    return await starting;
  } catch (err) {
    if (!(err instanceof StoreStartupError) && !(err instanceof MissingDatabaseError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

/** The events close-with-grace must leave to `guardProcessErrors` (pass as its `skip` option). */
export const PROCESS_ERROR_EVENTS: Array<'uncaughtException' | 'unhandledRejection'> = ['uncaughtException', 'unhandledRejection'];

/** A loggable view of any error: store errors without the client object node-postgres attaches, others as pino's `err`. */
export function loggableError(err: unknown, op: string): Record<string, unknown> {
  if (isStoreUnavailable(err) || (err && typeof err === 'object' && 'client' in err)) return { ...describeStoreError(err, op) };
  return { err };
}

/**
 * Last line of defence for uncaught exceptions and unhandled rejections. A store outage must not end
 * the process (a database restart is routine, and whatever failed is retried by its caller, the
 * reconciler or the queue), so those are logged (code, message, operation) and the process carries on.
 * Anything else is a bug: it is logged, `shutdown` runs (bounded by `graceMs`) and the process exits 1;
 * a second error meanwhile exits at once.
 */
export function guardProcessErrors(
  log: Pick<Logger, 'warn' | 'error'>,
  shutdown: () => Promise<void>,
  opts: { graceMs?: number; what?: string } = {},
): () => void {
  const what = opts.what ?? 'process';
  let fatal = false;
  const onError = (err: unknown) => {
    if (isStoreUnavailable(err)) {
      log.warn(describeStoreError(err, 'background'), 'store unavailable (outside any request or job); carrying on');
      return;
    }
    if (fatal) {
      log.error(loggableError(err, 'background'), `${what}: second error, exiting`);
      process.exit(1);
    }
    fatal = true;
    log.error(loggableError(err, 'background'), `${what} shutting down after an error`);
    const timer = setTimeout(() => process.exit(1), opts.graceMs ?? 30_000);
    timer.unref();
    shutdown().then(
      () => process.exit(1),
      () => process.exit(1),
    );
  };
  for (const e of PROCESS_ERROR_EVENTS) process.on(e, onError);
  return () => PROCESS_ERROR_EVENTS.forEach((e) => process.removeListener(e, onError));
}
