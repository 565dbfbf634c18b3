import pg from 'pg';
import type { Registry } from 'prom-client';
import { hostLabel, type DbHost, type ParsedDatabaseUrl } from './db-url.js';
import type { Logger } from './log.js';
import { counter, gauge } from './metrics.js';

const noop = () => undefined;
/** After a failed search for the primary, callers fail fast for this long instead of probing again. */
const RETRY_AFTER_FAILED_SEARCH_MS = 200;

/** A WAL position (pg_lsn `X/Y`) as a comparable number. */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!m) throw new Error(`not a WAL position: "${text}"`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function isLsn(text: string): boolean {
  return /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(text);
}

export interface RoutingDeps {
  poolConfig: (url: string) => pg.PoolConfig;
  connectTimeoutMs: number;
  registry?: Registry;
  logger?: Logger;
}

/**
 * Keeps one pool on the current primary. With one host and `target_session_attrs=any` it is
 * a plain pool. With several hosts (or `read-write`/`primary`) it tries the hosts in order,
 * as libpq does, checking each is writable, and searches again whenever the pool it handed
 * out reports a connection failure, so the platform follows a promoted standby on its own.
 */
export class PrimarySelector {
  private current: { host: DbHost; pool: pg.Pool } | undefined;
  private searching: Promise<pg.Pool> | undefined;
  private failedAt = 0;
  private last: pg.Pool;
  private lastHost: DbHost;
  private closed = false;
  /** True when the primary may move between hosts (so it is searched for and re-checked). */
  readonly follows: boolean;
  private readonly changes;
  private readonly reachable;

  constructor(
    private readonly url: ParsedDatabaseUrl,
    private readonly deps: RoutingDeps,
  ) {
    this.follows = url.hosts.length > 1 || url.targetSessionAttrs !== 'any';
    this.changes = deps.registry
      ? counter(deps.registry, 'embudo_db_primary_changes_total', 'Times the primary pool moved to a (re)discovered primary')
      : undefined;
    this.reachable = deps.registry
      ? gauge(deps.registry, 'embudo_db_primary_reachable', '1 when a primary database is known and reachable')
      : undefined;
    const first = url.hosts[0] as DbHost;
    this.last = this.makePool(first);
    this.lastHost = first;
    if (!this.follows) this.current = { host: first, pool: this.last };
    this.reachable?.set(1);
  }

  /** The pool last handed out (a stable reference for code that needs a `pg.Pool`). */
  get lastPool(): pg.Pool {
    return this.last;
  }

  get primaryLabel(): string | undefined {
    return this.current ? hostLabel(this.current.host) : undefined;
  }

  /** The pool on the primary, searching for it when unknown. */
  pool(): Promise<pg.Pool> {
    if (this.current) return Promise.resolve(this.current.pool);
    return (this.searching ??= this.search().finally(() => (this.searching = undefined)));
  }

  /** Reports that `pool` failed to reach a writable primary: the next caller searches again. */
  invalidate(pool: pg.Pool, reason: unknown): void {
    if (!this.follows || this.current?.pool !== pool) return;
    this.deps.logger?.warn({ primary: hostLabel(this.current.host), reason: String(reason) }, 'primary database lost: searching');
    this.current = undefined;
    this.reachable?.set(0);
    void pool.end().catch(noop);
  }

  private async search(): Promise<pg.Pool> {
    if (this.closed) throw new Error('Cannot use a pool after calling end on the pool');
    if (Date.now() - this.failedAt < RETRY_AFTER_FAILED_SEARCH_MS) throw new Error('no primary database reachable');
    for (const host of this.url.hosts) {
      if (!(await this.qualifies(host))) continue;
      if (this.closed) break;
      const pool = host === this.lastHost && !this.lastEnded() ? this.last : this.makePool(host);
      this.current = { host, pool };
      this.last = pool;
      this.lastHost = host;
      this.reachable?.set(1);
      this.changes?.inc();
      this.deps.logger?.info({ primary: hostLabel(host) }, 'primary database selected');
      return pool;
    }
    this.failedAt = Date.now();
    throw new Error(`no primary database reachable among ${this.url.hosts.map(hostLabel).join(', ')}`);
  }

  private lastEnded(): boolean {
    return (this.last as pg.Pool & { ending?: boolean }).ending === true;
  }

  private async qualifies(host: DbHost): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.url.urlFor(host), connectionTimeoutMillis: this.deps.connectTimeoutMs });
    client.on('error', noop);
    try {
      await client.connect();
      if (this.url.targetSessionAttrs === 'any') return true;
      const { rows } = await client.query<{ recovery: boolean; read_only: string }>(
        `SELECT pg_is_in_recovery() AS recovery, current_setting('transaction_read_only') AS read_only`,
      );
      const row = rows[0];
      if (!row) return false;
      return this.url.targetSessionAttrs === 'primary' ? !row.recovery : row.read_only === 'off';
    } catch {
      return false;
    } finally {
      await client.end().catch(noop);
    }
  }

  private makePool(host: DbHost): pg.Pool {
    const pool = guardClients(new pg.Pool(this.deps.poolConfig(this.url.urlFor(host))));
    // An idle client losing its server (restart, failover) must not crash the process; on a
    // moving primary it is also the earliest sign that the primary is gone.
    pool.on('error', (err) => this.invalidate(pool, err.message));
    return pool;
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = new Set([this.last, ...(this.current ? [this.current.pool] : [])]);
    this.current = undefined;
    await Promise.all([...pools].map((p) => p.end().catch(noop)));
  }
}

