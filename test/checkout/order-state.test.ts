import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canTransition, decide, ORDER_STATUSES, TRANSITIONS, type OrderInput, type OrderStatus } from '../../src/checkout/index.js';
import { priceLines, shippingFee } from '../../src/checkout/domain/totals.js';

const TOTAL = 10_000;
const base = (status: OrderStatus, paid: string | null = null) => ({ status, total: TOTAL, refundedAmount: 0, paidAttemptId: paid });

test('the happy path: approval pays and commits the stock', () => {
  const d = decide(base('pending_payment'), { type: 'payment_approved', attemptId: 'a1', amount: TOTAL });
  assert.deepEqual(d, { kind: 'transition', to: 'paid', reason: 'payment_approved', paidAttemptId: 'a1', effects: [{ kind: 'commit_stock' }] });
});

test('rejection and expiry release the stock; late or repeated outcomes are ignored', () => {
  assert.deepEqual(decide(base('pending_payment'), { type: 'payment_rejected', attemptId: 'a1', reason: 'x' }), {
    kind: 'transition', to: 'payment_failed', reason: 'payment_rejected:x', effects: [{ kind: 'release_stock' }],
  });
  assert.equal(decide(base('pending_payment'), { type: 'payment_expired', attemptId: 'a1' }).kind, 'transition');
  assert.deepEqual(decide(base('paid', 'a1'), { type: 'payment_rejected', attemptId: 'a1', reason: 'x' }), { kind: 'ignore', reason: 'not_pending' });
  assert.deepEqual(decide(base('paid', 'a1'), { type: 'payment_approved', attemptId: 'a1', amount: TOTAL }), { kind: 'ignore', reason: 'duplicate_approval' });
});

test('an approval after expiry or after a rejection re-reserves (or refunds without stock); after a cancel it is refunded', () => {
  for (const failed of ['expired', 'payment_failed'] as const) {
    const late = decide(base(failed), { type: 'payment_approved', attemptId: 'a1', amount: TOTAL });
    assert.ok(late.kind === 'transition', failed);
    assert.deepEqual([late.to, late.reason, late.paidAttemptId], ['paid', 'late_approval', 'a1']);
    assert.deepEqual(late.effects, [{ kind: 'reserve_and_commit_stock' }]);
    const noStock = decide(base(failed), { type: 'late_approval_unfillable', attemptId: 'a1', amount: TOTAL });
    assert.ok(noStock.kind === 'transition', failed);
    assert.equal(noStock.to, 'refunding');
    assert.deepEqual(noStock.effects, [{ kind: 'refund_payment', amount: TOTAL, reason: 'late_approval_no_stock' }]);
  }
  const cancelled = decide(base('cancelled'), { type: 'payment_approved', attemptId: 'a1', amount: TOTAL });
  assert.ok(cancelled.kind === 'transition');
  assert.equal(cancelled.to, 'refunding');
});

test('an approval for another amount is refunded, never kept', () => {
  const d = decide(base('pending_payment'), { type: 'payment_approved', attemptId: 'a1', amount: TOTAL - 1 });
  assert.ok(d.kind === 'transition');
  assert.equal(d.to, 'refunding');
  assert.deepEqual(d.effects, [{ kind: 'release_stock' }, { kind: 'refund_payment', amount: TOTAL - 1, reason: 'amount_mismatch' }]);
});

test('commands that make no sense are rejected with a code', () => {
  for (const status of ['paid', 'refunded', 'fulfilled', 'expired'] as const) {
    const d = decide(base(status, 'a'), { type: 'cancel' });
    assert.equal(d.kind, 'reject', status);
    assert.ok(d.kind === 'reject' && d.code === 'illegal_transition');
  }
  assert.equal(decide(base('pending_payment'), { type: 'fulfil' }).kind, 'reject');
});

test('partial then full refunds', () => {
  const p = decide({ ...base('paid', 'a'), refundedAmount: 0 }, { type: 'refund_succeeded', amount: 4_000 });
  assert.ok(p.kind === 'transition' && p.to === 'partially_refunded' && p.refundedAmount === 4_000);
  const f = decide({ ...base('partially_refunded', 'a'), refundedAmount: 4_000 }, { type: 'refund_succeeded', amount: 6_000 });
  assert.ok(f.kind === 'transition' && f.to === 'refunded' && f.refundedAmount === TOTAL);
});

const input: fc.Arbitrary<OrderInput> = fc.oneof(
  fc.record({ type: fc.constant('payment_approved' as const), attemptId: fc.constantFrom('a1', 'a2'), amount: fc.constantFrom(TOTAL, TOTAL, TOTAL, 1) }),
  fc.record({ type: fc.constant('payment_rejected' as const), attemptId: fc.constantFrom('a1', 'a2'), reason: fc.constant('r') }),
  fc.record({ type: fc.constant('payment_expired' as const), attemptId: fc.constantFrom('a1', 'a2') }),
  fc.constant({ type: 'reservation_timeout' as const }),
  fc.constant({ type: 'cancel' as const }),
  fc.constant({ type: 'fulfil' as const }),
  fc.record({ type: fc.constant('refund_succeeded' as const), amount: fc.integer({ min: 1, max: TOTAL }) }),
);

test('property: any sequence of inputs stays inside the table, pays at most once, and settles the stock exactly once', () => {
  fc.assert(
    fc.property(fc.array(input, { maxLength: 30 }), (inputs) => {
      let order = base('pending_payment');
      let approvalsKept = 0;
      let stockSettlements = 0; // commit or release of the original reservation
      let refunded = 0;
      for (const i of inputs) {
        const d = decide(order, i);
        if (d.kind !== 'transition') continue;
        assert.ok(canTransition(order.status, d.to), `${order.status} → ${d.to}`);
        if (d.to === 'paid') approvalsKept++;
        for (const e of d.effects) {
          if (e.kind === 'commit_stock' || e.kind === 'release_stock') stockSettlements++;
          if (e.kind === 'refund_payment') refunded++;
        }
        order = { ...order, status: d.to, paidAttemptId: d.paidAttemptId ?? order.paidAttemptId, refundedAmount: d.refundedAmount ?? order.refundedAmount };
      }
      assert.ok(approvalsKept <= 1);
      assert.ok(stockSettlements <= 1);
      assert.ok(refunded <= 1);
      assert.ok(order.refundedAmount <= order.total);
    }),
    { numRuns: 2_000 },
  );
});

test('every status has a row in the table and refunded is terminal', () => {
  assert.deepEqual(Object.keys(TRANSITIONS).sort(), [...ORDER_STATUSES].sort());
  assert.deepEqual(TRANSITIONS.refunded, []);
});

test('totals are integers: lines, free shipping threshold, far regions', () => {
  const { lines, totals } = priceLines([{ sku: 'A', name: 'a', quantity: 3, unitPrice: 9_990 }], '13');
  assert.equal(lines[0]?.lineTotal, 29_970);
  assert.deepEqual(totals, { subtotal: 29_970, shipping: 3_990, total: 33_960, currency: 'CLP' });
  assert.equal(shippingFee(50_000, '12'), 0);
  assert.equal(shippingFee(10_000, '12'), 9_990);
  assert.throws(() => priceLines([{ sku: 'A', name: 'a', quantity: 1, unitPrice: 10.5 }]));
});
