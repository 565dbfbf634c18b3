import pg from 'pg';

// BIGINT (int8) and NUMERIC come back as strings by default; money and quantities are
// integers in minor units that fit in a JS number, so parse int8 as number.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));

export type Row = Record<string, unknown>;

/**
 * A database handle. A transaction is the same kind of handle, so store functions take a
 * `Db` and work both inside and outside a transaction (Kysely's idea).
 *
 * @example
 * await db.transaction(async (tx) => {
 *   const order = await orders.insert(tx, draft);
 *   await outbox.append(tx, orderPlaced(order));
 * });
 */
export interface Db {
  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<pg.QueryResult<R>>;
  /** Runs `fn` in a transaction (a savepoint when already inside one); commits when it resolves. */
  transaction<T>(fn: (tx: Db) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** True when this handle is an open transaction. */
  readonly inTransaction: boolean;
}

export interface TransactionOptions {
  isolation?: 'read committed' | 'repeatable read' | 'serializable';
  /** Statement-level settings applied with SET LOCAL, e.g. `{ synchronous_commit: 'remote_apply' }`. */
  settings?: Record<string, string>;
}

export interface Database extends Db {
  readonly pool: pg.Pool;
  /** A dedicated connection for LISTEN or long sessions; release it when done. */
  connect(): Promise<pg.PoolClient>;
  close(): Promise<void>;
  ping(): Promise<boolean>;
}

class TxHandle implements Db {
  readonly inTransaction = true;
  private savepoints = 0;
  constructor(private readonly client: pg.PoolClient) {}

  query<R extends Row = Row>(sql: string, params?: readonly unknown[]) {
    return this.client.query<R>(sql, params as unknown[] | undefined);
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const name = `sp_${++this.savepoints}`;
    await this.client.query(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this);
      await this.client.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      await this.client.query(`ROLLBACK TO SAVEPOINT ${name}`);
      throw err;
    }
  }
}

export interface DatabaseOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
}

/** Opens a pool to PostgreSQL. */
export function createDatabase(options: DatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 20,
    application_name: options.applicationName ?? 'embudo',
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its server (restart, failover) must not crash the process.
  pool.on('error', () => undefined);

  const db: Database = {
    pool,
    inTransaction: false,
    query: <R extends Row = Row>(sql: string, params?: readonly unknown[]) =>
      pool.query<R>(sql, params as unknown[] | undefined),
    async transaction<T>(fn: (tx: Db) => Promise<T>, opts?: TransactionOptions): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query(opts?.isolation ? `BEGIN ISOLATION LEVEL ${opts.isolation}` : 'BEGIN');
        for (const [key, value] of Object.entries(opts?.settings ?? {})) {
          await client.query('SELECT set_config($1, $2, true)', [key, value]);
        }
        const result = await fn(new TxHandle(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    },
    connect: () => pool.connect(),
    async close() {
      await pool.end();
    },
    async ping() {
      try {
        await pool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
  };
  return db;
}

/** PostgreSQL error codes the application reacts to. */
export const PgCode = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  raiseException: 'P0001',
  insufficientPrivilege: '42501',
} as const;

export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}
