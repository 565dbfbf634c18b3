/**
 * The order state machine. Pure: it decides the next state and the compensating effects
 * (commit or release stock, refund) from the current order and one input; the service
 * applies the decision in one transaction together with its outbox event.
 *
 *   pending_payment ─approved→ paid ─fulfil→ fulfilled
 *        │ rejected → payment_failed      paid/fulfilled ─refund→ partially_refunded → refunded
 *        │ expired  → expired             payment_failed/expired ─late approval→ paid (stock re-reserved)
 *        │ cancel   → cancelled                                   └ no stock → refunding → refunded
 *        └ approved, fraud review open → on_hold ─review approved→ paid
 *                                                └ review rejected→ refunding (stock released, payment refunded)
 */
export const ORDER_STATUSES = [
  'pending_payment', 'paid', 'payment_failed', 'expired', 'cancelled',
  'refunding', 'partially_refunded', 'refunded', 'fulfilled', 'on_hold',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Every legal edge. Anything else is rejected with `illegal_transition`. */
export const TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending_payment: ['paid', 'payment_failed', 'expired', 'cancelled', 'refunding', 'on_hold'],
  paid: ['fulfilled', 'partially_refunded', 'refunded'],
  payment_failed: ['paid', 'refunding', 'on_hold'],
  expired: ['paid', 'refunding', 'on_hold'],
  // Paid, but fraud prevention wants a person to look first: stock stays reserved.
  on_hold: ['paid', 'refunding'],
  cancelled: ['refunding'],
  refunding: ['partially_refunded', 'refunded'],
  partially_refunded: ['partially_refunded', 'refunded', 'fulfilled'],
  fulfilled: ['partially_refunded', 'refunded'],
  refunded: [],
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** What the state machine needs to know about an order. */
export interface OrderFacts {
  status: OrderStatus;
  total: number;
  refundedAmount: number;
  /** The attempt whose approval paid the order, once paid. */
  paidAttemptId: string | null;
}

export type OrderInput =
  | { type: 'payment_approved'; attemptId: string; amount: number; hold?: boolean }
  | { type: 'review_approved' }
  | { type: 'review_rejected' }
  | { type: 'payment_rejected'; attemptId: string; reason: string }
  | { type: 'payment_expired'; attemptId: string }
  | { type: 'reservation_timeout' }
  | { type: 'late_approval_unfillable'; attemptId: string; amount: number }
  | { type: 'cancel' }
  | { type: 'fulfil' }
  | { type: 'refund_succeeded'; amount: number };

export type Effect =
  | { kind: 'commit_stock' }
  | { kind: 'release_stock' }
  /** The reservation is gone (expired/released): take the stock again, then commit it. */
  | { kind: 'reserve_and_commit_stock' }
  /** Keep the reservation while a person reviews the order. */
  | { kind: 'hold_stock' }
  | { kind: 'refund_payment'; amount: number; reason: string };

export type Decision =
  | { kind: 'transition'; to: OrderStatus; reason: string; effects: Effect[]; paidAttemptId?: string; refundedAmount?: number }
  | { kind: 'ignore'; reason: string }
  | { kind: 'reject'; code: 'illegal_transition'; message: string };

const reject = (from: OrderStatus, what: string): Decision => ({
  kind: 'reject',
  code: 'illegal_transition',
  message: `cannot ${what} an order that is ${from}`,
});

/**
 * Decides what one input does to an order. Inputs that arrive twice or late (a rejection
 * after the order was paid, a second approval of the same attempt) are ignored on purpose;
 * commands that make no sense in the current state are rejected.
 *
 * @example
 * decide({ status: 'pending_payment', total: 1000, refundedAmount: 0, paidAttemptId: null },
 *   { type: 'payment_approved', attemptId: 'a1', amount: 1000 })
 * // → { kind: 'transition', to: 'paid', effects: [{ kind: 'commit_stock' }], paidAttemptId: 'a1', ... }
 */
export function decide(order: OrderFacts, input: OrderInput): Decision {
  const s = order.status;
  switch (input.type) {
    case 'payment_approved': {
      if (order.paidAttemptId !== null) {
        return { kind: 'ignore', reason: input.attemptId === order.paidAttemptId ? 'duplicate_approval' : 'order_already_paid' };
      }
      if (input.amount !== order.total) {
        // Never keep money that does not match the order: give it back.
        const release: Effect[] = s === 'pending_payment' ? [{ kind: 'release_stock' }] : [];
        if (s === 'refunding' || s === 'refunded') return { kind: 'ignore', reason: 'already_refunding' };
        return {
          kind: 'transition', to: 'refunding', reason: 'approved_amount_mismatch', paidAttemptId: input.attemptId,
          effects: [...release, { kind: 'refund_payment', amount: input.amount, reason: 'amount_mismatch' }],
        };
      }
      if (input.hold && (s === 'pending_payment' || s === 'payment_failed' || s === 'expired')) {
        // A late approval's stock is gone: approving the review reserves it again.
        return {
          kind: 'transition', to: 'on_hold', reason: 'fraud_review', paidAttemptId: input.attemptId,
          effects: s === 'pending_payment' ? [{ kind: 'hold_stock' }] : [],
        };
      }
      switch (s) {
        case 'pending_payment':
          return { kind: 'transition', to: 'paid', reason: 'payment_approved', paidAttemptId: input.attemptId, effects: [{ kind: 'commit_stock' }] };
        case 'payment_failed':
        case 'expired':
          return { kind: 'transition', to: 'paid', reason: 'late_approval', paidAttemptId: input.attemptId, effects: [{ kind: 'reserve_and_commit_stock' }] };
        case 'cancelled':
          return {
            kind: 'transition', to: 'refunding', reason: 'approved_after_cancel', paidAttemptId: input.attemptId,
            effects: [{ kind: 'refund_payment', amount: input.amount, reason: 'approved_after_cancel' }],
          };
        case 'paid':
        case 'refunding':
        case 'partially_refunded':
        case 'refunded':
        case 'fulfilled':
        case 'on_hold':
          return { kind: 'ignore', reason: 'order_already_paid' };
      }
      return reject(s, 'approve');
    }
    case 'review_approved':
      // Before the payment's outcome the order simply continues (its approval will not hold it).
      return s === 'on_hold'
        ? { kind: 'transition', to: 'paid', reason: 'fraud_review_approved', effects: [{ kind: 'commit_stock' }] }
        : { kind: 'ignore', reason: 'not_on_hold' };
    case 'review_rejected':
      if (s === 'on_hold') {
        return {
          kind: 'transition', to: 'refunding', reason: 'fraud_review_rejected',
          effects: [{ kind: 'release_stock' }, { kind: 'refund_payment', amount: order.total - order.refundedAmount, reason: 'fraud_review_rejected' }],
        };
      }
      // Rejected before the payment finished: cancel; a later approval is refunded (approved_after_cancel).
      return s === 'pending_payment'
        ? { kind: 'transition', to: 'cancelled', reason: 'fraud_review_rejected', effects: [{ kind: 'release_stock' }] }
        : { kind: 'ignore', reason: 'not_on_hold' };
    case 'late_approval_unfillable':
      if (s !== 'payment_failed' && s !== 'expired' && s !== 'pending_payment' && s !== 'on_hold') return reject(s, 'refund a late approval of');
      return {
        kind: 'transition', to: 'refunding', reason: 'late_approval_no_stock', paidAttemptId: input.attemptId,
        effects: [...(s === 'pending_payment' || s === 'on_hold' ? [{ kind: 'release_stock' } as const] : []), { kind: 'refund_payment', amount: input.amount, reason: 'late_approval_no_stock' }],
      };
    case 'payment_rejected':
      return s === 'pending_payment'
        ? { kind: 'transition', to: 'payment_failed', reason: `payment_rejected:${input.reason}`.slice(0, 200), effects: [{ kind: 'release_stock' }] }
        : { kind: 'ignore', reason: 'not_pending' };
    case 'payment_expired':
      return s === 'pending_payment'
        ? { kind: 'transition', to: 'expired', reason: 'payment_expired', effects: [{ kind: 'release_stock' }] }
        : { kind: 'ignore', reason: 'not_pending' };
    case 'reservation_timeout':
      return s === 'pending_payment'
        ? { kind: 'transition', to: 'expired', reason: 'reservation_timeout', effects: [{ kind: 'release_stock' }] }
        : { kind: 'ignore', reason: 'not_pending' };
    case 'cancel':
      return s === 'pending_payment'
        ? { kind: 'transition', to: 'cancelled', reason: 'cancelled', effects: [{ kind: 'release_stock' }] }
        : reject(s, 'cancel');
    case 'fulfil':
      return s === 'paid' || s === 'partially_refunded'
        ? { kind: 'transition', to: 'fulfilled', reason: 'fulfilled', effects: [] }
        : reject(s, 'fulfil');
    case 'refund_succeeded': {
      if (s !== 'paid' && s !== 'fulfilled' && s !== 'partially_refunded' && s !== 'refunding') return { kind: 'ignore', reason: 'not_refundable' };
      const refunded = Math.min(order.total, order.refundedAmount + input.amount);
      return {
        kind: 'transition', to: refunded >= order.total ? 'refunded' : 'partially_refunded',
        reason: 'refund_succeeded', refundedAmount: refunded, effects: [],
      };
    }
  }
}
