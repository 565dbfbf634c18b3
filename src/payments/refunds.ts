import { randomUUID } from 'node:crypto';
import { appendEvents } from '../events/index.js';
import { PgCode, pgErrorCode } from '../platform/db.js';
import { refundPosting } from './domain/ledger.js';
import { attemptCall, connectorFor, transaction, type Core } from './core.js';
import type { RefundVerdict } from './connectors/port.js';
import { paymentsError } from './errors.js';
import { paymentsEvent } from './events.js';
import * as store from './store.js';
import type { AttemptState } from './store.js';

export interface RefundInput {
  orderId: string;
  amount: number;
  reason: string;
  /**
   * Makes the request idempotent per payment: a repeat with the same key (a retried order
   * transaction, a crash between the refund and the caller's commit) returns the first
   * refund and its outcome so far instead of refunding again. Same key, other amount:
   * `refund_key_mismatch`.
   */
  key?: string;
}

export interface RefundResult {
  refundId: string;
  attemptId: string;
  status: 'succeeded' | 'failed' | 'unknown';
  /** Transbank: REVERSED (full, same day) or NULLIFIED; Mercado Pago: FULL or PARTIAL. */
  refundType?: string;
  reason?: string;
}

/** What a repeat with the key of an earlier refund returns: that refund and its outcome so far. */
function keyedResult(first: NonNullable<Awaited<ReturnType<typeof store.refundByKey>>>, attemptId: string): RefundResult {
  switch (first.status) {
    case 'succeeded':
      return { refundId: first.id, attemptId, status: 'succeeded', ...(first.refundType ? { refundType: first.refundType } : {}) };
    case 'failed':
      return { refundId: first.id, attemptId, status: 'failed', ...(first.reason ? { reason: first.reason } : {}) };
    case 'requested':
    case 'unknown':
      return { refundId: first.id, attemptId, status: 'unknown', reason: 'the first refund with this key has no outcome yet: the janitor will ask the processor' };
  }
}

/** How long a keyed repeat waits for the first request's answer: beyond any processor call timeout. */
const FIRST_REFUND_WAIT_MS = 15_000;

/**
 * Refunds, partial or total, each a record of its own. Captured ≥ refunded holds under the
 * attempt's lock and again in the database (constraint trigger on payment_refunds).
 */
