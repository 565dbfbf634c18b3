import type { z } from 'zod';
import { appendEvents, type NewEvent } from '../events/index.js';
import type { Db } from '../platform/db.js';
import { inventoryError } from './errors.js';
import { AVAILABILITY_CHANNEL, STOCK_CHANGED, StockChangedV1 } from './events.js';
import * as store from './store.js';
import type { LevelRow, MovementRow } from './store.js';

/** Parses a use case's input, turning zod issues into an `invalid_inventory_input` error. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw inventoryError('invalid_inventory_input', 'the input is not valid', {
      issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  return result.data;
}

/**
 * The event of one level after a change, stamped with the caller's clock (demand is dated by it;
 * required: a wall-clock default would order it against clock-stamped events of the same level).
 */
export const stockChangedEvent = (l: LevelRow, occurredAt: Date): NewEvent<StockChangedV1> => ({
  type: STOCK_CHANGED,
  occurredAt,
  version: 1,
  aggregateType: 'stock_level',
  aggregateId: `${l.sku}@${l.locationId}`,
  payload: StockChangedV1.parse({
    sku: l.sku,
    locationId: l.locationId,
    onHand: l.onHand,
    reserved: l.reserved,
    available: l.onHand - l.reserved,
  }),
});

const key = (sku: string, locationId: string) => `${sku}\u0000${locationId}`;

/**
 * Applies movements to stock levels inside `tx`: locks the rows in the global lock order,
 * checks every invariant on the result (reserved ≥ 0, available ≥ 0) before writing, then
 * writes levels, ledger rows, the availability notification and one `inventory.stock_changed`
 * event per changed level — all in the caller's transaction.
 */
export async function applyMovements(tx: Db, movements: readonly MovementRow[], now: Date): Promise<LevelRow[]> {
  const keys = [...new Map(movements.map((m) => [key(m.sku, m.locationId), { sku: m.sku, locationId: m.locationId }])).values()];
  const locked = await store.lockLevels(tx, keys);
  const levels = new Map(locked.map((l) => [key(l.sku, l.locationId), { ...l, version: l.version + 1 }]));
  for (const m of movements) {
    const level = levels.get(key(m.sku, m.locationId));
    if (!level) throw inventoryError('unknown_sku', `no stock of ${m.sku} at ${m.locationId}`, { sku: m.sku, locationId: m.locationId });
    level.onHand += m.onHandDelta;
    level.reserved += m.reservedDelta;
  }
  for (const level of levels.values()) {
    if (level.reserved < 0 || level.onHand - level.reserved < 0) {
      const before = locked.find((l) => l.sku === level.sku && l.locationId === level.locationId);
      const available = before ? before.onHand - before.reserved : 0;
      const moving = movements.some((m) => m.kind === 'transfer_out' && m.sku === level.sku && m.locationId === level.locationId);
      throw moving
        ? inventoryError('insufficient_stock', `only ${available} of ${level.sku} available at ${level.locationId}`, {
            sku: level.sku,
            locationId: level.locationId,
            available,
          })
        : inventoryError('stock_below_reserved', `on hand of ${level.sku} at ${level.locationId} would fall below what is reserved`, {
            sku: level.sku,
            locationId: level.locationId,
            onHand: before?.onHand,
            reserved: before?.reserved,
          });
    }
  }
  const changed = [...levels.values()];
  await store.writeLevels(tx, changed, movements, now, AVAILABILITY_CHANNEL);
  await appendEvents(tx, changed.map((l) => stockChangedEvent(l, now)));
  return changed;
}
