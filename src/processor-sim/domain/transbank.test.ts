import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { accountingDate, cardOutcome, decideRefund, lineBalance, lineStatus, type Line } from './transbank.js';

const sale = (amount: number): Line => ({
  commerceCode: '597055555532',
  buyOrder: 'o',
  amount,
  installmentsNumber: 0,
  approved: true,
  responseCode: 0,
  authorizationCode: '123456',
  paymentTypeCode: 'VN',
  refunds: [],
  deferred: false,
});

test('refunds never exceed the sale; balance and status follow the refunds', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5_000_000 }),
      fc.array(fc.record({ amount: fc.integer({ min: -10, max: 6_000_000 }), days: fc.integer({ min: 0, max: 3 }) }), { maxLength: 12 }),
      (amount, attempts) => {
        let line = sale(amount);
        const soldAt = new Date('2026-11-27T15:00:00Z');
        let elapsed = 0;
        for (const a of attempts) {
          elapsed += a.days;
          const now = new Date(soldAt.getTime() + elapsed * 86_400_000);
          const decision = decideRefund(line, a.amount, soldAt, now, '654321');
          if (decision.ok) line = { ...line, refunds: [...line.refunds, decision.refund] };
        }
        const refunded = line.refunds.reduce((s, r) => s + r.amount, 0);
        assert.ok(refunded <= amount);
        assert.equal(lineBalance(line), amount - refunded);
        const status = lineStatus(line);
        if (line.refunds.some((r) => r.type === 'REVERSED')) {
          // A reversal is only ever the first, full, same-day refund, and nothing follows it.
          assert.equal(line.refunds.length, 1);
          assert.equal(status, 'REVERSED');
        } else if (line.refunds.length === 0) assert.equal(status, 'AUTHORIZED');
        else assert.equal(status, refunded === amount ? 'NULLIFIED' : 'PARTIALLY_NULLIFIED');
      },
    ),
  );
});

test('accounting date is MMDD in Chile time; test cards decide the outcome', () => {
  assert.equal(accountingDate(new Date('2026-11-28T02:00:00Z')), '1127'); // 23:00 in Santiago (UTC-3)
  assert.equal(accountingDate(new Date('2026-11-28T04:00:00Z')), '1128');
  assert.deepEqual(cardOutcome('4051 8856 0044 6623'), { brand: 'Visa', approves: true, paymentTypeCode: 'VN', last4: '6623' });
  assert.equal(cardOutcome('5186059559590568').approves, false);
  assert.equal(cardOutcome('4111111111111111').approves, false);
});