export function createRefunds(core: Core) {
  /** Records a refund's outcome with its ledger posting and event, in one transaction. */
  const record = async (attempt: AttemptState, refundId: string, amount: number, verdict: RefundVerdict): Promise<void> => {
    const at = core.clock.now();
    await transaction(core, async (tx) => {
      switch (verdict.status) {
        case 'succeeded': {
          await store.appendRefundEvent(tx, { refundId, status: 'succeeded', refundType: verdict.refundType, data: verdict.data ?? {}, at });
          const posting = refundPosting(attempt.processor, amount);
          const txId = await store.postLedger(tx, posting, { attemptId: attempt.id, refundId }, at);
          await appendEvents(tx, [
            paymentsEvent('payments.refund_succeeded', { type: 'refund', id: refundId }, {
              orderId: attempt.orderId,
              attemptId: attempt.id,
              amount,
              refundId,
              refundType: verdict.refundType,
            }),
            paymentsEvent('payments.ledger_posted', { type: 'ledger_transaction', id: txId }, { transactionId: txId, kind: posting.kind, attemptId: attempt.id, refundId, entries: posting.entries }),
          ]);
          break;
        }
        case 'failed':
          await store.appendRefundEvent(tx, { refundId, status: 'failed', data: { reason: verdict.reason }, at });
          await appendEvents(tx, [
            paymentsEvent('payments.refund_failed', { type: 'refund', id: refundId }, { orderId: attempt.orderId, attemptId: attempt.id, refundId, reason: verdict.reason }),
          ]);
          break;
        case 'unknown':
          // Resolved later by the janitor (resolvePending); further refunds wait for it.
          await store.appendRefundEvent(tx, { refundId, status: 'unknown', data: { reason: verdict.reason }, at });
          core.logger.warn({ refundId, attemptId: attempt.id }, 'refund outcome unknown: the janitor will ask the processor');
          break;
      }
    });
  };

  return {
    /** Asks the processor about refunds left without an outcome (lost answer, crash). */
    async resolvePending(olderThanMs = 2 * 60_000): Promise<{ refundId: string; status: RefundVerdict['status'] }[]> {
      const cutoff = new Date(core.clock.now().getTime() - olderThanMs);
      const out: { refundId: string; status: RefundVerdict['status'] }[] = [];
      for (const p of await store.unresolvedRefunds(core.db, cutoff)) {
        const attempt = await store.findAttempt(core.db, p.attemptId);
        if (!attempt) continue;
        const alreadyRefunded = await store.succeededRefundTotal(core.db, p.attemptId);
        const verdict = await connectorFor(core, attempt.processor).refundStatus(attemptCall(core, attempt), { refundId: p.refundId, amount: p.amount, alreadyRefunded });
        if (verdict.status === 'unknown') {
          out.push({ refundId: p.refundId, status: 'unknown' });
          continue;
        }
        try {
          await record(attempt, p.refundId, p.amount, verdict);
          out.push({ refundId: p.refundId, status: verdict.status });
        } catch (err) {
          // Another process recorded it first (one outcome per refund).
          if (pgErrorCode(err) !== PgCode.uniqueViolation) throw err;
        }
      }
      return out;
    },

    async refund(input: RefundInput): Promise<RefundResult> {
      if (!Number.isSafeInteger(input.amount) || input.amount <= 0) throw paymentsError('invalid_amount', 'amount must be a positive integer (CLP)');
      if (input.key !== undefined && (typeof input.key !== 'string' || input.key.length === 0 || input.key.length > 200)) {
        throw paymentsError('invalid_refund_key', 'key must be a non-empty string of at most 200 characters');
      }
      const reason = (input.reason || 'requested').slice(0, 200);
      const refundId = randomUUID();
      const now = core.clock.now();
      let attempt: AttemptState;
      let alreadyRefunded: number;
      let earlier: RefundResult | undefined;
      try {
        ({ attempt, alreadyRefunded, earlier } = await transaction(core, async (tx) => {
          const attemptId = await store.approvedAttemptForOrder(tx, input.orderId);
          if (!attemptId) throw paymentsError('no_approved_payment', 'this order has no approved payment');
          await store.lockKey(tx, `attempt:${attemptId}`);
          const a = (await store.findAttempt(tx, attemptId)) as AttemptState;
          if (input.key !== undefined) {
            const first = await store.refundByKey(tx, attemptId, input.key);
            if (first) {
              if (first.amount !== input.amount) {
                throw paymentsError('refund_key_mismatch', 'this key was used for a refund of another amount', { key: input.key, amount: first.amount });
              }
              return { attempt: a, alreadyRefunded: 0, earlier: keyedResult(first, attemptId) };
            }
          }
          const { standing, unresolved } = await store.refundedSoFar(tx, attemptId);
          if (unresolved > 0) throw paymentsError('refund_in_progress', 'an earlier refund for this payment is still unresolved');
          if (standing + input.amount > a.amount) {
            throw paymentsError('refund_exceeds_captured', 'refunds would exceed the captured amount', { captured: a.amount, refunded: standing, requested: input.amount });
          }
          await store.insertRefund(tx, { id: refundId, attemptId, orderId: input.orderId, amount: input.amount, reason, key: input.key, at: now });
          await store.appendRefundEvent(tx, { refundId, status: 'requested', at: now });
          return { attempt: a, alreadyRefunded: standing, earlier: undefined };
        }));
      } catch (err) {
        if (pgErrorCode(err) === PgCode.checkViolation) throw paymentsError('refund_exceeds_captured', 'refunds would exceed the captured amount');
        throw err;
      }
      if (earlier?.status === 'unknown' && input.key !== undefined) {
        // The first request with this key may still be talking to the processor: a concurrent
        // repeat waits for its answer (bounded beyond the processor timeout), like idempotent POSTs.
        const until = Date.now() + FIRST_REFUND_WAIT_MS;
        let first = await store.refundByKey(core.db, earlier.attemptId, input.key);
        while (first?.status === 'requested' && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 50));
          first = await store.refundByKey(core.db, earlier.attemptId, input.key);
        }
        if (first) earlier = keyedResult(first, earlier.attemptId);
      }
      if (earlier) {
        core.logger.info({ refundId: earlier.refundId, orderId: input.orderId, key: input.key, status: earlier.status }, 'refund repeated with its key: first refund returned');
        return earlier;
      }

      let verdict: RefundVerdict;
      try {
        verdict = await connectorFor(core, attempt.processor).refund(attemptCall(core, attempt), { refundId, amount: input.amount, alreadyRefunded });
      } catch (err) {
        verdict = { status: 'unknown', reason: err instanceof Error ? err.message.slice(0, 200) : 'refund call failed' };
      }
      await record(attempt, refundId, input.amount, verdict);
      return {
        refundId,
        attemptId: attempt.id,
        status: verdict.status,
        ...(verdict.status === 'succeeded' ? { refundType: verdict.refundType } : { reason: verdict.reason }),
      };
    },
  };
}
