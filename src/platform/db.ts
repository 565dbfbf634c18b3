import pg from 'pg';
import { clientQuery, type PreparedSql } from './db-prepared.js';
import type { Registry } from 'prom-client';
import { databaseUnavailable, isConnectionError } from './db-errors.js';
import { runTransaction, withClient, type Fail } from './db-tx.js';
import { parseLsn, PrimarySelector, ReplicaSet, type ReplicaStatus } from './db-routing.js';
import { hostLabel, parseDatabaseUrl, type DbHost } from './db-url.js';
import type { Logger } from './log.js';
import { counter } from './metrics.js';

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
  /** Runs one statement; a `prepared()` one is parsed and planned once per connection. */
  query<R extends Row = Row>(sql: string | PreparedSql, params?: readonly unknown[]): Promise<pg.QueryResult<R>>;
  /** Runs `fn` in a transaction (a savepoint when already inside one); commits when it resolves. */
  transaction<T>(fn: (tx: Db) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** True when this handle is an open transaction. */
  readonly inTransaction: boolean;
}

export { DURABLE_COMMIT, queryScript, sqlArray, sqlLiteral } from './db-tx.js';

export { prepared, type PreparedSql } from './db-prepared.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Text in the form ids are given out in (and a uuid parameter accepts): check it before a batch's uuid[] would refuse the whole batch. */
export const isUuid = (s: string): boolean => UUID.test(s);

export interface TransactionOptions {
  isolation?: 'read committed' | 'repeatable read' | 'serializable';
  /** Statement-level settings applied with SET LOCAL, e.g. `{ synchronous_commit: 'remote_apply' }`. */
  settings?: Record<string, string>;
  /**
   * COMMIT returns only once the synchronous standby has applied the transaction
   * (`synchronous_commit = remote_apply`), so it survives losing the primary. For payment
   * data; see README "High availability" for what it costs.
   */
  durable?: boolean;
}

/** Options for lag-tolerant reads. */
export interface ReadOptions {
  /**
   * A position the client has already seen (from `position()` or `consistentRead`): only a
   * server that has replayed at least this far serves the read (read-your-writes).
   */
  after?: string;
}

export interface DatabaseTopology {
  /** `host:port` of the primary in use, undefined while none is reachable. */
  primary: string | undefined;
  replicas: ReplicaStatus[];
}

export interface Database extends Db {
  /** The pool on the current primary (it is replaced when the primary moves). */
  readonly pool: pg.Pool;
  /** A dedicated connection for LISTEN or long sessions; release it when done. */
  connect(): Promise<pg.PoolClient>;
  close(): Promise<void>;
  ping(): Promise<boolean>;
  /**
   * A handle for reads that tolerate replication lag (catalogue, availability, BI metadata):
   * a replica in rotation, or the primary when there is none. Its transactions are READ ONLY;
   * if the replica drops mid-read, the read runs again on the primary.
   *
   * @example
   * const { rows } = await db.reader().query('SELECT sku, name FROM catalog_skus WHERE active');
   */
  reader(options?: ReadOptions): Db;
  /** The primary's WAL position now: after a write, hand it to the client as its read-your-writes token. */
  position(): Promise<string>;
  /**
   * Runs read-only `fn` on a replica that has replayed at least `after` (else the primary) and
   * returns the position the client has now seen: carry it into the next read so no later
   * read shows an older state (monotonic reads, read-your-writes).
   *
   * @example
   * const { value, position } = await db.consistentRead((tx) => orders.status(tx, id), { after: token });
   */
  consistentRead<T>(fn: (tx: Db) => Promise<T>, options?: ReadOptions): Promise<{ value: T; position: string }>;
  /** Which servers serve what, as last measured. */
  topology(): DatabaseTopology;
  /** Measures the primary and every replica now (the monitor also does so every second). */
  refreshTopology(): Promise<DatabaseTopology>;
}

export interface DatabaseOptions {
  /** A PostgreSQL URL; may list several hosts with `target_session_attrs` (libpq style). */
  connectionString: string;
  /** Read replicas for `reader()` (single-host URLs). */
  replicas?: string[];
  /** A replica further behind than this leaves the rotation. */
  replicaMaxLagMs?: number;
  connectTimeoutMs?: number;
  max?: number;
  applicationName?: string;
  /** Where routing metrics go (replica lag, rotation, primary changes). */
  registry?: Registry;
  logger?: Logger;
  /** How often the primary and replicas are measured (ms). */
  monitorIntervalMs?: number;
}

/**
 * Opens PostgreSQL: a pool on the primary (following it across hosts when the URL lists
 * several), optional read replicas measured for lag, and one mapping of connection failures
 * to the `unavailable` error.
 */
