import { defineErrors } from '../platform/errors.js';

/** The inventory's error codes, each with its kind. */
export const inventoryError = defineErrors({
  insufficient_stock: 'conflict',
  unknown_sku: 'not_found',
  unknown_location: 'not_found',
  location_exists: 'conflict',
  reservation_not_found: 'not_found',
  reservation_expired: 'conflict',
  reservation_released: 'conflict',
  reservation_committed: 'conflict',
  stock_below_reserved: 'conflict',
  purchase_order_not_found: 'not_found',
  invalid_transition: 'conflict',
  invalid_inventory_input: 'invalid',
  inventory_overloaded: 'unavailable',
  admin_disabled: 'forbidden',
  forbidden: 'forbidden',
});

export type InventoryErrorCode = Parameters<typeof inventoryError>[0];
