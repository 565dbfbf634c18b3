import { outboxInsert, type NewEvent } from '../events/index.js';
import { prepared, type Db } from '../platform/db.js';
import type { LevelState } from './domain/allocation.js';

export type MovementKind =
  | 'receipt' | 'adjustment' | 'reservation' | 'release' | 'expiry' | 'sale' | 'return' | 'transfer_out' | 'transfer_in';

export type ReservationStatus = 'active' | 'committed' | 'released' | 'expired';

export interface LevelRow {
  sku: string;
  locationId: string;
  onHand: number;
  reserved: number;
  version: number;
}

export interface MovementRow {
  sku: string;
  locationId: string;
  kind: MovementKind;
  onHandDelta: number;
  reservedDelta: number;
  reservationId?: string;
  reference?: string;
  reason?: string;
}

export interface ReservationRow {
  id: string;
  status: ReservationStatus;
  reference: string | null;
  expiresAt: Date;
}

export interface ReservationLineRow {
  reservationId: string;
  lineNo: number;
  sku: string;
  locationId: string;
  quantity: number;
}

interface DbLevel {
  sku: string;
  location_id: string;
  on_hand: number;
  reserved: number;
  version: number;
  priority: number;
}

/** Locks the given SKU-location rows in (sku, location) order, the one lock order every writer uses. */
export async function lockLevels(tx: Db, keys: readonly { sku: string; locationId: string }[]): Promise<LevelRow[]> {
  const { rows } = await tx.query<DbLevel & Record<string, unknown>>(
    `SELECT sku, location_id, on_hand, reserved, version FROM inventory_stock
     WHERE (sku, location_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
     ORDER BY sku, location_id FOR UPDATE`,
    [keys.map((k) => k.sku), keys.map((k) => k.locationId)],
  );
  return rows.map((r) => ({ sku: r.sku, locationId: r.location_id, onHand: r.on_hand, reserved: r.reserved, version: r.version }));
}

/** Locks every location row of the given SKUs (same lock order), with each location's priority. */
export async function lockSkus(tx: Db, skus: readonly string[]): Promise<(LevelState & { version: number })[]> {
  const { rows } = await tx.query<DbLevel & Record<string, unknown>>(
    `SELECT s.sku, s.location_id, s.on_hand, s.reserved, s.version, l.priority
     FROM inventory_stock s JOIN inventory_locations l ON l.id = s.location_id
     WHERE s.sku = ANY($1::text[]) ORDER BY s.sku, s.location_id FOR UPDATE OF s`,
    [skus],
  );
  return rows.map((r) => ({
    sku: r.sku,
    locationId: r.location_id,
    onHand: r.on_hand,
    reserved: r.reserved,
    version: r.version,
    priority: r.priority,
  }));
}

/** Creates missing stock rows (and the SKU's inventory item) so they can be locked. */
export async function ensureLevels(tx: Db, keys: readonly { sku: string; locationId: string }[]): Promise<void> {
  await tx.query(
    'INSERT INTO inventory_items (sku) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING',
    [keys.map((k) => k.sku)],
  );
  await tx.query(
    `INSERT INTO inventory_stock (sku, location_id)
     SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`,
    [keys.map((k) => k.sku), keys.map((k) => k.locationId)],
  );
}

/** Chunks availability notifications under PostgreSQL's 8000-byte payload limit. */
export function availabilityPayloads(levels: readonly LevelRow[]): string[] {
  const out: string[] = [];
  let chunk: [string, string, number, number][] = [];
  let size = 2;
  for (const l of levels) {
    const item: [string, string, number, number] = [l.sku, l.locationId, l.onHand - l.reserved, l.version];
    const len = JSON.stringify(item).length + 1;
    if (size + len > 7500 && chunk.length > 0) {
      out.push(JSON.stringify(chunk));
      chunk = [];
      size = 2;
    }
    chunk.push(item);
    size += len;
  }
  if (chunk.length > 0) out.push(JSON.stringify(chunk));
  return out;
}

/**
 * Writes new levels (already computed under lock) and their movements in one statement, and
 * notifies the availability channel (delivered only on commit).
 */
export async function writeLevels(
  tx: Db,
  levels: readonly LevelRow[],
  movements: readonly MovementRow[],
  now: Date,
  channel: string,
): Promise<void> {
  await tx.query(
    `WITH u AS (
       UPDATE inventory_stock s SET on_hand = v.on_hand, reserved = v.reserved, version = v.version
       FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::bigint[]) AS v(sku, location_id, on_hand, reserved, version)
       WHERE s.sku = v.sku AND s.location_id = v.location_id
     ), m AS (
       INSERT INTO inventory_movements (sku, location_id, kind, on_hand_delta, reserved_delta, reservation_id, reference, reason, created_at)
       SELECT *, $14::timestamptz FROM unnest($6::text[], $7::text[], $8::text[], $9::int[], $10::int[], $11::uuid[], $12::text[], $13::text[])
     )
     SELECT pg_notify($15, p) FROM unnest($16::text[]) AS p`,
    [
      levels.map((l) => l.sku),
      levels.map((l) => l.locationId),
      levels.map((l) => l.onHand),
      levels.map((l) => l.reserved),
      levels.map((l) => l.version),
      movements.map((m) => m.sku),
      movements.map((m) => m.locationId),
      movements.map((m) => m.kind),
      movements.map((m) => m.onHandDelta),
      movements.map((m) => m.reservedDelta),
      movements.map((m) => m.reservationId ?? null),
      movements.map((m) => m.reference ?? null),
      movements.map((m) => m.reason ?? null),
      now,
      channel,
      availabilityPayloads(levels),
    ],
  );
}