/**
 * Gives every client of the pool an 'error' listener for its whole life. pg-pool takes its idle
 * listener off a client as it hands it out, and a borrower (withClient) can put its own on only
 * after its await resumes; a termination that arrives in the same packet as a new connection's
 * ReadyForQuery (a server killing backends as they start: failover, pg_terminate_backend) lands
 * in between, as an 'error' event with no listener, which ends the process. The lost client
 * still fails its next statement (a connection error, so it is released as broken), and an idle
 * one is still removed by the pool.
 */
function guardClients(pool: pg.Pool): pg.Pool {
  pool.on('connect', (client) => client.on('error', noop));
  return pool;
}

/** One read replica as routing sees it. */
export interface ReplicaStatus {
  name: string;
  inRotation: boolean;
  lagSeconds: number | undefined;
  lagBytes: number | undefined;
  replayLsn: string | undefined;
  /** Why it is out of rotation. */
  reason: string | undefined;
}

export interface Replica {
  name: string;
  pool: pg.Pool;
  status: ReplicaStatus;
  replay: bigint | undefined;
}

/**
 * Read replicas with their measured lag. A replica is in rotation while it answers, is a
 * standby, and lags the primary by at most `maxLagMs` (time since the last replayed commit
 * while it is behind the primary's WAL position; zero when caught up).
 */
export class ReplicaSet {
  readonly replicas: Replica[];
  private next = 0;
  private lastPrimaryLsn: bigint | undefined;
  private readonly samples: { lsn: bigint; at: number }[] = [];
  private readonly lagSeconds;
  private readonly lagBytes;
  private readonly inRotation;

  constructor(
    urls: { name: string; url: string }[],
    private readonly maxLagMs: number,
    private readonly deps: RoutingDeps,
  ) {
    const r = deps.registry;
    this.lagSeconds = r && gauge(r, 'embudo_db_replica_lag_seconds', 'Replication lag of each read replica (seconds)', ['replica']);
    this.lagBytes = r && gauge(r, 'embudo_db_replica_lag_bytes', 'WAL bytes each read replica is behind the primary', ['replica']);
    this.inRotation = r && gauge(r, 'embudo_db_replica_in_rotation', '1 while the replica serves lag-tolerant reads', ['replica']);
    this.replicas = urls.map(({ name, url }) => {
      const pool = guardClients(new pg.Pool(deps.poolConfig(url)));
      const replica: Replica = {
        name,
        pool,
        replay: undefined,
        status: { name, inRotation: false, lagSeconds: undefined, lagBytes: undefined, replayLsn: undefined, reason: 'not checked yet' },
      };
      pool.on('error', (err) => this.markDown(replica, err));
      return replica;
    });
  }

