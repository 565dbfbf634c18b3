// Fraud rules on crafted traffic, at the payments decision point: real PostgreSQL, a scripted
// processor (the true edge), the rules as stored data edited through the admin API.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { manualClock } from '../../src/platform/clock.js';
import { isAppError } from '../../src/platform/errors.js';
import { createHttpApp } from '../../src/platform/http.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { createPayments, DEFAULT_FRAUD_RULES, type StartPaymentInput } from '../../src/payments/index.js';
import { freshDatabase } from '../support/db.js';
import { capturingLogger, testConfig } from '../support/platform.js';
import { scriptedProcessor } from './support.js';

const ADMIN = 'fraud-admin-token-0123456789';
const { db, url } = await freshDatabase();
const clock = manualClock(new Date('2026-11-30T15:00:00Z'));
const { logger } = capturingLogger('warn');
const metrics = createMetrics();
const mp = scriptedProcessor('mercadopago');
const payments = createPayments({ config: testConfig(url, { adminToken: ADMIN }), db, logger, metrics, clock, connectors: { mercadopago: mp.connector } });
const app = await createHttpApp({ logger, metrics, readiness: {}, modules: [payments.routes] });

interface Pay { customerId: string; amount: number; ip?: string; device?: string; card?: string; region?: string; email?: string }
const pay = (p: Pay) => {
  const input: StartPaymentInput = {
    orderId: randomUUID(), amount: p.amount, currency: 'CLP', customerId: p.customerId, method: 'mercadopago_card',
    cardToken: `tok-${randomUUID()}`, paymentMethodId: 'visa', payerEmail: p.email ?? 'buyer@example.cl',
    risk: { ip: p.ip ?? '198.51.100.7', deviceId: p.device, cardFingerprint: p.card, deliveryRegion: p.region ?? 'RM' },
  };
  return payments.startPayment(input).then((r) => ({ ...r, orderId: input.orderId }));
};
const decisionOf = async (orderId: string) => {
  const { rows } = await db.query<{ id: string; decision: string; score: number; reasons: string[]; rule_version: number; inputs: { features: Record<string, number> } }>(
    'SELECT id, decision, score, reasons, rule_version, inputs FROM fraud_decisions WHERE order_id = $1 ORDER BY decided_at DESC LIMIT 1', [orderId]);
  return rows[0];
};
const admin = (method: 'GET' | 'PUT' | 'POST', path: string, payload?: object, token: string | null = ADMIN) =>
  app.inject({ method, url: path, headers: token ? { 'x-admin-token': token } : {}, ...(payload ? { payload } : {}) });
/** A loyal customer: `n` approved purchases of about `amount`, same card, delivered to RM. */
async function loyal(n: number, amount: number) {
  const customerId = randomUUID();
  const card = `fp-${randomUUID().slice(0, 8)}`;
  for (let i = 0; i < n; i++) {
    const r = await pay({ customerId, amount: amount + i * 500, card, region: 'RM' });
    assert.equal(r.status, 'approved');
    clock.advance(2 * 24 * 3600_000); // days apart: no velocity
  }
  return { customerId, card };
}