export interface NewReservation {
  id: string;
  reference: string | null;
  expiresAt: Date;
  lines: { sku: string; locationId: string; quantity: number }[];
}

/**
 * The group-commit write: every reservation of a batch, its lines, its movements and the new
 * levels in one statement, plus the availability notification.
 */
export async function writeReservationBatch(
  tx: Db,
  reservations: readonly NewReservation[],
  levels: readonly LevelRow[],
  now: Date,
  channel: string,
): Promise<void> {
  const lines = reservations.flatMap((r) => r.lines.map((l, i) => ({ ...l, id: r.id, lineNo: i + 1 })));
  await tx.query(
    `WITH r AS (
       INSERT INTO inventory_reservations (id, status, reference, expires_at, created_at)
       SELECT id, 'active', ref, exp, $4 FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS t(id, ref, exp)
     ), l AS (
       INSERT INTO inventory_reservation_lines (reservation_id, line_no, sku, location_id, quantity)
       SELECT * FROM unnest($5::uuid[], $6::int[], $7::text[], $8::text[], $9::int[])
     ), m AS (
       INSERT INTO inventory_movements (sku, location_id, kind, on_hand_delta, reserved_delta, reservation_id, created_at)
       SELECT sku, loc, 'reservation', 0, q, rid, $4 FROM unnest($7::text[], $8::text[], $9::int[], $5::uuid[]) AS t(sku, loc, q, rid)
     ), u AS (
       UPDATE inventory_stock s SET reserved = v.reserved, version = v.version
       FROM unnest($10::text[], $11::text[], $12::int[], $13::bigint[]) AS v(sku, location_id, reserved, version)
       WHERE s.sku = v.sku AND s.location_id = v.location_id
     )
     SELECT pg_notify($14, p) FROM unnest($15::text[]) AS p`,
    [
      reservations.map((r) => r.id),
      reservations.map((r) => r.reference),
      reservations.map((r) => r.expiresAt),
      now,
      lines.map((l) => l.id),
      lines.map((l) => l.lineNo),
      lines.map((l) => l.sku),
      lines.map((l) => l.locationId),
      lines.map((l) => l.quantity),
      levels.map((l) => l.sku),
      levels.map((l) => l.locationId),
      levels.map((l) => l.reserved),
      levels.map((l) => l.version),
      channel,
      availabilityPayloads(levels),
    ],
  );
}

/** Which of these SKUs inventory knows (has an item row for). */
export async function knownSkus(db: Db, skus: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ sku: string }>('SELECT sku FROM inventory_items WHERE sku = ANY($1::text[])', [skus]);
  return new Set(rows.map((r) => r.sku));
}

export async function locationExists(db: Db, ids: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM inventory_locations WHERE id = ANY($1::text[])', [ids]);
  return new Set(rows.map((r) => r.id));
}

export async function lockReservations(tx: Db, ids: readonly string[]): Promise<ReservationRow[]> {
  const { rows } = await tx.query<{ id: string; status: ReservationStatus; reference: string | null; expires_at: Date }>(
    'SELECT id, status, reference, expires_at FROM inventory_reservations WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
    [ids],
  );
  return rows.map((r) => ({ id: r.id, status: r.status, reference: r.reference, expiresAt: r.expires_at }));
}

