import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { manualClock } from '../../src/platform/clock.js';
import { createMetrics } from '../../src/platform/metrics.js';
import type { PaymentConnector } from '../../src/payments/connectors/port.js';
import type { ProcessorVerdict } from '../../src/payments/domain/attempt.js';
import { createPayments } from '../../src/payments/index.js';
import { freshDatabase } from '../support/db.js';
import { capturingLogger, testConfig } from '../support/platform.js';

// The processor is the one true edge here: a scripted one answers what each step says.
const { db, url } = await freshDatabase();
const queue: ProcessorVerdict[] = [];
const refundOutcomes: ('succeeded' | 'failed')[] = [];
const scripted: PaymentConnector = {
  processor: 'mercadopago',
  authorize: async () => ({ processorRef: String(Math.floor(Math.random() * 1e12)), ...(queue.shift() ?? { status: 'unknown' as const }) }),
  startRedirect: async () => ({ verdict: { status: 'rejected', reason: 'unsupported' } }),
  commitRedirect: async () => ({ status: 'rejected', reason: 'unsupported' }),
  status: async (c) => ({ status: 'approved', ...(c.processorRef ? { processorRef: c.processorRef } : {}) }),
  refund: async (c, r) =>
    (refundOutcomes.shift() ?? 'succeeded') === 'succeeded'
      ? { status: 'succeeded', refundType: r.alreadyRefunded + r.amount >= c.amount ? 'FULL' : 'PARTIAL' }
      : { status: 'failed', reason: 'declined' },
  refundStatus: async () => ({ status: 'failed', reason: 'not_at_processor' }),
  parseNotification: () => undefined,
};
const clock = manualClock();
const payments = createPayments({
  config: testConfig(url),
  db,
  logger: capturingLogger('silent').logger,
  metrics: createMetrics(),
  clock,
  connectors: { mercadopago: scripted },
});

type Step =
  | { kind: 'pay'; order: number; amount: number; outcome: 'approved' | 'rejected' | 'pending' | 'unknown' }
  | { kind: 'refund'; order: number; amount: number; ok: boolean }
  | { kind: 'janitor' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('pay' as const), order: fc.nat(5), amount: fc.integer({ min: 1, max: 100_000 }), outcome: fc.constantFrom('approved', 'rejected', 'pending', 'unknown') }),
  fc.record({ kind: fc.constant('refund' as const), order: fc.nat(5), amount: fc.integer({ min: 1, max: 60_000 }), ok: fc.boolean() }),
  fc.constant({ kind: 'janitor' as const }),
);

test('over random flows: every ledger transaction balances, captured ≥ refunded, each order charged at most once', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
      const run = randomUUID().slice(0, 8);
      for (const s of steps) {
        const orderId = `${run}-${s.kind === 'janitor' ? 0 : s.order}`;
        switch (s.kind) {
          case 'pay':
            queue.length = 0;
            queue.push({ status: s.outcome });
            await payments
              .startPayment({ orderId, amount: s.amount, currency: 'CLP', customerId: `c-${run}`, method: 'mercadopago_card', cardToken: 'tok' })
              // fraud_blocked: the velocity rules (6+ attempts with one card in an hour) refuse long runs; nothing is charged then.
              .catch((err: { code?: string }) => assert.match(String(err.code), /order_already_paid|payment_in_progress|fraud_blocked/));
            break;
          case 'refund':
            refundOutcomes.length = 0;
            refundOutcomes.push(s.ok ? 'succeeded' : 'failed');
            await payments
              .refund({ orderId, amount: s.amount, reason: 'p' })
              .catch((err: { code?: string }) => assert.match(String(err.code), /no_approved_payment|refund_exceeds_captured/));
            break;
          case 'janitor':
            clock.advance(10 * 60_000);
            await payments.runJanitor();
            break;
        }
      }
      const unbalanced = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM (SELECT transaction_id FROM ledger_entries GROUP BY 1 HAVING sum(amount) <> 0) t');
      assert.equal(unbalanced.rows[0]?.n, 0);
      const over = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM payment_attempts a
          WHERE a.amount < (SELECT coalesce(sum(r.amount), 0) FROM payment_refunds r JOIN payment_refund_events x ON x.refund_id = r.id AND x.status = 'succeeded' WHERE r.attempt_id = a.id)`,
      );
      assert.equal(over.rows[0]?.n, 0);
      const twice = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (SELECT order_id FROM payment_attempt_events WHERE status = 'approved' GROUP BY 1 HAVING count(*) > 1) t`);
      assert.equal(twice.rows[0]?.n, 0);
      const balances = await payments.ledgerBalances();
      assert.equal(Object.values(balances).reduce((a, b) => a + b, 0), 0);
      assert.ok((balances['processor_clearing:mercadopago'] ?? 0) >= 0);
    }),
    { numRuns: 25 },
  );
});
