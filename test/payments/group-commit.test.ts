// The payment hot path's group commits against real PostgreSQL and the simulator: many
// concurrent charges (some for the same order) share transactions, and every order is still
// charged exactly once with its event and its balanced ledger posting.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHarness } from './harness.js';

// Oneclick's per-card daily limits (10 payments) would refuse most of this on purpose.
const h = await startHarness({ oneclickDailyCount: 1_000, oneclickDailyAmount: 1_000_000_000 });
const { payments } = h;

test('24 orders paid at once, each asked twice concurrently: one attempt, one approval and one capture per order', async () => {
  await h.enroll('cust-batch');
  const [card] = await payments.cards.list('cust-batch');
  assert.ok(card);
  const orders = Array.from({ length: 24 }, (_, i) => `batch-${i}`);
  const inputs = orders.flatMap((orderId, i) => {
    const input = { orderId, amount: 1_000 + i, currency: 'CLP' as const, customerId: 'cust-batch', method: 'oneclick' as const, savedCardId: card.id };
    return [input, input];
  });
  const results = await Promise.allSettled(inputs.map((input) => payments.startPayment(input)));
  const refused = results.filter((r) => r.status === 'rejected').map((r) => (r.reason as { code?: string }).code);
  assert.ok(refused.every((c) => c === 'order_already_paid'), JSON.stringify(refused));
  assert.ok(results.some((r) => r.status === 'fulfilled' && r.value.status === 'approved'));
  const count = async (sql: string) => (await h.db.query<{ n: number }>(sql, [orders])).rows[0]?.n;
  assert.equal(await count(`SELECT count(*)::int AS n FROM payment_attempts WHERE order_id = ANY($1)`), 24);
  assert.equal(await count(`SELECT count(DISTINCT order_id)::int AS n FROM payment_attempt_events WHERE order_id = ANY($1) AND status = 'approved'`), 24);
  assert.equal(
    await count(`SELECT count(*)::int AS n FROM ledger_transactions t JOIN payment_attempts a ON a.id = t.attempt_id WHERE a.order_id = ANY($1) AND t.kind = 'payment_captured'`),
    24,
  );
  // The attempt's state reads back as recorded, and nothing is left for the janitor.
  for (const orderId of orders) {
    const [a] = await payments.attemptsForOrder(orderId);
    assert.equal(a?.status, 'approved');
  }
  assert.equal(await count(`SELECT count(*)::int AS n FROM payment_janitor_schedule s JOIN payment_attempts a ON a.id = s.attempt_id WHERE a.order_id = ANY($1)`), 0);
  const approvals = (await h.outbox('payments.payment_approved')).filter((p) => orders.includes(String(p.orderId)));
  assert.equal(approvals.length, 24);
  const balances = await payments.ledgerBalances();
  assert.equal(Object.values(balances).reduce((a, b) => a + b, 0), 0, 'the ledger balances');
});

test('an unknown saved card in a batch is refused on its own; the others are charged', async () => {
  const [card] = await payments.cards.list('cust-batch');
  assert.ok(card);
  const good = (orderId: string) => payments.startPayment({ orderId, amount: 500, currency: 'CLP', customerId: 'cust-batch', method: 'oneclick', savedCardId: card.id });
  const [a, bad, b] = await Promise.allSettled([
    good('mixed-1'),
    payments.startPayment({ orderId: 'mixed-2', amount: 500, currency: 'CLP', customerId: 'cust-batch', method: 'oneclick', savedCardId: '00000000-0000-4000-8000-000000000000' }),
    good('mixed-3'),
  ]);
  assert.equal(a.status === 'fulfilled' && a.value.status, 'approved');
  assert.equal(b.status === 'fulfilled' && b.value.status, 'approved');
  assert.equal(bad.status === 'rejected' && (bad.reason as { code?: string }).code, 'saved_card_not_found');
  assert.equal((await payments.attemptsForOrder('mixed-2')).length, 0, 'nothing recorded for the refused one');
});