/** Active reservations due at `now`, locked, skipping those another sweeper or caller holds. */
export async function lockDueReservations(tx: Db, now: Date, limit: number): Promise<ReservationRow[]> {
  const { rows } = await tx.query<{ id: string; status: ReservationStatus; reference: string | null; expires_at: Date }>(
    `SELECT id, status, reference, expires_at FROM inventory_reservations
     WHERE status = 'active' AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [now, limit],
  );
  return rows.map((r) => ({ id: r.id, status: r.status, reference: r.reference, expiresAt: r.expires_at }));
}

export async function reservationLines(db: Db, ids: readonly string[]): Promise<ReservationLineRow[]> {
  const { rows } = await db.query<{ reservation_id: string; line_no: number; sku: string; location_id: string; quantity: number }>(
    `SELECT reservation_id, line_no, sku, location_id, quantity FROM inventory_reservation_lines
     WHERE reservation_id = ANY($1::uuid[]) ORDER BY reservation_id, line_no`,
    [ids],
  );
  return rows.map((r) => ({ reservationId: r.reservation_id, lineNo: r.line_no, sku: r.sku, locationId: r.location_id, quantity: r.quantity }));
}

export async function findReservation(db: Db, id: string): Promise<ReservationRow | undefined> {
  const { rows } = await db.query<{ id: string; status: ReservationStatus; reference: string | null; expires_at: Date }>(
    'SELECT id, status, reference, expires_at FROM inventory_reservations WHERE id = $1',
    [id],
  );
  const r = rows[0];
  return r && { id: r.id, status: r.status, reference: r.reference, expiresAt: r.expires_at };
}

export async function finishReservations(
  tx: Db,
  ids: readonly string[],
  status: Exclude<ReservationStatus, 'active'>,
  reason: string | null,
  now: Date,
): Promise<void> {
  await tx.query(
    `UPDATE inventory_reservations SET status = $2, reason = $3, finished_at = $4 WHERE id = ANY($1::uuid[])`,
    [ids, status, reason, now],
  );
}

export async function availability(db: Db, skus: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ sku: string; available: number }>(
    `SELECT sku, sum(on_hand - reserved)::bigint AS available FROM inventory_stock WHERE sku = ANY($1::text[]) GROUP BY sku`,
    [skus],
  );
  return new Map(rows.map((r) => [r.sku, r.available]));
}

/** Per-location availability with row versions (the SSE feed's snapshot). */
export async function availabilityRows(db: Db, skus: readonly string[]): Promise<LevelRow[]> {
  const { rows } = await db.query<DbLevel & Record<string, unknown>>(
    'SELECT sku, location_id, on_hand, reserved, version FROM inventory_stock WHERE sku = ANY($1::text[])',
    [skus],
  );
  return rows.map((r) => ({ sku: r.sku, locationId: r.location_id, onHand: r.on_hand, reserved: r.reserved, version: r.version }));
}

/** Levels (with location priority) of the given SKUs, unlocked: what the batcher plans from. */
export async function readSkuLevels(db: Db, skus: readonly string[]): Promise<LevelState[]> {
  const { rows } = await db.query<DbLevel & Record<string, unknown>>(
    `SELECT s.sku, s.location_id, s.on_hand, s.reserved, l.priority
     FROM inventory_stock s JOIN inventory_locations l ON l.id = s.location_id WHERE s.sku = ANY($1::text[])`,
    [skus],
  );
  return rows.map((r) => ({ sku: r.sku, locationId: r.location_id, onHand: r.on_hand, reserved: r.reserved, priority: r.priority }));
}

/**
 * The late-locking group-commit write (function `inventory_reserve_batch`): locks every row of
 * `skus`, and only if they still equal `plannedFrom` writes the reservations, their lines and
 * movements, adds `deltas` to reserved and notifies `channel`. Returns undefined when applied,
 * else the current levels (nothing written).
 */
export async function applyReservationBatch(
  db: Db,
  input: {
    skus: readonly string[];
    plannedFrom: readonly LevelState[];
    deltas: readonly { sku: string; locationId: string; delta: number }[];
    reservations: readonly NewReservation[];
    now: Date;
    channel: string;
    /** Events appended to the outbox by the same statement when the batch applies. */
    events?: readonly NewEvent[] | undefined;
  },
): Promise<LevelState[] | undefined> {
  const { plannedFrom, deltas, reservations } = input;
  const lines = reservations.flatMap((r) => r.lines.map((l, i) => ({ ...l, id: r.id, lineNo: i + 1 })));
  const call = `SELECT inventory_reserve_batch($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[], $8::int[],
       $9::uuid[], $10::text[], $11::timestamptz[], $12::uuid[], $13::int[], $14::text[], $15::text[], $16::int[], $17, $18) AS current`;
  // With outbox rows: one statement (atomic on its own) calls the function, then appends the
  // rows only if it applied the batch, still under the stock rows' locks it took, so a SKU's
  // events take outbox ids in its commit order.
  const params: unknown[] = [
    input.skus,
    plannedFrom.map((l) => l.sku),
    plannedFrom.map((l) => l.locationId),
    plannedFrom.map((l) => l.onHand),
    plannedFrom.map((l) => l.reserved),
    deltas.map((d) => d.sku),
    deltas.map((d) => d.locationId),
    deltas.map((d) => d.delta),
    reservations.map((r) => r.id),
    reservations.map((r) => r.reference),
    reservations.map((r) => r.expiresAt),
    lines.map((l) => l.id),
    lines.map((l) => l.lineNo),
    lines.map((l) => l.sku),
    lines.map((l) => l.locationId),
    lines.map((l) => l.quantity),
    input.now,
    input.channel,
  ];
  const outbox = input.events?.length ? outboxInsert(input.events, params.length + 1) : undefined;
  const { rows } = await db.query<{ current: [string, string, number, number, number][] | null }>(prepared(
    outbox
      ? `WITH r AS MATERIALIZED (${call}),
         e AS (${outbox.sql} WHERE (SELECT current FROM r) IS NULL)
         SELECT current FROM r`
      : call),
    [...params, ...(outbox?.params ?? [])],
  );
  const current = rows[0]?.current;
  if (!current) {
    outbox?.appended();
    return undefined;
  }
  return current.map(([sku, locationId, onHand, reserved, priority]) => ({ sku, locationId, onHand, reserved, priority }));
}
