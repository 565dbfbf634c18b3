import type { Clock } from '../platform/clock.js';
import type { Db } from '../platform/db.js';
import { AdjustmentInput, LocationInput, ReceiptInput, ReturnInput, SkuCode, TransferInput } from './domain/schemas.js';
import { inventoryError } from './errors.js';
import { applyMovements, parseInput } from './ledger.js';
import * as store from './store.js';

/** Tells inventory which SKUs the catalogue has (catalog.getSkus through index.ts). */
export type SkuCatalogPort = (skus: string[]) => Promise<{ sku: string }[]>;

export interface StockLevel {
  locationId: string;
  onHand: number;
  reserved: number;
  available: number;
}

export interface StockView {
  sku: string;
  safetyThreshold: number;
  onHand: number;
  reserved: number;
  available: number;
  /** Available at or below the safety threshold (the replenishment signal). */
  belowThreshold: boolean;
  locations: StockLevel[];
}

export interface Location {
  id: string;
  name: string;
  kind: 'warehouse' | 'store';
  priority: number;
}

export interface DriftRow {
  sku: string;
  locationId: string;
  onHand: number;
  reserved: number;
  ledgerOnHand: number;
  ledgerReserved: number;
  activeReserved: number;
  problems: string[];
}

export interface InvariantReport {
  ok: boolean;
  checked: number;
  drift: DriftRow[];
}

