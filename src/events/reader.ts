import { prepared, type Db } from '../platform/db.js';
import type { EventEnvelope } from './outbox.js';

/**
 * A place in the outbox's commit-safe order. Rows are read ordered by (tx_id, id) and only
 * below the safe horizon (`HORIZON`): every transaction below it has ended or belongs to
 * another database, so no row can later appear before a position already passed. A plain
 * `id > last_seen` would skip a row whose (long) transaction took its id early and committed
 * late.
 */
export interface Position {
  txId: string;
  seq: number;
}

export const START: Position = { txId: '0', seq: 0 };

export type OutboxRow = {
  id: number;
  event_id: string;
  tx_id: string;
  type: string;
  version: number;
  context: string;
  aggregate_type: string;
  aggregate_id: string;
  payload: unknown;
  occurred_at: Date;
};

/** Which events a consumer wants: exact types, `<context>.*`, or `*` for all. */
export interface TypeFilter {
  all: boolean;
  exact: string[];
  contexts: string[];
}

export function typeFilter(types: readonly string[]): TypeFilter {
  const filter: TypeFilter = { all: false, exact: [], contexts: [] };
  for (const t of types) {
    if (t === '*') filter.all = true;
    else if (t.endsWith('.*')) filter.contexts.push(t.slice(0, -2));
    else if (t.includes('.')) filter.exact.push(t);
    else throw new Error(`event type pattern "${t}" must be <context>.<name>, <context>.* or *`);
  }
  return filter;
}

export function matches(filter: TypeFilter, type: string): boolean {
  if (filter.all || filter.exact.includes(type)) return true;
  const dot = type.indexOf('.');
  return filter.contexts.includes(type.slice(0, dot));
}

export function toEnvelope(row: OutboxRow): EventEnvelope {
  return {
    seq: row.id,
    id: row.event_id,
    type: row.type,
    version: row.version,
    context: row.context,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    payload: row.payload,
    occurredAt: row.occurred_at,
  };
}

export function positionOf(row: Pick<OutboxRow, 'tx_id' | 'id'>): Position {
  return { txId: row.tx_id, seq: row.id };
}

export function after(a: Position, b: Position): boolean {
  const ta = BigInt(a.txId);
  const tb = BigInt(b.txId);
  return ta > tb || (ta === tb && a.seq > b.seq);
}

/**
 * The commit-safe horizon, as SQL: the oldest transaction still running that could still
 * append to this outbox, or the snapshot's xmax when there is none. Rows with `tx_id` below it
 * never change (their transactions have ended), so it can be computed in one statement and
 * used in the next.
 *
 * Not the snapshot's xmin: that counts transactions of every database on the server (another
 * application, a benchmark, an idle-in-transaction session elsewhere) and stalled consumers
 * at the head while committed events waited. A running xid is ignored only when
 * pg_stat_activity, read after the snapshot, shows it in another database; one that ended in
 * between, or a prepared transaction, counts as possibly ours.
 *
 * It reads pg_stat_get_activity(NULL), the function under the pg_stat_activity view, for the
 * two columns it needs: the view joins pg_database and pg_authid as well, and planning it cost
 * ~0.6 ms of the server's CPU per read (more than the read itself; the consumers read the
 * outbox many times a second). The statements using it go as prepared statements (no
 * parameters: one generic plan per connection).
 */
export const HORIZON = `(SELECT COALESCE(min(x), pg_snapshot_xmax(pg_current_snapshot()))
    FROM pg_snapshot_xip(pg_current_snapshot()) x
   WHERE x::xid NOT IN (SELECT a.backend_xid FROM pg_stat_get_activity(NULL) a
                          WHERE a.backend_xid IS NOT NULL
                            AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database())))`;

const COLUMNS = 'id, event_id, tx_id::text AS tx_id, type, version, context, aggregate_type, aggregate_id, payload, occurred_at';

/**
 * The commit-safe order, with the table named: the rows carry `tx_id::text AS tx_id`, and a
 * bare `ORDER BY tx_id` sorts by that output column, as text ('1004' before '857'), so a read
 * spanning a power of ten of transaction ids came back out of order and a batch's last row was
 * not its furthest one (positions moved back, or past unread rows).
 */
export const ORDER = 'events_outbox.tx_id, events_outbox.id';

