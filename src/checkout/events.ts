import { z } from 'zod';
import { ORDER_STATUSES, type OrderStatus } from './domain/order-state.js';

/**
 * The payload of every `checkout.order_*` event, version 1: the order as it is after the
 * transition (lines with unit prices, delivery comuna/región — no street or name).
 */
export const OrderEventV1 = z.object({
  orderId: z.uuid(),
  customerId: z.uuid(),
  status: z.enum(ORDER_STATUSES),
  previousStatus: z.enum(ORDER_STATUSES).nullable(),
  reason: z.string(),
  currency: z.literal('CLP'),
  subtotal: z.number().int(),
  shipping: z.number().int(),
  total: z.number().int(),
  refundedAmount: z.number().int(),
  paymentMethod: z.string(),
  paymentAttemptId: z.string().nullable(),
  lines: z.array(z.object({ sku: z.string(), quantity: z.number().int(), unitPrice: z.number().int() })),
  delivery: z.object({ comuna: z.string(), region: z.string(), regionCode: z.string() }),
  placedAt: z.string(),
  occurredAt: z.string(),
});
export type OrderEventV1 = z.infer<typeof OrderEventV1>;

/** The event type published when an order enters a status. */
export const ORDER_EVENT_TYPE: Readonly<Record<OrderStatus, string>> = {
  pending_payment: 'checkout.order_placed',
  paid: 'checkout.order_paid',
  payment_failed: 'checkout.order_payment_failed',
  expired: 'checkout.order_expired',
  cancelled: 'checkout.order_cancelled',
  refunding: 'checkout.order_refunding',
  partially_refunded: 'checkout.order_partially_refunded',
  refunded: 'checkout.order_refunded',
  fulfilled: 'checkout.order_fulfilled',
  on_hold: 'checkout.order_held',
};

// What checkout reads: the payments context's published schemas (its public contract).
export { FraudReviewDecidedV1, PaymentApprovedV1, PaymentExpiredV1, PaymentPendingV1, PaymentRejectedV1, RefundSucceededV1 } from '../payments/index.js';