export function stockService(db: Db, clock: Clock, catalog?: SkuCatalogPort) {
  async function requireLocations(tx: Db, ids: string[]) {
    const found = await store.locationExists(tx, ids);
    const missing = ids.find((id) => !found.has(id));
    if (missing) throw inventoryError('unknown_location', `no location ${missing}`, { locationId: missing });
  }

  async function requireSku(tx: Db, sku: string, allowNew: boolean) {
    if ((await store.knownSkus(tx, [sku])).has(sku)) return;
    const inCatalog = allowNew && (catalog ? (await catalog([sku])).some((s) => s.sku === sku) : true);
    if (!inCatalog) throw inventoryError('unknown_sku', `unknown SKU ${sku}`, { sku });
  }

  /** Stock arriving at a location (a receipt or a customer return). */
  async function inbound(kind: 'receipt' | 'return', input: unknown, tx?: Db) {
    const r = parseInput(kind === 'receipt' ? ReceiptInput : ReturnInput, input);
    const run = async (t: Db) => {
      await requireLocations(t, [r.locationId]);
      await requireSku(t, r.sku, kind === 'receipt');
      await store.ensureLevels(t, [{ sku: r.sku, locationId: r.locationId }]);
      const [level] = await applyMovements(
        t,
        [{ sku: r.sku, locationId: r.locationId, kind, onHandDelta: r.quantity, reservedDelta: 0, ...(r.reference ? { reference: r.reference } : {}) }],
        clock.now(),
      );
      return level as store.LevelRow;
    };
    return tx ? run(tx) : db.transaction(run);
  }

  const toLevel = (l: store.LevelRow): StockLevel => ({
    locationId: l.locationId,
    onHand: l.onHand,
    reserved: l.reserved,
    available: l.onHand - l.reserved,
  });

  return {
    /** Throws `unknown_sku` unless inventory or the catalogue knows the SKU. */
    assertSku: (tx: Db, sku: string) => requireSku(tx, sku, true),
    receive: async (input: unknown, tx?: Db) => toLevel(await inbound('receipt', input, tx)),
    returnStock: async (input: unknown) => toLevel(await inbound('return', input)),

    /** Corrects on hand by `delta` (count, damage, loss) with a reason; never below reserved. */
    async adjust(input: unknown): Promise<StockLevel> {
      const a = parseInput(AdjustmentInput, input);
      return db.transaction(async (tx) => {
        await requireLocations(tx, [a.locationId]);
        await requireSku(tx, a.sku, false);
        await store.ensureLevels(tx, [{ sku: a.sku, locationId: a.locationId }]);
        const [level] = await applyMovements(
          tx,
          [{ sku: a.sku, locationId: a.locationId, kind: 'adjustment', onHandDelta: a.delta, reservedDelta: 0, reason: a.reason }],
          clock.now(),
        );
        return toLevel(level as store.LevelRow);
      });
    },

    /** Moves available units between two locations (two ledger rows, one transaction). */
    async transfer(input: unknown): Promise<{ from: StockLevel; to: StockLevel }> {
      const t = parseInput(TransferInput, input);
      return db.transaction(async (tx) => {
        await requireLocations(tx, [t.fromLocationId, t.toLocationId]);
        await requireSku(tx, t.sku, false);
        await store.ensureLevels(tx, [{ sku: t.sku, locationId: t.fromLocationId }, { sku: t.sku, locationId: t.toLocationId }]);
        const ref = t.reference ? { reference: t.reference } : {};
        const levels = await applyMovements(
          tx,
          [
            { sku: t.sku, locationId: t.fromLocationId, kind: 'transfer_out', onHandDelta: -t.quantity, reservedDelta: 0, ...ref },
            { sku: t.sku, locationId: t.toLocationId, kind: 'transfer_in', onHandDelta: t.quantity, reservedDelta: 0, ...ref },
          ],
          clock.now(),
        );
        const pick = (id: string) => toLevel(levels.find((l) => l.locationId === id) as store.LevelRow);
        return { from: pick(t.fromLocationId), to: pick(t.toLocationId) };
      });
    },

    /** Total available per SKU over every location (0 for SKUs never stocked). */
    async availability(skus: string[]): Promise<{ sku: string; available: number }[]> {
      const valid = skus.filter((s) => SkuCode.safeParse(s).success);
      const levels = valid.length > 0 ? await store.availability(db, valid) : new Map<string, number>();
      return skus.map((sku) => ({ sku, available: Math.max(0, levels.get(sku) ?? 0) }));
    },

    async stock(sku: string): Promise<StockView> {
      if (!SkuCode.safeParse(sku).success) throw inventoryError('unknown_sku', `unknown SKU ${sku}`, { sku });
      const { rows } = await db.query<{ safety_threshold: number }>('SELECT safety_threshold FROM inventory_items WHERE sku = $1', [sku]);
      const item = rows[0];
      if (!item) throw inventoryError('unknown_sku', `unknown SKU ${sku}`, { sku });
      const levels = (await store.availabilityRows(db, [sku])).sort((a, b) => (a.locationId < b.locationId ? -1 : 1)).map(toLevel);
      const sum = (f: (l: StockLevel) => number) => levels.reduce((n, l) => n + f(l), 0);
      const available = sum((l) => l.available);
      return {
        sku,
        safetyThreshold: item.safety_threshold,
        onHand: sum((l) => l.onHand),
        reserved: sum((l) => l.reserved),
        available,
        belowThreshold: available <= item.safety_threshold,
        locations: levels,
      };
    },

    async setSafetyThreshold(sku: string, threshold: number): Promise<void> {
      if (!Number.isInteger(threshold) || threshold < 0 || threshold > 1_000_000_000) {
        throw inventoryError('invalid_inventory_input', 'the safety threshold must be an integer ≥ 0');
      }
      const { rowCount } = await db.query('UPDATE inventory_items SET safety_threshold = $2 WHERE sku = $1', [sku, threshold]);
      if (!rowCount) throw inventoryError('unknown_sku', `unknown SKU ${sku}`, { sku });
    },

    async createLocation(input: unknown): Promise<Location> {
      const l = parseInput(LocationInput, input);
      const { rowCount } = await db.query(
        'INSERT INTO inventory_locations (id, name, kind, priority) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
        [l.id, l.name, l.kind, l.priority],
      );
      if (!rowCount) throw inventoryError('location_exists', `location ${l.id} exists`, { locationId: l.id });
      return l;
    },

    async listLocations(): Promise<Location[]> {
      const { rows } = await db.query<Location & Record<string, unknown>>(
        'SELECT id, name, kind, priority FROM inventory_locations ORDER BY priority, id',
      );
      return rows;
    },

    /** The ledger, newest first. */
    async movements(filter: { sku?: string; limit?: number } = {}) {
      const { rows } = await db.query<{
        id: number; sku: string; location_id: string; kind: store.MovementKind; on_hand_delta: number; reserved_delta: number;
        reservation_id: string | null; reference: string | null; reason: string | null; created_at: Date;
      }>(
        `SELECT id, sku, location_id, kind, on_hand_delta, reserved_delta, reservation_id, reference, reason, created_at
         FROM inventory_movements WHERE ($1::text IS NULL OR sku = $1) ORDER BY id DESC LIMIT $2`,
        [filter.sku ?? null, Math.min(Math.max(filter.limit ?? 100, 1), 1000)],
      );
      return rows.map((r) => ({
        id: r.id,
        sku: r.sku,
        locationId: r.location_id,
        kind: r.kind,
        onHandDelta: r.on_hand_delta,
        reservedDelta: r.reserved_delta,
        reservationId: r.reservation_id,
        reference: r.reference,
        reason: r.reason,
        createdAt: r.created_at,
      }));
    },

    /**
     * Verifies, for every SKU-location, that on_hand and reserved equal the sums of the
     * ledger, that reserved equals the active reservations, and that nothing is negative.
     * Runs in one repeatable-read snapshot; returns every drifting row.
     */
    async checkInvariants(): Promise<InvariantReport> {
      return db.transaction(
        async (tx) => {
          const { rows } = await tx.query<{
            sku: string; location_id: string; on_hand: number | null; reserved: number | null;
            ledger_on_hand: number; ledger_reserved: number; active_reserved: number;
          }>(
            `WITH m AS (
               SELECT sku, location_id, sum(on_hand_delta)::bigint AS on_hand, sum(reserved_delta)::bigint AS reserved
               FROM inventory_movements GROUP BY sku, location_id
             ), a AS (
               SELECT l.sku, l.location_id, sum(l.quantity)::bigint AS reserved
               FROM inventory_reservation_lines l JOIN inventory_reservations r ON r.id = l.reservation_id
               WHERE r.status = 'active' GROUP BY l.sku, l.location_id
             )
             SELECT coalesce(s.sku, m.sku) AS sku, coalesce(s.location_id, m.location_id) AS location_id,
                    s.on_hand, s.reserved, coalesce(m.on_hand, 0)::bigint AS ledger_on_hand,
                    coalesce(m.reserved, 0)::bigint AS ledger_reserved, coalesce(a.reserved, 0)::bigint AS active_reserved
             FROM inventory_stock s
             FULL JOIN m ON m.sku = s.sku AND m.location_id = s.location_id
             LEFT JOIN a ON a.sku = coalesce(s.sku, m.sku) AND a.location_id = coalesce(s.location_id, m.location_id)`,
          );
          const drift: DriftRow[] = [];
          for (const r of rows) {
            const onHand = r.on_hand ?? 0;
            const reserved = r.reserved ?? 0;
            const problems: string[] = [];
            if (r.on_hand === null) problems.push('ledger rows without a stock level');
            if (onHand !== r.ledger_on_hand) problems.push('on_hand differs from the ledger');
            if (reserved !== r.ledger_reserved) problems.push('reserved differs from the ledger');
            if (reserved !== r.active_reserved) problems.push('reserved differs from active reservations');
            if (reserved < 0) problems.push('reserved is negative');
            if (onHand - reserved < 0) problems.push('available is negative');
            if (problems.length > 0) {
              drift.push({
                sku: r.sku,
                locationId: r.location_id,
                onHand,
                reserved,
                ledgerOnHand: r.ledger_on_hand,
                ledgerReserved: r.ledger_reserved,
                activeReserved: r.active_reserved,
                problems,
              });
            }
          }
          return { ok: drift.length === 0, checked: rows.length, drift };
        },
        { isolation: 'repeatable read' },
      );
    },
  };
}

export type StockService = ReturnType<typeof stockService>;