export interface Batch {
  rows: OutboxRow[];
  /** The last commit-safe row of the whole outbox below the same horizon (any type). */
  head: Position | undefined;
  /** True when committed-or-running rows exist past the safe horizon (worth a quick re-poll). */
  blocked: boolean;
}

/**
 * Reads up to `limit` events after `from`, in commit-safe order, below one horizon (so `head`
 * and `rows` agree). Two statements, no transaction: the rows below a horizon never change.
 * ('blocked' asks for the first row at or past the horizon in index order: as `EXISTS (...
 * WHERE tx_id >= x)` the planner chose a sequential scan, which reads the whole outbox when,
 * as usual, no row is there; the live tail runs this at every wake-up.)
 */
const EDGE = prepared(
  `WITH h AS MATERIALIZED (SELECT ${HORIZON} AS x)
   SELECT h.x::text AS horizon, hd.tx_id::text AS tx_id, hd.id,
          (SELECT tx_id FROM events_outbox WHERE tx_id >= h.x ORDER BY events_outbox.tx_id LIMIT 1) IS NOT NULL AS blocked
     FROM h
     LEFT JOIN LATERAL (
       SELECT tx_id, id FROM events_outbox WHERE tx_id < h.x ORDER BY tx_id DESC, id DESC LIMIT 1) hd ON true`,
);

export async function readBatch(db: Db, from: Position, filter: TypeFilter, limit: number, options: { columns?: string } = {}): Promise<Batch> {
  const columns = options.columns ?? COLUMNS;
  const edge = await db.query<{ horizon: string; tx_id: string | null; id: number | null; blocked: boolean }>(EDGE);
  const e = edge.rows[0];
  const head = e && e.tx_id !== null && e.id !== null ? { txId: e.tx_id, seq: e.id } : undefined;
  if (!head || !after(head, from)) return { rows: [], head, blocked: e?.blocked ?? false };
  const { rows } = await db.query<OutboxRow>(prepared(
    `SELECT ${columns} FROM events_outbox
      WHERE tx_id < $7::xid8
        AND (tx_id, id) > ($1::xid8, $2::bigint)
        AND ($3::boolean OR type = ANY($4::text[]) OR context = ANY($5::text[]))
      ORDER BY ${ORDER}
      LIMIT $6`),
    [from.txId, from.seq, filter.all, filter.exact, filter.contexts, limit, e?.horizon ?? '0'],
  );
  return { rows, head, blocked: e?.blocked ?? false };
}

export async function loadPosition(db: Db, consumer: string): Promise<Position> {
  const read = () =>
    db.query<{ tx_id: string; event_seq: number }>(
      'SELECT tx_id::text AS tx_id, event_seq FROM events_positions WHERE consumer = $1',
      [consumer],
    );
  let { rows } = await read();
  if (rows.length === 0) {
    await db.query('INSERT INTO events_positions (consumer) VALUES ($1) ON CONFLICT (consumer) DO NOTHING', [consumer]);
    ({ rows } = await read());
  }
  const row = rows[0];
  return row ? { txId: row.tx_id, seq: row.event_seq } : START;
}

/**
 * Moves a consumer's position from `expected` to `next`; false when another worker moved it
 * first (the caller rolls back and re-reads).
 */
export async function advancePosition(tx: Db, consumer: string, expected: Position, next: Position): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE events_positions SET tx_id = $4::xid8, event_seq = $5, updated_at = now()
      WHERE consumer = $1 AND tx_id = $2::xid8 AND event_seq = $3`,
    [consumer, expected.txId, expected.seq, next.txId, next.seq],
  );
  return rowCount === 1;
}

const SAFE_HEAD = prepared(
  `SELECT tx_id::text AS tx_id, id FROM events_outbox
    WHERE tx_id < ${HORIZON}
    ORDER BY events_outbox.tx_id DESC, events_outbox.id DESC LIMIT 1`,
);

/** The current commit-safe head of the outbox (what a consumer has to reach). */
export async function safeHead(db: Db): Promise<Position | undefined> {
  const { rows } = await db.query<{ tx_id: string; id: number }>(SAFE_HEAD);
  const r = rows[0];
  return r ? { txId: r.tx_id, seq: r.id } : undefined;
}
