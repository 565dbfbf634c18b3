import pg from 'pg';
import { isConnectionError } from './db-errors.js';
import { clientQuery, type PreparedSql } from './db-prepared.js';
import type { Db, Row, TransactionOptions } from './db.js';

const { escapeLiteral } = pg;

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
    /**
     * BEGIN (with its SET LOCALs) not sent yet: it travels with the first statement when that
     * one has no parameters (one simple-query round trip), or alone before it otherwise.
     */
    private pendingBegin: { sql: string; results: number } | undefined,
  ) {}

  /** True once BEGIN has gone to the server. */
  get begun(): boolean {
    return this.pendingBegin === undefined;
  }

  async query<R extends Row = Row>(sql: string | PreparedSql, params?: readonly unknown[]) {
    const begin = this.pendingBegin;
    this.pendingBegin = undefined;
    try {
      if (begin && typeof sql === 'string' && (params === undefined || params.length === 0)) {
        // Several statements in one message: the answer is one result per statement; the
        // caller gets what its own statement(s) gave, as without the BEGIN in front.
        const all = (await this.client.query(`${begin.sql}; ${sql}`)) as unknown as pg.QueryResult<R>[];
        const own = all.slice(begin.results);
        return (own.length === 1 ? own[0] : own) as pg.QueryResult<R>;
      }
      if (begin) await this.client.query(begin.sql);
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

/**
 * Runs statements without parameters in one round trip (simple-query protocol), in order,
 * and returns one result per statement. In READ COMMITTED each statement takes its own
 * snapshot when it starts, so a statement after a lock sees what the lock's last holder
 * committed. Values must be inlined as literals (see `sqlLiteral`).
 */
export async function queryScript(db: Db, statements: string[]): Promise<pg.QueryResult[]> {
  const out = (await db.query(statements.join(';\n'))) as unknown as pg.QueryResult | pg.QueryResult[];
  return Array.isArray(out) ? out : [out];
}

/** A string as an SQL literal, safe whatever standard_conforming_strings says (pg's escapeLiteral). */
export function sqlLiteral(value: string): string {
  return escapeLiteral(value);
}

/** Strings as an SQL array literal of `type` (e.g. `text`, `uuid`). */
export function sqlArray(values: readonly string[], type: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(type)) throw new Error(`invalid array type ${JSON.stringify(type)}`);
  return `ARRAY[${values.map(sqlLiteral).join(', ')}]::${type}[]`;
}

export async function runTransaction<T>(
  client: pg.PoolClient,
  fn: (tx: Db) => Promise<T>,
  opts: TransactionOptions & { readOnly?: boolean },
  fail: Fail,
): Promise<{ value: T; broken: boolean }> {
  let committing = false;
  let tx: TxHandle | undefined;
  try {
    const begin = ['BEGIN', opts.isolation && `ISOLATION LEVEL ${opts.isolation}`, opts.readOnly && 'READ ONLY'];
    const settings = { ...(opts.durable ? DURABLE_COMMIT : {}), ...opts.settings };
    // The settings travel with BEGIN, and BEGIN with the first statement when it can.
    const sets = Object.entries(settings).map(([key, value]) => `SET LOCAL ${settingName(key)} = ${quoteLiteral(value)}`);
    tx = new TxHandle(client, fail, { sql: [begin.filter(Boolean).join(' '), ...sets].join('; '), results: 1 + sets.length });
    const value = await fn(tx);
    committing = true;
    // Nothing sent, nothing to commit.
    if (tx.begun) await client.query('COMMIT');
    return { value, broken: false };
  } catch (err) {
    let broken = false;
    try {
      if (!tx || tx.begun) await client.query('ROLLBACK');
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
