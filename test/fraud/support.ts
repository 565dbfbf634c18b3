import { randomUUID } from 'node:crypto';
import type { PaymentConnector } from '../../src/payments/connectors/port.js';
import type { ProcessorVerdict } from '../../src/payments/domain/attempt.js';

/**
 * A processor stand-in (the processor is a true edge): approves or declines each charge by a
 * rule the test sets, counts calls, and refunds what it approved.
 */
export function scriptedProcessor(processor: 'transbank' | 'mercadopago' = 'mercadopago') {
  const state = {
    decide: (_amount: number): 'approved' | 'rejected' => 'approved',
    authorizations: 0,
    refunds: [] as { attemptId: string; amount: number }[],
  };
  const verdict = (status: 'approved' | 'rejected'): ProcessorVerdict =>
    status === 'approved' ? { status, processorRef: `pay-${randomUUID().slice(0, 8)}`, data: {} } : { status, reason: 'cc_rejected_other_reason', processorRef: `pay-${randomUUID().slice(0, 8)}` };
  const connector: PaymentConnector = {
    processor,
    async authorize(call) {
      state.authorizations += 1;
      return verdict(state.decide(call.amount));
    },
    async startRedirect() {
      throw new Error('not used');
    },
    async commitRedirect() {
      throw new Error('not used');
    },
    async status() {
      return { status: 'unknown' };
    },
    async refund(call, refund) {
      state.refunds.push({ attemptId: call.attemptId, amount: refund.amount });
      return { status: 'succeeded', refundType: 'FULL' };
    },
    async refundStatus() {
      return { status: 'unknown', reason: 'not used' };
    },
    parseNotification: () => undefined,
  };
  return { connector, state };
}