export function createDatabase(options: DatabaseOptions): Database {
  const poolConfig = (url: string): pg.PoolConfig => ({
    connectionString: url,
    max: options.max ?? 20,
    application_name: options.applicationName ?? 'embudo',
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    keepAlive: true,
  });
  const deps = { poolConfig, connectTimeoutMs: options.connectTimeoutMs ?? 5_000, registry: options.registry, logger: options.logger };
  const parsed = parseDatabaseUrl(options.connectionString);
  const primary = new PrimarySelector(parsed, deps);
  const replicas = new ReplicaSet(
    (options.replicas ?? []).map((url) => {
      const r = parseDatabaseUrl(url);
      const host = r.hosts[0] as DbHost;
      return { name: hostLabel(host), url: r.urlFor(host) };
    }),
    options.replicaMaxLagMs ?? 5_000,
    deps,
  );
  const unavailable = options.registry
    ? counter(options.registry, 'embudo_db_unavailable_total', 'Database calls answered with `unavailable` (connection lost, no primary)')
    : undefined;

  const failOn =
    (pool: pg.Pool): Fail =>
    (err, duringCommit = false) => {
      if (!isConnectionError(err, primary.follows)) return err;
      // Too many connections says nothing about where the primary is.
      if (pgErrorCode(err) !== '53300') primary.invalidate(pool, err instanceof Error ? err.message : err);
      unavailable?.inc();
      return databaseUnavailable(err, duringCommit);
    };
  const primaryPool = async (): Promise<pg.Pool> => {
    try {
      return await primary.pool();
    } catch (err) {
      unavailable?.inc();
      throw databaseUnavailable(err);
    }
  };
  const onPrimary = async <T>(fn: (client: pg.PoolClient, fail: Fail) => Promise<T>) => {
    const pool = await primaryPool();
    const fail = failOn(pool);
    return withClient(pool, fail, (c) => fn(c, fail));
  };
  const replicaFail: Fail = (err) => err;

  /** Runs `fn` on a replica client; falls back to the primary when the replica is unreachable. */
  const onReader = async <T>(min: bigint | undefined, fn: (client: pg.PoolClient, fail: Fail) => Promise<T>) => {
    const replica = replicas.pick(min);
    if (replica) {
      try {
        return await withClient(replica.pool, replicaFail, (c) => fn(c, replicaFail));
      } catch (err) {
        if (!isConnectionError(err)) throw err;
        replicas.markDown(replica, err);
      }
    }
    const pool = await primaryPool();
    const fail = failOn(pool);
    return withClient(pool, fail, (c) => fn(c, fail));
  };

  const reader = (opts: ReadOptions = {}): Db => {
    const min = opts.after === undefined ? undefined : parseLsn(opts.after);
    return {
      inTransaction: false,
      query: <R extends Row = Row>(sql: string | PreparedSql, params?: readonly unknown[]) =>
        onReader(min, (c) => clientQuery<R>(c, sql, params)),
      transaction: <T>(fn: (tx: Db) => Promise<T>, txOpts: TransactionOptions = {}) =>
        onReader(min, async (c, fail) => (await runTransaction(c, fn, { ...txOpts, readOnly: true }, fail)).value),
    };
  };

  const measure = async (): Promise<DatabaseTopology> => {
    let lsn: string | undefined;
    try {
      const pool = await primary.pool();
      const { rows } = await pool.query<{ recovery: boolean; lsn: string | null }>(
        `SELECT pg_is_in_recovery() AS recovery,
                CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS lsn`,
      );
      if (rows[0]?.recovery && primary.follows) primary.invalidate(pool, 'the primary is in recovery (demoted)');
      lsn = rows[0]?.lsn ?? undefined;
    } catch {
      // Unknown primary: replicas are measured against its last known position.
    }
    await replicas.refresh(lsn);
    return topology();
  };
  const topology = (): DatabaseTopology => ({
    primary: primary.primaryLabel,
    replicas: replicas.replicas.map((r) => r.status),
  });

  let monitoring: Promise<unknown> | undefined;
  const monitor =
    replicas.replicas.length > 0 || primary.follows
      ? setInterval(() => {
          monitoring ??= measure().finally(() => (monitoring = undefined));
        }, options.monitorIntervalMs ?? 1_000)
      : undefined;
  monitor?.unref();
  if (replicas.replicas.length > 0) monitoring = measure().finally(() => (monitoring = undefined));

  const db: Database = {
    get pool() {
      return primary.lastPool;
    },
    inTransaction: false,
    query: <R extends Row = Row>(sql: string | PreparedSql, params?: readonly unknown[]) =>
      onPrimary((c) => clientQuery<R>(c, sql, params)),
    transaction: <T>(fn: (tx: Db) => Promise<T>, opts: TransactionOptions = {}) =>
      onPrimary(async (c, fail) => (await runTransaction(c, fn, opts, fail)).value),
    async connect() {
      const pool = await primaryPool();
      try {
        return await pool.connect();
      } catch (err) {
        throw failOn(pool)(err);
      }
    },
    async close() {
      clearInterval(monitor);
      await monitoring?.catch(() => undefined);
      await Promise.all([primary.close(), replicas.close()]);
    },
    async ping() {
      try {
        await db.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    reader,
    async position() {
      const { rows } = await db.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      return (rows[0] as { lsn: string }).lsn;
    },
    async consistentRead<T>(fn: (tx: Db) => Promise<T>, opts: ReadOptions = {}) {
      const min = opts.after === undefined ? undefined : parseLsn(opts.after);
      const replica = replicas.pick();
      if (replica) {
        try {
          const done = await withClient(replica.pool, replicaFail, async (c) => {
            // Checked before the transaction's snapshot exists: replay only moves forward,
            // so the snapshot taken next includes everything up to this position.
            const before = await replayLsn(c);
            if (min !== undefined && (before === undefined || parseLsn(before) < min)) return undefined;
            const { value } = await runTransaction(c, fn, { readOnly: true }, replicaFail);
            return { value, position: (await replayLsn(c)) ?? before ?? '0/0' };
          });
          if (done) return done;
        } catch (err) {
          if (!isConnectionError(err)) throw err;
          replicas.markDown(replica, err);
        }
      }
      return onPrimary(async (c, fail) => {
        const { value } = await runTransaction(c, fn, { readOnly: true }, fail);
        // Read after the data: every commit visible to fn is at or before this position.
        const { rows } = await c.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
        return { value, position: (rows[0] as { lsn: string }).lsn };
      });
    },
    topology,
    refreshTopology: async () => {
      await monitoring?.catch(() => undefined);
      return measure();
    },
  };
  return db;
}

async function replayLsn(client: pg.PoolClient): Promise<string | undefined> {
  const { rows } = await client.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn');
  return rows[0]?.lsn ?? undefined;
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
