import { appendEvents, type EventEnvelope } from '../events/index.js';
import type { Clock } from '../platform/clock.js';
import type { Database, Db } from '../platform/db.js';
import { isAppError } from '../platform/errors.js';
import type { Logger } from '../platform/log.js';
import { canTransition, decide, type Decision, type Effect, type OrderInput, type OrderStatus } from './domain/order-state.js';
import { checkoutError } from './errors.js';
import {
  FraudReviewDecidedV1, ORDER_EVENT_TYPE, OrderEventV1, PaymentApprovedV1, PaymentExpiredV1, PaymentPendingV1, PaymentRejectedV1, RefundSucceededV1,
} from './events.js';
import type { InventoryPort, PaymentsPort } from './ports.js';
import * as store from './store.js';

export interface OrderServiceDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  inventory: InventoryPort;
  payments: PaymentsPort;
  /** Called after a transition made by this service has committed (SSE wake-up). */
  onCommitted?: (orderId: string) => void;
}

export type ApplyOutcome =
  | { kind: 'transitioned'; from: OrderStatus; to: OrderStatus; reason: string }
  | { kind: 'ignored'; status: OrderStatus; reason: string };

/** The event types of the payments context this service consumes. */
export const PAYMENT_EVENT_TYPES = [
  'payments.payment_approved', 'payments.payment_rejected', 'payments.payment_expired',
  'payments.payment_pending', 'payments.refund_succeeded', 'payments.fraud_review_decided',
] as const;

/** How long stock stays reserved for an order held for fraud review. */
const REVIEW_HOLD_SECONDS = 7 * 24 * 3600;

const again = (id: string | undefined) => (id === undefined ? ('unfillable' as const) : { reservationId: id });
const isCode = (err: unknown, ...codes: string[]) => isAppError(err) && codes.includes(err.code);

/**
 * Order transitions: each one locks the order row, asks the state machine, runs the
 * compensating effects (stock commit/release, refund — all idempotent on the other side),
 * and records the new state, its transition row, the read model and the outbox event in the
 * same transaction.
 */
