import { z } from 'zod';

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
