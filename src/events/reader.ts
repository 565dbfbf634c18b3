import type { Db } from '../platform/db.js';
import type { EventEnvelope } from './outbox.js';

/**
 * A place in the outbox's commit-safe order. Rows are read ordered by (tx_id, id) and only
 * when their transaction id is below the reading snapshot's xmin: every transaction below
 * xmin has ended, so no row can later appear before a position already passed. A plain
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

export function positionOf(row: OutboxRow): Position {
  return { txId: row.tx_id, seq: row.id };
}

export function after(a: Position, b: Position): boolean {
  const ta = BigInt(a.txId);
  const tb = BigInt(b.txId);
  return ta > tb || (ta === tb && a.seq > b.seq);
}

const COLUMNS = 'id, event_id, tx_id::text AS tx_id, type, version, context, aggregate_type, aggregate_id, payload, occurred_at';

export interface Batch {
  rows: OutboxRow[];
  /** The last commit-safe row of the whole outbox in the same snapshot (any type). */
  head: Position | undefined;
  /** True when committed-or-running rows exist past the safe horizon (worth a quick re-poll). */
  blocked: boolean;
}

/**
 * Reads up to `limit` events after `from`, in commit-safe order, in one snapshot (so `head`
 * and `rows` agree on the horizon).
 */
export async function readBatch(db: Db, from: Position, filter: TypeFilter, limit: number, options: { columns?: string } = {}): Promise<Batch> {
  const columns = options.columns ?? COLUMNS;
  return db.transaction(
    async (tx) => {
      const { rows } = await tx.query<OutboxRow>(
        `SELECT ${columns} FROM events_outbox
          WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
            AND (tx_id, id) > ($1::xid8, $2::bigint)
            AND ($3::boolean OR type = ANY($4::text[]) OR context = ANY($5::text[]))
          ORDER BY tx_id, id
          LIMIT $6`,
        [from.txId, from.seq, filter.all, filter.exact, filter.contexts, limit],
      );
      const edge = await tx.query<{ tx_id: string; id: number; blocked: boolean }>(
        `SELECT h.tx_id::text AS tx_id, h.id,
                EXISTS (SELECT 1 FROM events_outbox WHERE tx_id >= pg_snapshot_xmin(pg_current_snapshot())) AS blocked
           FROM (SELECT 1) one
           LEFT JOIN LATERAL (
             SELECT tx_id, id FROM events_outbox
              WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
              ORDER BY tx_id DESC, id DESC LIMIT 1) h ON true`,
      );
      const e = edge.rows[0];
      return {
        rows,
        head: e && e.tx_id !== null ? { txId: e.tx_id, seq: e.id } : undefined,
        blocked: e?.blocked ?? false,
      };
    },
    { isolation: 'repeatable read' },
  );
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

/** The current commit-safe head of the outbox (what a consumer has to reach). */
export async function safeHead(db: Db): Promise<Position | undefined> {
  const { rows } = await db.query<{ tx_id: string; id: number }>(
    `SELECT tx_id::text AS tx_id, id FROM events_outbox
      WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY tx_id DESC, id DESC LIMIT 1`,
  );
  const r = rows[0];
  return r ? { txId: r.tx_id, seq: r.id } : undefined;
}