export function createOrderService(deps: OrderServiceDeps) {
  const { db, clock, logger, inventory, payments } = deps;

  /**
   * Takes stock again for an order whose reservation is gone and commits it at once. The new
   * reservation is recorded (committed on its own) before it is sold, so a retry after a crash
   * sells that one again (idempotent) rather than a second lot; one that lapsed unsold before
   * the retry is replaced.
   */
  const reserveAgain = async (order: store.OrderRow, tx: Db): Promise<string | undefined> => {
    const taken = await store.lateReservation(db, order.id);
    if (taken) {
      try {
        await inventory.commit(taken);
        return taken;
      } catch (err) {
        if (!isCode(err, 'reservation_expired', 'reservation_released', 'reservation_not_found')) throw err;
      }
    }
    const lines = await store.orderLines(tx, order.id);
    try {
      const r = await inventory.reserve({ lines: lines.map((l) => ({ sku: l.sku, quantity: l.quantity })), ttlSeconds: 300, reference: order.id });
      await store.recordLateReservation(db, order.id, r.id, clock.now());
      await inventory.commit(r.id);
      return r.id;
    } catch (err) {
      if (isCode(err, 'insufficient_stock', 'unknown_sku')) return undefined;
      throw err;
    }
  };

  /** Runs a decision's effects; may turn it into another decision (late approval, no stock). */
  const runEffects = async (tx: Db, order: store.OrderRow, decision: Extract<Decision, { kind: 'transition' }>, input: OrderInput) => {
    let reservationId: string | undefined;
    for (const effect of decision.effects) {
      const fallback = await runEffect(tx, order, effect);
      if (fallback === 'unfillable') {
        const attemptId = decision.paidAttemptId ?? order.payment_attempt_id ?? 'unknown';
        const amount = input.type === 'payment_approved' ? input.amount : order.total;
        const next = decide(facts(order), { type: 'late_approval_unfillable', attemptId, amount });
        if (next.kind !== 'transition') throw new Error(`late approval of ${order.id} cannot be compensated: ${next.kind}`);
        await runEffects(tx, order, next, input);
        return next;
      }
      if (fallback !== undefined) reservationId = fallback.reservationId;
    }
    return reservationId ? { ...decision, reservationId } : decision;
  };

  const runEffect = async (tx: Db, order: store.OrderRow, effect: Effect): Promise<{ reservationId: string } | 'unfillable' | undefined> => {
    switch (effect.kind) {
      case 'commit_stock':
        try {
          await inventory.commit(order.reservation_id);
          return undefined;
        } catch (err) {
          if (!isCode(err, 'reservation_expired', 'reservation_released', 'reservation_not_found')) throw err;
          logger.warn({ orderId: order.id }, 'payment approved after the reservation lapsed: reserving again');
          return again(await reserveAgain(order, tx));
        }
      case 'reserve_and_commit_stock':
        return again(await reserveAgain(order, tx));
      case 'release_stock':
        await inventory.release(order.reservation_id, 'order_not_paid');
        return undefined;
      case 'hold_stock':
        // Best effort: if the reservation lapses anyway, approving the review reserves again.
        try {
          await inventory.extend?.(order.reservation_id, REVIEW_HOLD_SECONDS);
        } catch (err) {
          if (!isCode(err, 'reservation_expired', 'reservation_released', 'reservation_not_found')) throw err;
        }
        return undefined;
      case 'refund_payment':
        logger.warn({ orderId: order.id, amount: effect.amount, reason: effect.reason }, 'refunding a payment the order cannot keep');
        // Keyed per order effect: when this order transaction is retried (a crash after the
        // refund, a redelivered event), the repeat returns the first refund, never a second one.
        await payments.refund({ orderId: order.id, amount: effect.amount, reason: effect.reason, key: `order-effect:${effect.reason}` });
        return undefined;
    }
  };

  /** Applies one input to a locked order inside `tx`. Throws `illegal_transition` on rejects. */
  const applyInTx = async (tx: Db, orderId: string, input: OrderInput, cause: string | null, ifMissing: 'throw' | 'skip' = 'throw'): Promise<ApplyOutcome | undefined> => {
    const order = await store.findOrder(tx, orderId, true);
    if (!order) {
      if (ifMissing === 'skip') return undefined; // another shop's payment, or an order never placed
      throw checkoutError('order_not_found', 'no such order', { orderId });
    }
    const first = decide(facts(order), input);
    if (first.kind === 'ignore') {
      logger.info({ orderId, input: input.type, status: order.status, reason: first.reason }, 'order input ignored');
      return { kind: 'ignored', status: order.status, reason: first.reason };
    }
    if (first.kind === 'reject') throw checkoutError(first.code, first.message, { orderId, status: order.status, input: input.type });
    const decision = await runEffects(tx, order, first, input);
    if (!canTransition(order.status, decision.to)) {
      // The table in domain/order-state.ts is the law; decide() must never step outside it.
      throw checkoutError('illegal_transition', `${order.status} → ${decision.to} is not allowed`, { orderId });
    }
    const now = clock.now();
    const paidAttemptId = decision.paidAttemptId ?? order.payment_attempt_id;
    const refundedAmount = decision.refundedAmount ?? order.refunded_amount;
    await store.updateOrderState(tx, {
      id: order.id, status: decision.to, paymentAttemptId: paidAttemptId, refundedAmount, now,
      ...('reservationId' in decision && typeof decision.reservationId === 'string' ? { reservationId: decision.reservationId } : {}),
    });
    await store.insertTransition(tx, { orderId, from: order.status, to: decision.to, reason: decision.reason, cause, now });
    await store.setStatusView(tx, orderId, decision.to, now, paymentStatusFor(decision.to));
    const lines = await store.orderLines(tx, orderId);
    await publish(tx, { ...order, status: decision.to, payment_attempt_id: paidAttemptId, refunded_amount: refundedAmount }, lines, order.status, decision.reason, now);
    return { kind: 'transitioned', from: order.status, to: decision.to, reason: decision.reason };
  };

  const apply = async (orderId: string, input: OrderInput, cause: string | null): Promise<ApplyOutcome> => {
    const outcome = (await db.transaction((tx) => applyInTx(tx, orderId, input, cause))) as ApplyOutcome;
    if (outcome.kind === 'transitioned') deps.onCommitted?.(orderId);
    return outcome;
  };

  return {
    applyInTx,
    apply,

    /**
     * The consumer of `payments.*` outcome events. Runs inside the event bus's transaction
     * (with its inbox row), so each event moves the order at most once; duplicates and late
     * or out-of-order outcomes are ignored by the state machine.
     */
    async handlePaymentEvent(tx: Db, event: EventEnvelope): Promise<void> {
      const cause = `event:${event.id}`;
      switch (event.type) {
        case 'payments.payment_approved': {
          const p = PaymentApprovedV1.parse(event.payload);
          await applyInTx(tx, p.orderId, { type: 'payment_approved', attemptId: p.attemptId, amount: p.amount, ...(p.fraudHold ? { hold: true } : {}) }, cause, 'skip');
          return;
        }
        case 'payments.payment_rejected': {
          const p = PaymentRejectedV1.parse(event.payload);
          await applyInTx(tx, p.orderId, { type: 'payment_rejected', attemptId: p.attemptId, reason: p.reason }, cause, 'skip');
          return;
        }
        case 'payments.payment_expired': {
          const p = PaymentExpiredV1.parse(event.payload);
          await applyInTx(tx, p.orderId, { type: 'payment_expired', attemptId: p.attemptId }, cause, 'skip');
          return;
        }
        case 'payments.payment_pending': {
          const p = PaymentPendingV1.parse(event.payload);
          await tx.query(
            `UPDATE checkout_order_status SET payment_status = 'pending', version = version + 1, updated_at = $2
             WHERE order_id = $1 AND status = 'pending_payment' AND payment_status IS DISTINCT FROM 'pending'`,
            [p.orderId, clock.now()],
          );
          return;
        }
        case 'payments.refund_succeeded': {
          const p = RefundSucceededV1.parse(event.payload);
          if (!(await store.findOrder(tx, p.orderId, true))) return;
          if (!(await store.insertRefund(tx, { refundId: p.refundId, orderId: p.orderId, amount: p.amount, now: clock.now() }))) return;
          await applyInTx(tx, p.orderId, { type: 'refund_succeeded', amount: p.amount }, cause);
          return;
        }
        case 'payments.fraud_review_decided': {
          const p = FraudReviewDecidedV1.parse(event.payload);
          await applyInTx(tx, p.orderId, { type: p.outcome === 'approve' ? 'review_approved' : 'review_rejected' }, cause, 'skip');
          return;
        }
        default:
          return;
      }
    },

    /** Expires pending orders whose reservation time is over; returns how many moved. */
    async expireDue(limit = 100): Promise<number> {
      let moved = 0;
      for (const id of await store.duePendingOrders(db, clock.now(), limit)) {
        const outcome = await apply(id, { type: 'reservation_timeout' }, 'sweeper');
        if (outcome.kind === 'transitioned') moved++;
      }
      return moved;
    },

    /**
     * Asks payments for a refund of a paid order; the order moves when the refund succeeds.
     * `key` (the request's Idempotency-Key) makes a retry after a crash return the same refund.
     */
    async requestRefund(orderId: string, amount: number, reason: string, key?: string): Promise<{ requested: number; refundable: number }> {
      return db.transaction(async (tx) => {
        const order = await store.findOrder(tx, orderId, true);
        if (!order) throw checkoutError('order_not_found', 'no such order');
        const open = ['paid', 'fulfilled', 'partially_refunded'].includes(order.status);
        const refundable = open ? order.total - order.refunded_amount : 0;
        const refusal = !open
          ? checkoutError('order_not_refundable', `an order that is ${order.status} cannot be refunded`)
          : amount > refundable ? checkoutError('refund_exceeds_paid', `at most ${refundable} CLP can be refunded`, { refundable }) : undefined;
        if (refusal) {
          // A retry after a crash of a refund that went through finds it counted already (even the
          // order refunded whole): payments knows its key and answers with the first refund. Any
          // other request is refused here; payments refuses it too (the order's refunded amount
          // never runs ahead of payments'), so asking it changes nothing.
          // (Not while `refunding`: the automatic refund may not be with payments yet.)
          const maybeRefunded = open || order.status === 'refunded';
          const earlier = key === undefined || !maybeRefunded ? undefined : await payments.refund({ orderId, amount, reason, key }).catch((err: unknown) => {
            if (isAppError(err) && ['refund_exceeds_captured', 'refund_in_progress', 'no_approved_payment'].includes(err.code)) return undefined;
            throw err;
          });
          if (!earlier) throw refusal;
          return { requested: amount, refundable };
        }
        await payments.refund({ orderId, amount, reason, ...(key !== undefined ? { key } : {}) });
        return { requested: amount, refundable: refundable - amount };
      });
    },
  };
}

