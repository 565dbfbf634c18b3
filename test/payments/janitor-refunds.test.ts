import assert from 'node:assert/strict';
import { test } from 'node:test';
import tbk from 'transbank-sdk';
import { transbankConnector } from '../../src/payments/connectors/transbank.js';
import { startHarness, VISA_OK } from './harness.js';

const h = await startHarness();
const { payments, sim, clock } = h;
const MIN = 60_000;

const fault = async (body: Record<string, unknown>) => {
  const res = await fetch(`${sim.url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200);
  await res.text();
};
const simCalls = async (summary: RegExp) =>
  ((await (await fetch(`${sim.url}/sim/log`)).json()) as { summary: string }[]).filter((e) => summary.test(e.summary)).length;

await h.enroll('cust-j');
const [card] = await payments.cards.list('cust-j');
assert.ok(card);
const savedCardId = card.id;

// A process that dies right after the processor answered, before recording the answer.
const real = transbankConnector({
  baseUrl: sim.url,
  apiKey: tbk.IntegrationApiKeys.WEBPAY,
  webpayCommerceCode: tbk.IntegrationCommerceCodes.WEBPAY_PLUS,
  oneclickCommerceCode: tbk.IntegrationCommerceCodes.ONECLICK_MALL,
  oneclickChildCode: tbk.IntegrationCommerceCodes.ONECLICK_MALL_CHILD1,
  timeoutMs: 8000,
});
const died = () => new Error('process died');
const crashing = h.withConnectors({
  transbank: {
    ...real,
    authorize: async (c) => {
      await real.authorize(c);
      throw died();
    },
    commitRedirect: async (c, token) => {
      await real.commitRedirect(c, token);
      throw died();
    },
    refund: async (c, r) => {
      await real.refund(c, r);
      throw died();
    },
  },
});

test('crash after Transbank approved, before we recorded it → the janitor finds it approved; charged once', async () => {
  await assert.rejects(
    crashing.startPayment({ orderId: 'j-1', amount: 4990, currency: 'CLP', customerId: 'cust-j', method: 'oneclick', savedCardId }),
    /process died/,
  );
  const [attempt] = await payments.attemptsForOrder('j-1');
  assert.ok(attempt);
  assert.equal(attempt.status, 'created');
  // A retry of the order meanwhile gets the same attempt, never a second charge.
  const again = await payments.startPayment({ orderId: 'j-1', amount: 4990, currency: 'CLP', customerId: 'cust-j', method: 'oneclick', savedCardId });
  assert.equal(again.attemptId, attempt.attemptId);
  assert.equal(again.status, 'pending');
  assert.deepEqual(await payments.runJanitor(), []); // not due yet
  clock.advance(2 * MIN);
  const items = await payments.runJanitor();
  assert.deepEqual(items.map((i) => [i.attemptId, i.before, i.after]), [[attempt.attemptId, 'created', 'approved']]);
  assert.equal((await h.outbox('payments.payment_approved', attempt.attemptId)).length, 1);
  assert.equal(await simCalls(/^POST \/rswebpaytransaction\/api\/oneclick\/v1.2\/transactions$/), 1);
  await assert.rejects(payments.startPayment({ orderId: 'j-1', amount: 4990, currency: 'CLP', customerId: 'cust-j', method: 'oneclick', savedCardId }), {
    code: 'order_already_paid',
  });
});

test('a connection dropped mid-call → unknown, and a retry returns the same attempt', async () => {
  await fault({ kind: 'reset', count: 1, path_prefix: '/rswebpaytransaction/api/oneclick/v1.2/transactions' });
  const r = await payments.startPayment({ orderId: 'j-1b', amount: 990, currency: 'CLP', customerId: 'cust-j', method: 'oneclick', savedCardId });
  assert.equal(r.status, 'pending');
  assert.equal((await payments.getAttempt(r.attemptId)).status, 'unknown');
  const again = await payments.startPayment({ orderId: 'j-1b', amount: 990, currency: 'CLP', customerId: 'cust-j', method: 'oneclick', savedCardId });
  assert.equal(again.attemptId, r.attemptId);
});

test('a call that never reached Transbank → the janitor learns it was not processed → rejected', async () => {
  await fault({ kind: 'reset', count: 1, path_prefix: '/rswebpaytransaction/api/oneclick/v1.2/transactions' });
  const r = await payments.startPayment({ orderId: 'j-2', amount: 1990, currency: 'CLP', customerId: 'cust-j', method: 'oneclick', savedCardId });
  assert.equal((await payments.getAttempt(r.attemptId)).status, 'unknown');
  clock.advance(6 * MIN);
  await payments.runJanitor();
  const a = await payments.getAttempt(r.attemptId);
  assert.equal(a.status, 'rejected');
  assert.equal(a.reason, 'not_found_at_processor');
});

test('crash right after the Webpay commit → unknown → janitor status → approved', async () => {
  const r = await crashing.startPayment({ orderId: 'j-3', amount: 7990, currency: 'CLP', customerId: 'cust-j', method: 'webpay' });
  assert.ok(r.redirect);
  const back = await h.webpayForm(r.redirect, VISA_OK);
  await assert.rejects(crashing.webpayReturn(Object.fromEntries(new URL(back).searchParams)), /process died/);
  assert.equal((await payments.getAttempt(r.attemptId)).status, 'unknown');
  // The browser retries the return: the commit was claimed, it is not repeated.
  assert.equal((await h.follow(back)).status, 303);
  clock.advance(6 * MIN);
  await payments.runJanitor();
  assert.equal((await payments.getAttempt(r.attemptId)).status, 'approved');
  assert.equal(await simCalls(new RegExp(`^PUT /rswebpaytransaction/api/webpay/v1.2/transactions/${r.redirect.token}$`)), 1);
});

test('two janitors in parallel share the work: each abandoned Webpay attempt is checked once and expires once', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await payments.startPayment({ orderId: `j-ab-${i}`, amount: 1000 + i, currency: 'CLP', customerId: 'cust-j', method: 'webpay' });
    ids.push(r.attemptId);
  }
  clock.advance(20 * MIN);
  const before = await simCalls(/^GET \/rswebpaytransaction\/api\/webpay\/v1.2\/transactions\//);
  const other = h.withConfig((c) => c);
  const [a, b] = await Promise.all([payments.runJanitor(), other.runJanitor()]);
  const checked = [...a, ...b].map((i) => i.attemptId).filter((id) => ids.includes(id));
  assert.equal(checked.length, 4);
  assert.equal(new Set(checked).size, 4);
  assert.equal((await simCalls(/^GET \/rswebpaytransaction\/api\/webpay\/v1.2\/transactions\//)) - before, 4);
  for (const id of ids) {
    assert.equal((await payments.getAttempt(id)).status, 'expired');
    assert.equal((await h.outbox('payments.payment_expired', id)).length, 1);
  }
});

test('after seven days without an answer the janitor flags the attempt for review', async () => {
  await fault({ kind: 'reset', count: 1, path_prefix: '/rswebpaytransaction/api/webpay/v1.2/transactions' });
  const r = await payments.startPayment({ orderId: 'j-review', amount: 500, currency: 'CLP', customerId: 'cust-j', method: 'webpay' });
  assert.equal((await payments.getAttempt(r.attemptId)).status, 'unknown');
  clock.advance(7 * 24 * 60 * MIN + MIN);
  await payments.runJanitor();
  const a = await payments.getAttempt(r.attemptId);
  assert.equal(a.status, 'review');
  assert.equal((await h.outbox('payments.payment_review', r.attemptId)).length, 1);
});

test('refunds: Webpay full same day → REVERSED; Oneclick partial → NULLIFIED; never beyond captured', async () => {
  const w = await payments.startPayment({ orderId: 'r-wp', amount: 10000, currency: 'CLP', customerId: 'cust-j', method: 'webpay' });
  assert.ok(w.redirect);
  await h.follow(await h.webpayForm(w.redirect, VISA_OK));
  const full = await payments.refund({ orderId: 'r-wp', amount: 10000, reason: 'customer changed mind' });
  assert.equal(full.status, 'succeeded');
  assert.equal(full.refundType, 'REVERSED');
  await assert.rejects(payments.refund({ orderId: 'r-wp', amount: 1, reason: 'x' }), { code: 'refund_exceeds_captured' });

  const o = await payments.startPayment({ orderId: 'r-oc', amount: 9000, currency: 'CLP', customerId: 'cust-j', method: 'oneclick', savedCardId });
  assert.equal(o.status, 'approved');
  const part = await payments.refund({ orderId: 'r-oc', amount: 3000, reason: 'one item missing' });
  assert.equal(part.status, 'succeeded');
  assert.equal(part.refundType, 'NULLIFIED');
  // Racing refunds: at most what is left is refunded.
  const race = await Promise.allSettled([4000, 4000, 4000].map((amount) => payments.refund({ orderId: 'r-oc', amount, reason: 'race' })));
  const won = race.filter((x) => x.status === 'fulfilled' && x.value.status === 'succeeded').length;
  assert.equal(won, 1);
  for (const x of race) if (x.status === 'rejected') assert.match(String((x.reason as { code?: string }).code), /refund_exceeds_captured|refund_in_progress/);
  const { rows } = await h.db.query<{ refunded: number }>(
    `SELECT coalesce(sum(amount), 0)::bigint AS refunded FROM payment_refunds WHERE order_id = 'r-oc'`,
  );
  assert.equal(rows[0]?.refunded, 7000);
  await assert.rejects(payments.refund({ orderId: 'nope', amount: 1, reason: 'x' }), { code: 'no_approved_payment' });
  await assert.rejects(payments.refund({ orderId: 'r-oc', amount: 0, reason: 'x' }), { code: 'invalid_amount' });
  assert.equal((await h.outbox('payments.refund_succeeded')).filter((p) => p.orderId === 'r-oc').length, 2);
});

test('MP partial refunds then the rest', async () => {
  const token = await h.mpCardToken('APRO');
  const r = await payments.startPayment({ orderId: 'r-mp', amount: 20000, currency: 'CLP', customerId: 'cust-j', method: 'mercadopago_card', cardToken: token, paymentMethodId: 'master' });
  assert.equal(r.status, 'approved');
  const a = await payments.refund({ orderId: 'r-mp', amount: 5000, reason: 'partial' });
  assert.deepEqual([a.status, a.refundType], ['succeeded', 'PARTIAL']);
  const b = await payments.refund({ orderId: 'r-mp', amount: 15000, reason: 'rest' });
  assert.deepEqual([b.status, b.refundType], ['succeeded', 'FULL']);
});

test('ledger: every transaction balances; clearing = captured − refunded', async () => {
  const { rows } = await h.db.query<{ bad: number }>(
    'SELECT count(*)::int AS bad FROM (SELECT transaction_id FROM ledger_entries GROUP BY 1 HAVING sum(amount) <> 0) t',
  );
  assert.equal(rows[0]?.bad, 0);
  const balances = await payments.ledgerBalances();
  assert.equal(Object.values(balances).reduce((s, v) => s + v, 0), 0);
  const captured = await h.db.query<{ total: number }>(
    `SELECT coalesce(sum(a.amount), 0)::bigint AS total FROM payment_attempts a JOIN payment_attempt_events e ON e.attempt_id = a.id AND e.status = 'approved'`,
  );
  const refunded = await h.db.query<{ total: number }>(
    `SELECT coalesce(sum(r.amount), 0)::bigint AS total FROM payment_refunds r JOIN payment_refund_events x ON x.refund_id = r.id AND x.status = 'succeeded'`,
  );
  const clearing = (balances['processor_clearing:transbank'] ?? 0) + (balances['processor_clearing:mercadopago'] ?? 0);
  assert.equal(clearing, (captured.rows[0]?.total ?? 0) - (refunded.rows[0]?.total ?? 0));
  assert.equal(balances.refunds, refunded.rows[0]?.total);
});

test("settlement import of the processor's report: fees, payouts, matched / mismatch / missing here / missing at processor; idempotent", async () => {
  const pay = async (orderId: string, amount: number) => {
    const r = await payments.startPayment({ orderId, amount, currency: 'CLP', customerId: 'cust-j', method: 'oneclick', savedCardId });
    assert.equal(r.status, 'approved');
    const { rows } = await h.db.query<{ buy_order: string }>('SELECT buy_order FROM payment_attempts WHERE id = $1', [r.attemptId]);
    return { attemptId: r.attemptId, child: `C${(rows[0]?.buy_order ?? '').slice(1)}` };
  };
  const s1 = await pay('s-1', 50000);
  const s2 = await pay('s-2', 30000);
  const s3 = await pay('s-3', 20000);
  assert.equal((await payments.refund({ orderId: 's-2', amount: 1000, reason: 'partial' })).refundType, 'NULLIFIED');
  const scenario = await fetch(`${sim.url}/sim/scenario`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      discrepancies: [
        { processor: 'transbank', kind: 'amount', reference: s1.child, delta: -10 },
        { processor: 'transbank', kind: 'phantom', reference: 'ghost-1', delta: 777 },
        { processor: 'transbank', kind: 'omit', reference: s3.child },
      ],
    }),
  });
  assert.equal(scenario.status, 200, await scenario.text());
  const day = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Santiago' }).format(clock.now());
  const csv = await (await fetch(`${sim.url}/sim/settlements/transbank?date=${day}`)).text();
  const before = await payments.ledgerBalances();
  const period = { from: new Date(clock.now().getTime() - 3_600_000), to: new Date(clock.now().getTime() + 3_600_000) };
  const r = await payments.importSettlement(csv, period);
  assert.ok(r.imported >= 4, JSON.stringify(r));
  assert.deepEqual(r.amountMismatch.map((m) => [m.attemptId, m.ours, m.theirs]), [[s1.attemptId, 50000, 49990]]);
  assert.ok(r.missingHere.some((m) => m.processorRef === 'ghost-1' && m.amount === 777));
  assert.ok(r.matched.some((m) => m.attemptId === s2.attemptId && m.type === 'sale'));
  assert.ok(r.matched.some((m) => m.attemptId === s2.attemptId && m.type === 'refund' && m.amount === -1000));
  assert.ok(r.missingAtProcessor.some((m) => m.attemptId === s3.attemptId));
  const fileNet = csv.trim().split('\n').slice(1).reduce((sum, row) => {
    const c = row.split(',');
    return sum + Number(c[6]) - Number(c[7]);
  }, 0);
  assert.equal(r.payouts.reduce((sum, p) => sum + p.net, 0), fileNet);
  const after = await payments.ledgerBalances();
  assert.equal((after.bank ?? 0) - (before.bank ?? 0), fileNet);
  assert.ok((after.processor_fees ?? 0) > (before.processor_fees ?? 0));
  const again = await payments.importSettlement(csv, period);
  assert.equal(again.imported, 0);
  assert.deepEqual(await payments.ledgerBalances(), after);
  await assert.rejects(payments.importSettlement('processor,amount\nx,1'), { code: 'invalid_settlement' });
  await assert.rejects(payments.importSettlement(`${csv.split('\n')[0] ?? ''}\n${day},transbank,1,x,s,sale,-5,0,-5,${day}`), { code: 'invalid_settlement' });
  await fetch(`${sim.url}/sim/scenario`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ discrepancies: [] }) });
});

test('a second approval for an already paid order is recorded as rejected and reversed at the processor', async () => {
  const webpay = await payments.startPayment({ orderId: 'dup-1', amount: 6000, currency: 'CLP', customerId: 'cust-j', method: 'webpay' });
  assert.ok(webpay.redirect);
  // The shopper gives up on the form and pays with the saved card instead...
  const oneclick = await payments.startPayment({ orderId: 'dup-1', amount: 6000, currency: 'CLP', customerId: 'cust-j', method: 'oneclick', savedCardId });
  assert.equal(oneclick.status, 'approved');
  // ...then the old Webpay tab completes too.
  await h.follow(await h.webpayForm(webpay.redirect, VISA_OK));
  const a = await payments.getAttempt(webpay.attemptId);
  assert.equal(a.status, 'rejected');
  assert.equal(a.reason, 'order_already_paid');
  assert.equal(await simCalls(new RegExp(`^POST /rswebpaytransaction/api/webpay/v1.2/transactions/${webpay.redirect.token}/refunds$`)), 1);
  assert.equal((await h.outbox('payments.payment_approved')).filter((p) => p.orderId === 'dup-1').length, 1);
  assert.ok(h.lines.some((l) => l.includes('second approval for a paid order')));
});

test('refund answers lost: the janitor asks Transbank (balance) and records what happened, once', async () => {
  const o = await payments.startPayment({ orderId: 'rf-lost', amount: 12000, currency: 'CLP', customerId: 'cust-j', method: 'oneclick', savedCardId });
  assert.equal(o.status, 'approved');
  // 1. The call never reached Transbank.
  await fault({ kind: 'reset', count: 1, path_prefix: '/rswebpaytransaction/api/oneclick/v1.2/transactions' });
  const lost = await payments.refund({ orderId: 'rf-lost', amount: 2000, reason: 'lost' });
  assert.equal(lost.status, 'unknown');
  await assert.rejects(payments.refund({ orderId: 'rf-lost', amount: 1000, reason: 'x' }), { code: 'refund_in_progress' });
  // 2. Transbank refunded, then our process died before recording it.
  clock.advance(3 * MIN);
  await payments.runJanitor();
  const died = await crashing.refund({ orderId: 'rf-lost', amount: 5000, reason: 'crash' });
  assert.equal(died.status, 'unknown');
  clock.advance(3 * MIN);
  await payments.runJanitor();
  const { rows } = await h.db.query<{ amount: number; status: string }>(
    `SELECT r.amount, x.status FROM payment_refunds r JOIN payment_refund_events x ON x.refund_id = r.id AND x.status IN ('succeeded', 'failed')
      WHERE r.order_id = 'rf-lost' ORDER BY r.created_at`,
  );
  assert.deepEqual(rows.map((r) => [r.amount, r.status]), [[2000, 'failed'], [5000, 'succeeded']]);
  assert.equal((await h.outbox('payments.refund_succeeded')).filter((p) => p.orderId === 'rf-lost').length, 1);
  // Nothing left to resolve: a further pass changes nothing.
  clock.advance(3 * MIN);
  await payments.runJanitor();
  assert.equal((await h.outbox('payments.refund_succeeded')).filter((p) => p.orderId === 'rf-lost').length, 1);
  const more = await payments.refund({ orderId: 'rf-lost', amount: 7000, reason: 'rest' });
  assert.equal(more.status, 'succeeded');
  await assert.rejects(payments.refund({ orderId: 'rf-lost', amount: 1, reason: 'x' }), { code: 'refund_exceeds_captured' });
});

test('keyed refunds: a repeat with the same key returns the first refund and never refunds twice, even after a crash mid-refund', async () => {
  const o = await payments.startPayment({ orderId: 'rf-key', amount: 8000, currency: 'CLP', customerId: 'cust-j', method: 'oneclick', savedCardId });
  assert.equal(o.status, 'approved');
  const refundCalls = () => simCalls(/^POST \/rswebpaytransaction\/api\/oneclick\/v1.2\/transactions\/[^/]+\/refunds$/);
  const callsBefore = await refundCalls();
  // Transbank refunds, then the process dies before recording it; the caller's transaction is
  // retried with the same key (a redelivered event): same refund, no second call to Transbank.
  const first = await crashing.refund({ orderId: 'rf-key', amount: 3000, reason: 'late_approval_no_stock', key: 'order-effect:late_approval_no_stock' });
  assert.equal(first.status, 'unknown');
  const repeat = await payments.refund({ orderId: 'rf-key', amount: 3000, reason: 'late_approval_no_stock', key: 'order-effect:late_approval_no_stock' });
  assert.equal(repeat.refundId, first.refundId);
  assert.equal(repeat.status, 'unknown');
  assert.equal((await refundCalls()) - callsBefore, 1);
  // Once the janitor learned the outcome, the repeat reports it.
  clock.advance(3 * MIN);
  await payments.runJanitor();
  const later = await payments.refund({ orderId: 'rf-key', amount: 3000, reason: 'late_approval_no_stock', key: 'order-effect:late_approval_no_stock' });
  assert.deepEqual([later.refundId, later.status], [first.refundId, 'succeeded']);
  // Concurrent repeats of a new key: one refund.
  const both = await Promise.all([1, 2].map(() => payments.refund({ orderId: 'rf-key', amount: 1000, reason: 'r', key: 'k2' })));
  assert.equal(both[0]?.refundId, both[1]?.refundId);
  assert.deepEqual(both.map((b) => b.status), ['succeeded', 'succeeded']);
  await assert.rejects(payments.refund({ orderId: 'rf-key', amount: 999, reason: 'r', key: 'k2' }), { code: 'refund_key_mismatch' });
  await assert.rejects(payments.refund({ orderId: 'rf-key', amount: 1, reason: 'r', key: '' }), { code: 'invalid_refund_key' });
  const { rows } = await h.db.query<{ n: number; total: number }>(
    `SELECT count(*)::int AS n, sum(amount)::bigint AS total FROM payment_refunds WHERE order_id = 'rf-key'`,
  );
  assert.deepEqual([rows[0]?.n, Number(rows[0]?.total)], [2, 4000]);
  assert.equal((await refundCalls()) - callsBefore, 2);
  assert.equal((await h.outbox('payments.refund_succeeded')).filter((p) => p.orderId === 'rf-key').length, 2);
});