describe('fraud rules on crafted traffic', () => {
  it('a card-testing burst from one IP is blocked before the processor is asked', async () => {
    mp.state.decide = () => 'rejected';
    const ip = '203.0.113.66';
    const before = mp.state.authorizations;
    // Small charges with different cards and throwaway accounts, all declined by the issuer.
    for (let i = 0; i < 3; i++) {
      const r = await pay({ customerId: randomUUID(), amount: 990 + i * 10, ip, card: `fp-test-${i}` });
      assert.equal(r.status, 'rejected');
      clock.advance(20_000);
    }
    await assert.rejects(pay({ customerId: randomUUID(), amount: 1_000, ip, card: 'fp-test-9' }), (err) => {
      assert.ok(isAppError(err));
      assert.equal(err.code, 'fraud_blocked');
      assert.equal(err.kind, 'payment_failed');
      assert.equal(err.details?.reasons, undefined, 'the shopper is not told which rule fired');
      return true;
    });
    assert.equal(mp.state.authorizations - before, 3, 'the blocked attempt never reached the processor');
    const { rows } = await db.query<{ order_id: string; decision: string; reasons: string[]; attempt_id: string | null; rule_version: number }>(
      `SELECT order_id, decision, reasons, attempt_id, rule_version FROM fraud_decisions WHERE decision = 'block'`);
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0]?.reasons, ['card_testing_ip']);
    assert.equal(rows[0]?.attempt_id, null);
    assert.equal(rows[0]?.rule_version, 1);
    const events = await db.query<{ payload: { decision: string; orderId: string; ruleVersion: number; score: number } }>(
      `SELECT payload FROM events_outbox WHERE type = 'fraud.decision_made' AND payload->>'orderId' = $1`, [rows[0]?.order_id]);
    assert.equal(events.rows[0]?.payload.decision, 'block');
    assert.equal(events.rows[0]?.payload.score, 95);
    // Another shopper elsewhere is not affected; an hour later the IP is clean again.
    mp.state.decide = () => 'approved';
    assert.equal((await pay({ customerId: randomUUID(), amount: 15_000, ip: '203.0.113.67' })).status, 'approved');
    clock.advance(70 * 60_000);
    assert.equal((await pay({ customerId: randomUUID(), amount: 15_000, ip })).status, 'approved');
  });

  it('a loyal customer\'s normal purchase is allowed; one far above their history goes to review', async () => {
    mp.state.decide = () => 'approved';
    const { customerId, card } = await loyal(5, 25_000);
    const normal = await pay({ customerId, amount: 27_990, card, region: 'RM' });
    assert.equal(normal.status, 'approved');
    const d = await decisionOf(normal.orderId);
    assert.deepEqual({ decision: d?.decision, score: d?.score, reasons: d?.reasons }, { decision: 'allow', score: 0, reasons: [] });
    assert.equal(d?.inputs.features['customer.approved_orders'], 5);
    clock.advance(3600_000 * 30);
    const big = await pay({ customerId, amount: 260_000, card, region: 'RM' });
    assert.equal(big.status, 'approved', 'review does not stop the charge: the order is held');
    const b = await decisionOf(big.orderId);
    assert.equal(b?.decision, 'review');
    assert.deepEqual(b?.reasons, ['amount_far_above_history']);
    const [approved] = (await db.query<{ payload: { fraudHold?: boolean } }>(
      `SELECT payload FROM events_outbox WHERE type = 'payments.payment_approved' AND payload->>'orderId' = $1`, [big.orderId])).rows;
    assert.equal(approved?.payload.fraudHold, true);
  });

  it('unusual delivery región and a disposable e-mail add up to a review; velocity is counted per card', async () => {
    const { customerId, card } = await loyal(2, 30_000);
    const r = await pay({ customerId, amount: 31_000, card, region: 'VS', email: 'x@Mailinator.com' });
    const d = await decisionOf(r.orderId);
    assert.deepEqual(d?.reasons, ['region_unusual_for_card', 'disposable_email']);
    assert.equal(d?.score, 55);
    assert.equal(d?.decision, 'review');
    // Three declines of one card within the hour block it, whatever IP or account comes next.
    const c2 = `fp-${randomUUID().slice(0, 8)}`;
    const who = randomUUID();
    mp.state.decide = () => 'rejected';
    for (let i = 0; i < 3; i++) await pay({ customerId: who, amount: 40_000, card: c2, ip: `192.0.2.${i + 1}` });
    await assert.rejects(pay({ customerId: randomUUID(), amount: 40_000, card: c2, ip: '192.0.2.99' }), { code: 'fraud_blocked' });
    mp.state.decide = () => 'approved';
  });

  it('a first purchase with a high ticket is held; the review queue approves once', async () => {
    const r = await pay({ customerId: randomUUID(), amount: 650_000 });
    assert.equal(r.status, 'approved');
    const open = await payments.fraudReviews.list({ status: 'open' });
    const review = open.find((x) => x.orderId === r.orderId);
    assert.ok(review, 'the order is in the queue');
    assert.equal(review.paymentAttemptId, r.attemptId);
    assert.deepEqual(review.reasons, ['first_purchase_high_ticket']);
    assert.equal(review.amount, 650_000);
    const done = await payments.fraudReviews.decide(review.id, { outcome: 'approve', reviewer: 'ana' });
    assert.equal(done.status, 'approved');
    assert.equal(done.reviewer, 'ana');
    assert.equal((await payments.fraudReviews.decide(review.id, { outcome: 'approve', reviewer: 'ana' })).status, 'approved', 'the same decision again is a no-op');
    const again = await admin('POST', `/admin/fraud/reviews/${review.id}/decision`, { outcome: 'reject', reviewer: 'bea' });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json<{ code: string }>().code, 'review_already_decided');
    const missing = await admin('POST', `/admin/fraud/reviews/${randomUUID()}/decision`, { outcome: 'reject', reviewer: 'bea' });
    assert.equal(missing.statusCode, 404);
    const events = await db.query<{ payload: { outcome: string } }>(`SELECT payload FROM events_outbox WHERE type = 'payments.fraud_review_decided' AND aggregate_id = $1`, [review.id]);
    assert.deepEqual(events.rows.map((e) => e.payload.outcome), ['approve']);
  });

  it('rules are versioned data an admin edits; decisions name the version in force', async () => {
    assert.equal((await admin('GET', '/admin/fraud/rules', undefined, null)).statusCode, 403);
    assert.equal((await admin('GET', '/admin/fraud/rules', undefined, 'wrong-token-0123456789')).statusCode, 403);
    const cur = await admin('GET', '/admin/fraud/rules');
    assert.equal(cur.statusCode, 200);
    assert.equal(cur.json<{ version: number }>().version, 1);
    const bad = await admin('PUT', '/admin/fraud/rules', {
      author: 'ana', ruleSet: { rules: [{ id: 'x', when: { feature: 'shoe_size', op: '>', value: 1 }, score: 10 }] },
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json<{ code: string }>().code, 'invalid_fraud_rules');
    const bigTicket = { id: 'big_ticket', description: 'One million or more', enabled: true, when: { feature: 'amount', op: '>=', value: 1_000_000 }, score: 90, action: 'block' };
    const put = await admin('PUT', '/admin/fraud/rules', { author: 'ana', note: 'block 1M+', ruleSet: { ...DEFAULT_FRAUD_RULES, rules: [bigTicket, ...DEFAULT_FRAUD_RULES.rules] } });
    assert.equal(put.statusCode, 201, put.body);
    assert.equal(put.json<{ version: number }>().version, 2);
    const { customerId, card } = await loyal(1, 50_000);
    const orderBlocked = pay({ customerId, amount: 1_200_000, card });
    await assert.rejects(orderBlocked, { code: 'fraud_blocked' });
    const { rows } = await db.query<{ rule_version: number; reasons: string[] }>(`SELECT rule_version, reasons FROM fraud_decisions WHERE customer_id = $1 AND decision = 'block'`, [customerId]);
    assert.deepEqual(rows, [{ rule_version: 2, reasons: ['big_ticket'] }]);
    const versions = await admin('GET', '/admin/fraud/rules/versions');
    assert.deepEqual(versions.json<{ versions: { version: number }[] }>().versions.map((v) => v.version), [2, 1]);
  });

  it('decisions and rule versions are append-only in the database', async () => {
    await assert.rejects(db.query(`UPDATE fraud_decisions SET decision = 'allow'`), /append-only/);
    await assert.rejects(db.query('DELETE FROM fraud_decisions'), /append-only/);
    await assert.rejects(db.query('TRUNCATE fraud_decisions CASCADE'), /append-only/);
    await assert.rejects(db.query(`UPDATE fraud_rule_versions SET note = 'x'`), /append-only/);
  });

  it('chargebacks from the settlement report label decisions: precision and recall per rule', async () => {
    mp.state.decide = () => 'approved';
    // Two reviewed-by-score payments (unusual región + disposable e-mail) and one clean one.
    const a = await loyal(1, 20_000);
    const flagged1 = await pay({ customerId: a.customerId, amount: 21_000, card: a.card, region: 'AN', email: 'q@yopmail.com' });
    const b = await loyal(1, 20_000);
    const flagged2 = await pay({ customerId: b.customerId, amount: 22_000, card: b.card, region: 'AN', email: 'q@yopmail.com' });
    const c = await loyal(1, 20_000);
    const clean = await pay({ customerId: c.customerId, amount: 23_000, card: c.card, region: 'RM' });
    const csv = ['date,processor,reference,external_reference,type,gross,fee,payout_date',
      `2026-12-01,mercadopago,cb-1,${flagged1.attemptId},chargeback,-21000,0,2026-12-03`,
      `2026-12-01,mercadopago,cb-2,${clean.attemptId},chargeback,-23000,0,2026-12-03`].join('\n');
    await payments.importSettlement(csv);
    await payments.importSettlement(csv); // re-import labels nothing twice
    const report = await payments.fraudRuleReport();
    const row = (id: string) => report.find((r) => r.rule === id);
    const region = row('region_unusual_for_card');
    assert.ok(region);
    assert.ok(region.hits >= 2);
    assert.equal(region.chargebacks, 1, `flagged2 (${flagged2.orderId}) was not charged back`);
    assert.equal(region.precision, Number((1 / (region.hits - region.blocked)).toFixed(4)));
    assert.equal(region.recall, 0.5, 'one of the two chargebacks was flagged by the rule');
    assert.equal(row('card_testing_device')?.hits, 0, 'rules that never fired are listed');
    const http = await admin('GET', '/admin/fraud/report');
    assert.equal(http.statusCode, 200);
    assert.deepEqual(http.json<{ rules: unknown[] }>().rules, report);
  });
});
