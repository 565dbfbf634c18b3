import { defineErrors } from '../platform/errors.js';

/** The checkout context's error codes. */
export const checkoutError = defineErrors({
  idempotency_key_required: 'invalid',
  invalid_idempotency_key: 'invalid',
  idempotency_in_progress: 'conflict',
  cart_not_found: 'not_found',
  cart_not_open: 'conflict',
  cart_checked_out: 'conflict',
  empty_cart: 'invalid',
  too_many_lines: 'invalid',
  invalid_quantity: 'invalid',
  invalid_cursor: 'invalid',
  invalid_address: 'invalid',
  unknown_sku: 'invalid',
  sku_unavailable: 'conflict',
  unsupported_currency: 'invalid',
  total_mismatch: 'conflict',
  total_out_of_range: 'invalid',
  order_not_found: 'not_found',
  illegal_transition: 'conflict',
  refund_exceeds_paid: 'conflict',
  payment_method_invalid: 'invalid',
  address_required: 'invalid',
  order_not_refundable: 'conflict',
  admin_disabled: 'forbidden',
  unauthenticated: 'unauthorized',
  forbidden: 'forbidden',
});

export type CheckoutErrorCode = Parameters<typeof checkoutError>[0];
