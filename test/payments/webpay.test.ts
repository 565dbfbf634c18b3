import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MASTER_REJECT, postForm, startHarness, VISA_OK } from './harness.js';

const h = await startHarness();
const { payments } = h;
let n = 0;
const start = (amount = 15990) =>
  payments.startPayment({ orderId: `wp-${++n}`, amount, currency: 'CLP', customerId: 'cust-1', method: 'webpay', returnUrl: 'http://shop.test/orders/x' });

test('webpay approve: redirect → form → return commits once → approved event and ledger posting', async () => {
  const r = await start();
  assert.equal(r.status, 'redirect');
  assert.ok(r.redirect && r.redirect.field === 'token_ws' && r.redirect.method === 'POST');
  const back = await h.webpayForm(r.redirect, VISA_OK);
  const landing = await h.follow(back);
  assert.equal(landing.status, 303);
  assert.match(landing.location, /^http:\/\/shop\.test\/orders\/x\?attemptId=.+&status=approved$/);
  const a = await payments.getAttempt(r.attemptId);
  assert.equal(a.status, 'approved');
  // The duplicate return (browser back/refresh) commits nothing more.
  const again = await h.follow(back);
  assert.match(again.location, /status=approved/);
  const approved = await h.outbox('payments.payment_approved', r.attemptId);
  assert.equal(approved.length, 1);
  assert.deepEqual(approved[0], {
    attemptId: r.attemptId,
    orderId: a.orderId,
    amount: 15990,
    currency: 'CLP',
    method: 'webpay',
    processor: 'transbank',
    processorRef: r.redirect.token,
  });
  const { rows } = await h.db.query(`SELECT count(*)::int AS n FROM payment_attempt_events WHERE attempt_id = $1 AND kind = 'commit'`, [r.attemptId]);
  assert.equal(rows[0]?.n, 1);
  const balances = await payments.ledgerBalances();
  assert.equal(balances['processor_clearing:transbank'], 15990);
  assert.equal(balances.sales_revenue, -15990);
});

test('webpay reject: a declined card ends rejected with the response code', async () => {
  const r = await start();
  assert.ok(r.redirect);
  await h.follow(await h.webpayForm(r.redirect, MASTER_REJECT));
  const a = await payments.getAttempt(r.attemptId);
  assert.equal(a.status, 'rejected');
  assert.equal(a.reason, 'response_code_-1');
  assert.equal((await h.outbox('payments.payment_rejected', r.attemptId)).length, 1);
});

test('webpay abort: TBK_TOKEN shape → rejected (aborted), no commit', async () => {
  const r = await start();
  assert.ok(r.redirect);
  const back = await h.webpayForm(r.redirect, '', 'abort');
  assert.match(back, /TBK_TOKEN=/);
  await h.follow(back);
  const a = await payments.getAttempt(r.attemptId);
  assert.equal(a.status, 'rejected');
  assert.equal(a.reason, 'aborted_by_customer');
});

test('webpay error shape (all four fields) → rejected, never committed', async () => {
  const r = await start();
  assert.ok(r.redirect);
  const back = await h.webpayForm(r.redirect, '', 'error');
  await h.follow(back);
  const a = await payments.getAttempt(r.attemptId);
  assert.equal(a.status, 'rejected');
  const { rows } = await h.db.query(`SELECT count(*)::int AS n FROM payment_attempt_events WHERE attempt_id = $1 AND kind = 'commit_started'`, [r.attemptId]);
  assert.equal(rows[0]?.n, 0);
});

test('webpay form timeout: order + session only → expired; the return also works as a form POST', async () => {
  const r = await start();
  assert.ok(r.redirect);
  await (await postForm(r.redirect.url, { token_ws: r.redirect.token })).text();
  h.clock.advance(11 * 60_000);
  const res = await postForm(`${h.sim.url}/webpayserver/pay`, { token_ws: r.redirect.token, card_number: VISA_OK, action: 'pay' });
  await res.text();
  const fields = Object.fromEntries(new URL(res.headers.get('location') ?? '').searchParams);
  assert.deepEqual(Object.keys(fields).sort(), ['TBK_ID_SESION', 'TBK_ORDEN_COMPRA']);
  const posted = await postForm(`${h.appUrl()}/payments/webpay/return`, fields);
  await posted.text();
  assert.equal(posted.status, 303);
  const a = await payments.getAttempt(r.attemptId);
  assert.equal(a.status, 'expired');
  assert.equal((await h.outbox('payments.payment_expired', r.attemptId)).length, 1);
});

