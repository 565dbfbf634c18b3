import { defineErrors } from '../platform/errors.js';

/** Payments error catalogue. */
export const paymentsError = defineErrors({
  invalid_amount: 'invalid',
  invalid_payment_request: 'invalid',
  saved_card_required: 'invalid',
  card_token_required: 'invalid',
  saved_card_not_found: 'not_found',
  attempt_not_found: 'not_found',
  no_approved_payment: 'not_found',
  inscription_not_found: 'not_found',
  invalid_return: 'invalid',
  invalid_settlement: 'invalid',
  invalid_signature: 'unauthorized',
  order_already_paid: 'conflict',
  payment_in_progress: 'conflict',
  refund_exceeds_captured: 'conflict',
  refund_in_progress: 'conflict',
  refund_key_mismatch: 'conflict',
  invalid_refund_key: 'invalid',
  fraud_blocked: 'payment_failed',
  invalid_fraud_rules: 'invalid',
  review_not_found: 'not_found',
  review_already_decided: 'conflict',
  admin_disabled: 'forbidden',
  forbidden: 'forbidden',
  processor_unavailable: 'unavailable',
  vault_unavailable: 'unavailable',
  processor_not_configured: 'unavailable',
});
export type PaymentsErrorCode = Parameters<typeof paymentsError>[0];