  /** A replica in rotation (round robin) whose last measured replay position is at least `min`. */
  pick(min?: bigint): Replica | undefined {
    const n = this.replicas.length;
    for (let i = 0; i < n; i++) {
      const r = this.replicas[(this.next + i) % n] as Replica;
      if (!r.status.inRotation) continue;
      if (min !== undefined && (r.replay === undefined || r.replay < min)) continue;
      this.next = (this.next + i + 1) % n;
      return r;
    }
    return undefined;
  }

  markDown(replica: Replica, err: unknown): void {
    if (replica.status.inRotation) this.deps.logger?.warn({ replica: replica.name, err: String(err) }, 'replica out of rotation');
    this.setStatus(replica, { inRotation: false, reason: `unreachable: ${err instanceof Error ? err.message : String(err)}` });
  }

  /** Measures every replica against the primary's WAL position (undefined: primary unknown). */
  async refresh(primaryLsn: string | undefined): Promise<void> {
    if (primaryLsn !== undefined) {
      this.lastPrimaryLsn = parseLsn(primaryLsn);
      const now = Date.now();
      this.samples.push({ lsn: this.lastPrimaryLsn, at: now });
      // Enough history to bound any lag up to twice the threshold.
      while (this.samples.length > 2 && (this.samples[1]?.at ?? now) < now - 2 * this.maxLagMs - 60_000) this.samples.shift();
    }
    await Promise.all(this.replicas.map((r) => this.measure(r)));
  }

  /**
   * Seconds since the primary last had nothing the replica lacks: the newest sample of the
   * primary's position the replica has replayed. An upper bound on the lag, tight to one
   * monitor interval. `now() - pg_last_xact_replay_timestamp()` alone is also an upper bound
   * but after an idle spell it reports the idle time, which would evict a replica that is a
   * millisecond behind.
   */
  private behindSince(replay: bigint): number {
    for (let i = this.samples.length - 1; i >= 0; i--) {
      const s = this.samples[i] as { lsn: bigint; at: number };
      if (s.lsn <= replay) return (Date.now() - s.at) / 1000;
    }
    return Number.POSITIVE_INFINITY;
  }

  private async measure(replica: Replica): Promise<void> {
    try {
      const { rows } = await replica.pool.query<{ recovery: boolean; lsn: string | null; since_commit: number | null }>(
        `SELECT pg_is_in_recovery() AS recovery, pg_last_wal_replay_lsn()::text AS lsn,
                EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS since_commit`,
      );
      const row = rows[0];
      if (!row?.recovery || row.lsn === null) {
        this.setStatus(replica, { inRotation: false, reason: 'not a standby (promoted?)' });
        return;
      }
      const replay = parseLsn(row.lsn);
      replica.replay = replay;
      const behind = this.lastPrimaryLsn === undefined ? 0n : this.lastPrimaryLsn - replay;
      const lagBytes = behind > 0n ? Number(behind) : 0;
      const lagSeconds =
        lagBytes === 0 ? 0 : Math.max(0, Math.min(row.since_commit ?? Number.POSITIVE_INFINITY, this.behindSince(replay)));
      const ok = lagSeconds * 1000 <= this.maxLagMs;
      if (ok !== replica.status.inRotation) {
        this.deps.logger?.info({ replica: replica.name, lagSeconds, inRotation: ok }, 'replica rotation changed');
      }
      this.setStatus(replica, {
        inRotation: ok,
        lagSeconds,
        lagBytes,
        replayLsn: row.lsn,
        reason: ok ? undefined : `lag ${lagSeconds.toFixed(3)} s exceeds ${this.maxLagMs} ms`,
      });
    } catch (err) {
      this.markDown(replica, err);
    }
  }

  private setStatus(replica: Replica, patch: Partial<ReplicaStatus>): void {
    replica.status = { ...replica.status, ...patch };
    const labels = { replica: replica.name };
    this.inRotation?.set(labels, replica.status.inRotation ? 1 : 0);
    if (replica.status.lagSeconds !== undefined && Number.isFinite(replica.status.lagSeconds)) {
      this.lagSeconds?.set(labels, replica.status.lagSeconds);
    }
    if (replica.status.lagBytes !== undefined) this.lagBytes?.set(labels, replica.status.lagBytes);
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.pool.end().catch(noop)));
  }
}