test('concurrent duplicate returns commit exactly once', async () => {
  const r = await start();
  assert.ok(r.redirect);
  const back = await h.webpayForm(r.redirect, VISA_OK);
  const results = await Promise.all([h.follow(back), h.follow(back), h.follow(back)]);
  assert.ok(results.every((x) => x.status === 303));
  const { rows } = await h.db.query(`SELECT count(*)::int AS n FROM payment_attempt_events WHERE attempt_id = $1 AND kind IN ('commit_started', 'commit')`, [r.attemptId]);
  assert.equal(rows[0]?.n, 2);
  assert.equal((await payments.getAttempt(r.attemptId)).status, 'approved');
});

test('a forged or unknown return is a 400 and changes nothing', async () => {
  const res = await fetch(`${h.appUrl()}/payments/webpay/return?token_ws=${'f'.repeat(64)}`, { redirect: 'manual' });
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { code: string }).code, 'invalid_return');
});

test('bad input to startPayment is refused with a code and stores nothing', async () => {
  const before = await h.db.query('SELECT count(*)::int AS n FROM payment_attempts');
  await assert.rejects(payments.startPayment({ orderId: 'bad', amount: 10.5, currency: 'CLP', customerId: 'c', method: 'webpay' }), { code: 'invalid_amount' });
  await assert.rejects(payments.startPayment({ orderId: 'bad', amount: -1, currency: 'CLP', customerId: 'c', method: 'webpay' }), { code: 'invalid_amount' });
  await assert.rejects(payments.startPayment({ orderId: 'bad', amount: 100, currency: 'CLP', customerId: 'c', method: 'oneclick' }), { code: 'saved_card_required' });
  const after = await h.db.query('SELECT count(*)::int AS n FROM payment_attempts');
  assert.equal(after.rows[0]?.n, before.rows[0]?.n);
});

test('Webpay Plus Mall (TBK_MALL_CHILD_CODE set): the child store is charged, committed and refunded', async () => {
  const mall = h.withConfig((c) => ({ ...c, payments: { ...c.payments, tbkCommerceCode: '597055555535', tbkMallChildCode: '597055555536' } }));
  const r = await mall.startPayment({ orderId: 'wp-mall-1', amount: 12000, currency: 'CLP', customerId: 'cust-1', method: 'webpay' });
  assert.ok(r.redirect);
  // The return lands on the shared route; the mall instance is the one configured to commit it.
  const back = await h.webpayForm(r.redirect, VISA_OK);
  const a = await mall.webpayReturn(Object.fromEntries(new URL(back).searchParams));
  assert.equal(a.status, 'approved');
  const refund = await mall.refund({ orderId: 'wp-mall-1', amount: 2000, reason: 'partial' });
  assert.equal(refund.status, 'succeeded');
  assert.equal(refund.refundType, 'NULLIFIED');
});

test('GET /payments/attempts/:id shows the state; unknown ids are 404, malformed 400', async () => {
  const r = await start(990);
  const res = await h.app.inject({ method: 'GET', url: `/payments/attempts/${r.attemptId}` });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json<{ status: string }>().status, 'redirect');
  assert.equal((await h.app.inject({ method: 'GET', url: '/payments/attempts/6f1c2a9e-0000-4000-8000-000000000000' })).statusCode, 404);
  assert.equal((await h.app.inject({ method: 'GET', url: '/payments/attempts/nope' })).statusCode, 400);
});

test('a return naming another session is refused as forged', async () => {
  const r = await start(700);
  assert.ok(r.redirect);
  const a = await payments.getAttempt(r.attemptId);
  const { rows } = await h.db.query<{ buy_order: string }>('SELECT buy_order FROM payment_attempts WHERE id = $1', [a.attemptId]);
  const res = await postForm(`${h.appUrl()}/payments/webpay/return`, { TBK_ORDEN_COMPRA: rows[0]?.buy_order ?? '', TBK_ID_SESION: 'someone-else' });
  assert.equal(res.status, 400);
  await res.text();
  assert.equal((await payments.getAttempt(r.attemptId)).status, 'redirect');
});
