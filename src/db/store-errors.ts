/**
 * What a store (PostgreSQL or SQLite) error means for the caller, and how to log it.
 *
 * "Unavailable" errors say nothing about the request or the job: the store went away (a restart, a
 * network cut, a locked or full SQLite file) and the same operation will work once it answers again.
 * The API turns them into 503 + Retry-After, the workers put the job back without spending an attempt.
 */

/** PostgreSQL SQLSTATEs that mean "the server is not there right now", not "your statement is wrong". */
const PG_UNAVAILABLE_STATES = new Set([
  '57P01', // admin_shutdown: terminating connection due to administrator command
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the database system is starting up / shutting down
  '53300', // too_many_connections
  '53100', // disk_full
  '53200', // out_of_memory
  '58030', // io_error
]);

/** Node socket errors on the way to the server. */
const NET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);

/** node-postgres raises these without a code when the connection dies or cannot be made in time. */
const PG_CLIENT_MESSAGES = [
  /^Connection terminated/i,
  /connection timeout/i,
  /timeout exceeded when trying to connect/i,
  /is not queryable/i,
  /Client was closed and is not queryable/i,
  /Cannot use a pool after calling end/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
];

/** SQLite result codes (better-sqlite3 `err.code`, extended codes included) that are a state of the file, not of the statement. */
const SQLITE_BUSY = /^SQLITE_(BUSY|LOCKED)(_|$)/;
const SQLITE_WRITE_FAILED = /^SQLITE_(IOERR|FULL|READONLY|CANTOPEN)(_|$)/;

/**
 * PostgreSQL SQLSTATEs of a transaction that lost a race with another one: the same transaction
 * run again works. Two writers taking row locks in different orders (a recall cancelling a post's
 * queued rows while a ledger batch claims some of them) is a deadlock PostgreSQL breaks by aborting one.
 */
const PG_CONFLICT_STATES = new Set([
  '40P01', // deadlock_detected
  '40001', // serialization_failure
  '55P03', // lock_not_available
]);

export type StoreErrorKind = 'unreachable' | 'busy' | 'write_failed';

/** True when a transaction was aborted only because a concurrent one won a lock: run it again. */
export function isTransactionConflict(err: unknown): boolean {
  for (const e of chain(err)) if (typeof e.code === 'string' && PG_CONFLICT_STATES.has(e.code)) return true;
  return false;
}

/** The errors to look at: the error itself, its `cause` chain and the parts of an AggregateError (one per address tried). */
function* chain(err: unknown): Generator<{ code?: unknown; message?: unknown }> {
  const seen = new Set<unknown>();
  const stack: unknown[] = [err];
  while (stack.length) {
    const e = stack.pop();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    yield e as { code?: unknown; message?: unknown };
    const { cause, errors } = e as { cause?: unknown; errors?: unknown };
    if (cause) stack.push(cause);
    if (Array.isArray(errors)) stack.push(...errors);
  }
}

/** Why the store could not do it, or undefined if the error is about the operation itself (a constraint, bad SQL, a bug). */
export function storeErrorKind(err: unknown): StoreErrorKind | undefined {
  for (const e of chain(err)) {
    const code = typeof e.code === 'string' ? e.code : '';
    const message = typeof e.message === 'string' ? e.message : '';
    if (SQLITE_BUSY.test(code) || PG_CONFLICT_STATES.has(code)) return 'busy';
    if (SQLITE_WRITE_FAILED.test(code)) return 'write_failed';
    if (PG_UNAVAILABLE_STATES.has(code) || code.startsWith('08')) return 'unreachable';
    if (NET_CODES.has(code)) return 'unreachable';
    if (PG_CLIENT_MESSAGES.some((re) => re.test(message))) return 'unreachable';
  }
  return undefined;
}

/** True when the store itself is unreachable, locked or cannot write: retry later, do not blame the request or burn an attempt. */
export function isStoreUnavailable(err: unknown): boolean {
  return storeErrorKind(err) !== undefined;
}

export interface StoreErrorDescription {
  code: string;
  message: string;
  op: string;
}

/** Removes credentials from anything that looks like a connection URL (`scheme://user:password@host`). */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/\s:@]+):([^@\s/]*)@/gi, '$1$2:***@');
}

/**
 * The loggable part of a store error: its code, its message (credentials removed, at most 300
 * characters) and the operation that failed. Never the pg client, the pool or connection parameters,
 * which node-postgres attaches to its errors (`err.client`).
 */
export function describeStoreError(err: unknown, op: string): StoreErrorDescription {
  let code = '';
  let message = '';
  for (const e of chain(err)) {
    if (!code && typeof e.code === 'string' && e.code) code = e.code;
    if (!message && typeof e.message === 'string' && e.message) message = e.message;
    if (code && message) break;
  }
  if (!message) message = typeof err === 'string' ? err : 'unknown store error';
  message = redactUrl(message).replace(/\s+/g, ' ').trim();
  if (message.length > 300) message = `${message.slice(0, 297)}...`;
  return { code: code || (err instanceof Error ? err.name : 'UNKNOWN'), message, op };
}

/** A short reason for API answers and /readyz: what is wrong with the store, without internals. */
export function storeUnavailableReason(err: unknown): string {
  const kind = storeErrorKind(err);
  const { code } = describeStoreError(err, '');
  if (kind === 'busy') return `store busy (${code}): another writer holds the lock`;
  if (kind === 'write_failed') return `store cannot write (${code})`;
  return `store unavailable (${code})`;
}
