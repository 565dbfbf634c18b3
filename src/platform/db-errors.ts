import { AppError, isAppError, platformError } from './errors.js';

const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

// SQLSTATEs that mean "this server cannot serve you now", not "your statement is wrong".
const SERVER_GONE = new Set([
  '57P01', // admin_shutdown (fast/smart stop, or the backend was terminated)
  '57P02', // crash_shutdown (another backend crashed, the server restarts)
  '57P03', // cannot_connect_now (starting up, or a standby not accepting connections)
  '53300', // too_many_connections
]);

/**
 * node-postgres and pg-pool raise these plain errors (no code) when the socket is gone, or
 * when a pool was retired (the primary moved) between picking it and using it.
 */
const DRIVER_MESSAGES =
  /Connection terminated|not queryable|timeout exceeded when trying to connect|Connection ended unexpectedly|no primary database|Cannot use a pool after calling end/i;

/** SQLSTATE 25006: a write on a server that is (now) read-only, e.g. a demoted primary. */
export const READ_ONLY_TRANSACTION = '25006';

function codeOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

/**
 * True when `err` says the database server is unreachable or going away (as opposed to an
 * error in the statement): the caller should route elsewhere and the client retry later.
 * `readOnlyToo` also counts 25006, which on the primary handle means it was demoted.
 */
export function isConnectionError(err: unknown, readOnlyToo = false): boolean {
  if (isAppError(err)) return false;
  const code = codeOf(err);
  if (code !== undefined) {
    if (SOCKET_CODES.has(code) || SERVER_GONE.has(code) || code.startsWith('08')) return true;
    if (readOnlyToo && code === READ_ONLY_TRANSACTION) return true;
  }
  if (err instanceof AggregateError) return err.errors.some((e) => isConnectionError(e, readOnlyToo));
  return err instanceof Error && DRIVER_MESSAGES.test(err.message);
}

/**
 * The single mapping from database connection failures to the platform's `unavailable`
 * error (HTTP 503 with Retry-After). `duringCommit` says the connection broke while COMMIT
 * was in flight, so the outcome is unknown to us: the client must retry idempotently.
 */
export function databaseUnavailable(err: unknown, duringCommit = false): AppError {
  const e = platformError(
    'unavailable',
    duringCommit
      ? 'the database connection was lost while committing; the outcome is unknown, retry with the same idempotency key'
      : 'the database is unavailable (failover in progress?); retry shortly',
    { retryable: true },
  );
  (e as Error).cause = err;
  return e;
}
