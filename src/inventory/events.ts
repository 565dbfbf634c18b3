import { z } from 'zod';
import { defineEvent, type EventDefinition } from '../events/index.js';

export const STOCK_CHANGED = 'inventory.stock_changed';

/** `inventory.stock_changed` v1: one SKU-location after a change (a public contract). */
export const StockChangedV1 = z
  .object({
    sku: z.string(),
    locationId: z.string(),
    onHand: z.number().int().nonnegative(),
    reserved: z.number().int().nonnegative(),
    available: z.number().int().nonnegative(),
  })
  .strict();
export type StockChangedV1 = z.infer<typeof StockChangedV1>;

/**
 * The PostgreSQL channel carrying availability to the SSE feed, notified in the same
 * transaction as the change (delivered only if it commits). Payload: JSON array of
 * `[sku, locationId, available, version]`.
 */
export const AVAILABILITY_CHANNEL = 'inventory_availability';

/** The event types inventory publishes, registered with the bus for the generated catalogue. */
export const INVENTORY_EVENTS: readonly EventDefinition[] = [
  defineEvent({
    type: STOCK_CHANGED, version: 1, aggregateType: 'stock_level', schema: StockChangedV1,
    description: 'On-hand or reserved stock of one SKU at one location changed (receipt, reservation, release, sale, adjustment); aggregate id `<sku>@<locationId>`.',
  }),
];
