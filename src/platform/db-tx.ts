import type pg from 'pg';
import { isConnectionError } from './db-errors.js';
import { clientQuery, type PreparedSql } from './db-prepared.js';
import type { Db, Row, TransactionOptions } from './db.js';

/**
 * The settings `durable: true` applies. With no synchronous standby configured
 * (`synchronous_standby_names` empty) PostgreSQL treats them as a local commit.
 */
export const DURABLE_COMMIT: Readonly<Record<string, string>> = { synchronous_commit: 'remote_apply' };

/** Maps an error raised on a handle: connection failures become `unavailable`. */
export type Fail = (err: unknown, duringCommit?: boolean) => unknown;

class TxHandle implements Db {
  readonly inTransaction = true;
  private savepoints = 0;
  constructor(
    private readonly client: pg.PoolClient,
    private readonly fail: Fail,
  ) {}

  async query<R extends Row = Row>(sql: string | PreparedSql, params?: readonly unknown[]) {
    try {
      return await clientQuery<R>(this.client, sql, params);
    } catch (err) {
      throw this.fail(err);
    }
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const name = `sp_${++this.savepoints}`;
    await this.query(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this);
      await this.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      await this.query(`ROLLBACK TO SAVEPOINT ${name}`);
      throw err;
    }
  }
}

export async function runTransaction<T>(
  client: pg.PoolClient,
  fn: (tx: Db) => Promise<T>,
  opts: TransactionOptions & { readOnly?: boolean },
  fail: Fail,
): Promise<{ value: T; broken: boolean }> {
  let committing = false;
  try {
    const begin = ['BEGIN', opts.isolation && `ISOLATION LEVEL ${opts.isolation}`, opts.readOnly && 'READ ONLY'];
    const settings = { ...(opts.durable ? DURABLE_COMMIT : {}), ...opts.settings };
    // The settings travel with BEGIN (one simple-query round trip, not one more per setting).
    const sets = Object.entries(settings).map(([key, value]) => `SET LOCAL ${settingName(key)} = ${quoteLiteral(value)}`);
    await client.query([begin.filter(Boolean).join(' '), ...sets].join('; '));
    const value = await fn(new TxHandle(client, fail));
    committing = true;
    await client.query('COMMIT');
    return { value, broken: false };
  } catch (err) {
    let broken = false;
    try {
      await client.query('ROLLBACK');
    } catch {
      broken = true;
    }
    // A thrown error carries whether the connection is still usable.
    throw Object.assign(new BrokenMarker(fail(err, committing)), { broken });
  }
}

function settingName(key: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(key)) throw new Error(`invalid setting name ${JSON.stringify(key)}`);
  return key;
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Internal: carries the mapped error out of runTransaction with the connection's state. */
class BrokenMarker extends Error {
  broken = false;
  constructor(readonly error: unknown) {
    super('transaction failed');
  }
}

export async function withClient<T>(pool: pg.Pool, fail: Fail, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw fail(err);
  }
  let broken = false;
  // A checked-out client has no listener: a server dying between two statements of a
  // transaction would otherwise be an uncaught 'error' event.
  const lost = () => (broken = true);
  client.on('error', lost);
  try {
    return await fn(client);
  } catch (err) {
    if (err instanceof BrokenMarker) {
      broken = err.broken;
      throw err.error;
    }
    broken = isConnectionError(err, true);
    throw fail(err);
  } finally {
    client.removeListener('error', lost);
    client.release(broken);
  }
}