export type OrderService = ReturnType<typeof createOrderService>;

function facts(order: store.OrderRow) {
  return { status: order.status, total: order.total, refundedAmount: order.refunded_amount, paidAttemptId: order.payment_attempt_id };
}

function paymentStatusFor(status: OrderStatus): string | undefined {
  switch (status) {
    case 'paid':
      return 'approved';
    case 'payment_failed':
      return 'rejected';
    case 'on_hold':
      return 'review';
    case 'expired':
      return 'expired';
    case 'pending_payment':
    case 'cancelled':
    case 'refunding':
    case 'partially_refunded':
    case 'refunded':
    case 'fulfilled':
      return undefined;
  }
}

/** Appends the `checkout.order_*` event of an order's new status. */
export async function publish(
  tx: Db, order: store.OrderRow, lines: store.OrderLineRow[], previous: OrderStatus | null, reason: string, now: Date,
): Promise<void> {
  const payload = OrderEventV1.parse({
    orderId: order.id,
    customerId: order.customer_id,
    status: order.status,
    previousStatus: previous,
    reason,
    currency: order.currency,
    subtotal: order.subtotal,
    shipping: order.shipping,
    total: order.total,
    refundedAmount: order.refunded_amount,
    paymentMethod: order.payment_method,
    paymentAttemptId: order.payment_attempt_id,
    lines: lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPrice: l.unit_price })),
    delivery: { comuna: order.delivery.comuna, region: order.delivery.region, regionCode: order.delivery.regionCode },
    placedAt: order.created_at.toISOString(),
    occurredAt: now.toISOString(),
  });
  await appendEvents(tx, [{ type: ORDER_EVENT_TYPE[order.status], version: 1, aggregateType: 'order', aggregateId: order.id, payload, occurredAt: now }]);
}
