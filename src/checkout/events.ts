import { z } from 'zod';
import { defineEvent, type EventDefinition } from '../events/index.js';
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

const ORDER_EVENT_WHEN: Readonly<Record<OrderStatus, string>> = {
  pending_payment: 'An order was placed (stock reserved, payment about to start).',
  paid: 'The payment of an order was approved: the reservation became a sale.',
  payment_failed: 'The payment of an order was rejected: its reservation was released.',
  expired: 'An order waited for its payment past the reservation time: its reservation was released.',
  cancelled: 'An order was cancelled.',
  refunding: 'A refund of an order was requested at the processor.',
  partially_refunded: 'Part of the order total was refunded.',
  refunded: 'The whole order total was refunded.',
  fulfilled: 'The order was handed over for delivery.',
  on_hold: 'The payment was approved but fraud prevention holds the order for a person to review (its stock stays reserved).',
};

/** The event types checkout publishes (one per order status, same payload), for the catalogue. */
export const CHECKOUT_EVENTS: readonly EventDefinition[] = ORDER_STATUSES.map((status) =>
  defineEvent({
    type: ORDER_EVENT_TYPE[status], version: 1, aggregateType: 'order', schema: OrderEventV1,
    description: `${ORDER_EVENT_WHEN[status]} Payload: the order after the transition (lines, totals, delivery comuna/región; no street or name).`,
  }),
);

// What checkout reads: the payments context's published schemas (its public contract).
export { FraudReviewDecidedV1, PaymentApprovedV1, PaymentExpiredV1, PaymentPendingV1, PaymentRejectedV1, RefundSucceededV1 } from '../payments/index.js';
