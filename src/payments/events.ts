import { z } from 'zod';
import { defineEvent, type EventDefinition, type NewEvent } from '../events/index.js';

/** Event payloads payments publishes: public contracts, versioned. */
export const PaymentApprovedV1 = z.object({
  attemptId: z.string(),
  orderId: z.string(),
  amount: z.number().int().positive(),
  currency: z.literal('CLP'),
  method: z.string(),
  processor: z.string(),
  processorRef: z.string(),
  /** Fraud prevention holds the order for a person to review (an open review exists). */
  fraudHold: z.boolean().optional(),
});
export const PaymentRejectedV1 = z.object({ attemptId: z.string(), orderId: z.string(), reason: z.string() });
export const PaymentPendingV1 = z.object({ attemptId: z.string(), orderId: z.string(), method: z.string(), reason: z.string().optional() });
export const PaymentExpiredV1 = z.object({ attemptId: z.string(), orderId: z.string() });
export const PaymentReviewV1 = z.object({ attemptId: z.string(), orderId: z.string(), lastStatus: z.string() });
export const RefundSucceededV1 = z.object({
  orderId: z.string(),
  attemptId: z.string(),
  amount: z.number().int().positive(),
  refundId: z.string(),
  refundType: z.string(),
});
export const RefundFailedV1 = z.object({ orderId: z.string(), attemptId: z.string(), refundId: z.string(), reason: z.string() });
export const LedgerPostedV1 = z.object({
  transactionId: z.string(),
  kind: z.string(),
  attemptId: z.string().optional(),
  refundId: z.string().optional(),
  entries: z.array(z.object({ account: z.string(), amount: z.number().int() })),
});
export const CardSavedV1 = z.object({ customerId: z.string(), cardId: z.string(), cardType: z.string(), cardMask: z.string() });
export const CardDeletedV1 = z.object({ customerId: z.string(), cardId: z.string() });

/** `fraud.decision_made` v1: every fraud decision taken before an authorization. */
export const FraudDecisionMadeV1 = z.object({
  orderId: z.string(),
  decisionId: z.string(),
  decision: z.enum(['allow', 'review', 'block']),
  score: z.number().int().min(0).max(100),
  reasons: z.array(z.string()),
  ruleVersion: z.number().int().positive(),
  customerId: z.string().optional(),
  amount: z.number().int().positive(),
  currency: z.string(),
  method: z.string(),
});
/** `payments.fraud_review_decided` v1: a person approved or rejected an order held for review. */
export const FraudReviewDecidedV1 = z.object({
  reviewId: z.string(),
  orderId: z.string(),
  attemptId: z.string().nullable(),
  outcome: z.enum(['approve', 'reject']),
  reviewer: z.string(),
});

const schemas = {
  'fraud.decision_made': FraudDecisionMadeV1,
  'payments.fraud_review_decided': FraudReviewDecidedV1,
  'payments.payment_approved': PaymentApprovedV1,
  'payments.payment_rejected': PaymentRejectedV1,
  'payments.payment_pending': PaymentPendingV1,
  'payments.payment_expired': PaymentExpiredV1,
  'payments.payment_review': PaymentReviewV1,
  'payments.refund_succeeded': RefundSucceededV1,
  'payments.refund_failed': RefundFailedV1,
  'payments.ledger_posted': LedgerPostedV1,
  'payments.card_saved': CardSavedV1,
  'payments.card_deleted': CardDeletedV1,
} as const;

export type PaymentsEventType = keyof typeof schemas;

const about: Readonly<Record<PaymentsEventType, { aggregate: string; description: string }>> = {
  'payments.payment_approved': { aggregate: 'payment_attempt', description: 'The processor approved a payment attempt (the money is captured; a `payments.ledger_posted` follows in the same transaction).' },
  'payments.payment_rejected': { aggregate: 'payment_attempt', description: 'The processor rejected a payment attempt (or a second approval of an already paid order was turned down).' },
  'payments.payment_pending': { aggregate: 'payment_attempt', description: 'The attempt waits for the customer or the processor (cash/transfer methods can stay pending for days).' },
  'payments.payment_expired': { aggregate: 'payment_attempt', description: 'The attempt got no outcome in time (processor status window over).' },
  'payments.payment_review': { aggregate: 'payment_attempt', description: 'The processor answered something that needs a person (conflicting outcomes, unknown status).' },
  'payments.refund_succeeded': { aggregate: 'refund', description: 'A refund was accepted by the processor.' },
  'payments.refund_failed': { aggregate: 'refund', description: 'A refund was refused by the processor.' },
  'payments.ledger_posted': { aggregate: 'ledger_transaction', description: 'A balanced double-entry transaction was posted to the money ledger (entries sum to zero).' },
  'payments.card_saved': { aggregate: 'saved_card', description: 'A card was enrolled with the processor (Oneclick inscription): mask and type only, never the PAN.' },
  'payments.card_deleted': { aggregate: 'saved_card', description: 'A saved card was removed (and its processor token deleted).' },
  'fraud.decision_made': { aggregate: 'fraud_decision', description: 'Fraud prevention decided on a payment before authorization: allow, review or block, with the 0-100 score, the reasons and the rule-set version.' },
  'payments.fraud_review_decided': { aggregate: 'fraud_review', description: 'A person approved or rejected an order fraud prevention held for review (rejection releases its stock and refunds it).' },
};

/** The event types payments publishes, registered with the bus for the generated catalogue. */
export const PAYMENTS_EVENTS: readonly EventDefinition[] = (Object.keys(schemas) as PaymentsEventType[]).map((type) =>
  defineEvent({ type, version: 1, aggregateType: about[type].aggregate, description: about[type].description, schema: schemas[type] }),
);

/** Builds a validated v1 event: the payload is checked against its public schema. */
export function paymentsEvent<T extends PaymentsEventType>(
  type: T,
  aggregate: { type: 'payment_attempt' | 'refund' | 'ledger_transaction' | 'saved_card' | 'fraud_decision' | 'fraud_review'; id: string },
  payload: z.input<(typeof schemas)[T]>,
): NewEvent {
  return { type, version: 1, aggregateType: aggregate.type, aggregateId: aggregate.id, payload: schemas[type].parse(payload) };
}
