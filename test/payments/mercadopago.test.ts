import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHarness } from './harness.js';

const h = await startHarness();
const { payments, sim, clock } = h;
const DAY = 24 * 3_600_000;

const control = async (path: string, body: unknown = {}) => {
  const res = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
  return res.json() as Promise<Record<string, unknown>>;
};
/** Lets the simulator deliver due webhooks and waits until we processed them. */
const deliver = async () => {
  await sim.tick();
  await payments.settle();
};
const events = async (attemptId: string) => {
  const { rows } = await h.db.query<{ type: string }>(`SELECT type FROM events_outbox WHERE aggregate_id = $1 AND type LIKE 'payments.payment_%' ORDER BY id`, [attemptId]);
  return rows.map((r) => r.type);
};

test('MP card approved at once; the webhook that follows changes nothing', async () => {
  const token = await h.mpCardToken('APRO');
  const r = await payments.startPayment({
    orderId: 'mp-1', amount: 12990, currency: 'CLP', customerId: 'c-mp', method: 'mercadopago_card', cardToken: token, paymentMethodId: 'master', payerEmail: 'buyer@example.cl',
  });
  assert.equal(r.status, 'approved');
  await deliver();
  assert.deepEqual(await events(r.attemptId), ['payments.payment_approved']);
  const { rows } = await h.db.query(`SELECT count(*)::int AS n FROM payment_notifications`);
  assert.ok((rows[0]?.n as number) >= 1);
});

test('MP card rejected (OTHE) → rejected with the status detail', async () => {
  const token = await h.mpCardToken('OTHE');
  const r = await payments.startPayment({ orderId: 'mp-2', amount: 5000, currency: 'CLP', customerId: 'c-mp', method: 'mercadopago_card', cardToken: token, paymentMethodId: 'master' });
  assert.equal(r.status, 'rejected');
  assert.match(r.reason ?? '', /rejected/);
});

test('MP card rejected, then approved late by the processor → the approval follows the rejection, captured once', async () => {
  const token = await h.mpCardToken('OTHE');
  const r = await payments.startPayment({ orderId: 'mp-late-1', amount: 7000, currency: 'CLP', customerId: 'c-mp', method: 'mercadopago_card', cardToken: token, paymentMethodId: 'master' });
  assert.equal(r.status, 'rejected');
  await deliver();
  const ref = (await payments.getAttempt(r.attemptId)).processorRef ?? '';
  await control('/sim/webhooks/faults', { duplicate: 2 });
  await control(`/sim/mp/payments/${ref}/status`, { status: 'approved', status_detail: 'accredited' });
  await deliver();
  await deliver();
  await control('/sim/webhooks/faults', { duplicate: 0, reorder: 0 });
  assert.equal((await payments.getAttempt(r.attemptId)).status, 'approved');
  assert.deepEqual(await events(r.attemptId), ['payments.payment_rejected', 'payments.payment_approved']);
  const captured = await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ledger_transactions WHERE attempt_id = $1 AND kind = 'payment_captured'`, [r.attemptId]);
  assert.equal(captured.rows[0]?.n, 1);
  // The processor cannot take it back: a later rejection report changes nothing.
  await control(`/sim/mp/payments/${ref}/status`, { status: 'rejected', status_detail: 'cc_rejected_other_reason' });
  await deliver();
  assert.equal((await payments.getAttempt(r.attemptId)).status, 'approved');
  assert.deepEqual(await events(r.attemptId), ['payments.payment_rejected', 'payments.payment_approved']);
});

test('a late approval of an order another attempt already paid is given back once at the processor', async () => {
  const orderId = 'mp-late-2';
  const first = await payments.startPayment({ orderId, amount: 6000, currency: 'CLP', customerId: 'c-mp', method: 'mercadopago_card', cardToken: await h.mpCardToken('OTHE'), paymentMethodId: 'master' });
  assert.equal(first.status, 'rejected');
  const second = await payments.startPayment({ orderId, amount: 6000, currency: 'CLP', customerId: 'c-mp', method: 'mercadopago_card', cardToken: await h.mpCardToken('APRO'), paymentMethodId: 'master' });
  assert.equal(second.status, 'approved');
  await deliver();
  const ref = (await payments.getAttempt(first.attemptId)).processorRef ?? '';
  await control('/sim/webhooks/faults', { duplicate: 3 });
  await control(`/sim/mp/payments/${ref}/status`, { status: 'approved', status_detail: 'accredited' });
  await deliver();
  await deliver();
  await control('/sim/webhooks/faults', { duplicate: 0, reorder: 0 });
  const a = await payments.getAttempt(first.attemptId);
  assert.deepEqual([a.status, a.reason], ['rejected', 'order_already_paid']);
  assert.deepEqual(await events(first.attemptId), ['payments.payment_rejected', 'payments.payment_rejected']);
  const log = (await (await fetch(`${sim.url}/sim/log`)).json()) as { direction: string; summary: string; status?: number }[];
  const refunds = log.filter((e) => e.direction === 'in' && e.summary === `POST /v1/payments/${ref}/refunds` && (e.status ?? 0) < 300);
  assert.equal(refunds.length, 1, JSON.stringify(log.filter((e) => e.summary.includes(ref))));
  const approvals = await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM payment_attempt_events WHERE order_id = $1 AND status = 'approved'`, [orderId]);
  assert.equal(approvals.rows[0]?.n, 1);
});

test('MP cash: pending for three virtual days, then paid; duplicated and reordered webhooks apply once', async () => {
  await control('/sim/webhooks/faults', { duplicate: 4, reorder: 2 });
  const r = await payments.startPayment({ orderId: 'mp-cash-1', amount: 30000, currency: 'CLP', customerId: 'c-mp', method: 'mercadopago_cash', paymentMethodId: 'servipag' });
  assert.equal(r.status, 'pending');
  assert.ok(r.redirect?.url.includes('/sim/mp/tickets/'));
  const attempt = await payments.getAttempt(r.attemptId);
  assert.equal(attempt.status, 'pending');
  for (let day = 0; day < 3; day++) {
    clock.advance(DAY - 60_000);
    await deliver();
    await payments.runJanitor();
    assert.equal((await payments.getAttempt(r.attemptId)).status, 'pending');
  }
  await control(`/sim/mp/payments/${attempt.processorRef ?? ''}/pay`);
  // Held notifications go out in reverse order: payment.updated (approved) before payment.created.
  await control('/sim/webhooks/release');
  await deliver();
  assert.equal((await payments.getAttempt(r.attemptId)).status, 'approved');
  assert.deepEqual(await events(r.attemptId), ['payments.payment_pending', 'payments.payment_approved']);
  const deliveries = (await (await fetch(`${sim.url}/sim/webhooks`)).json()) as unknown[];
  assert.ok(deliveries.length >= 3, `deliveries: ${deliveries.length}`);
  await control('/sim/webhooks/faults', { duplicate: 0, reorder: 0 });
});

test('MP cash pending then expired → payment_expired', async () => {
  const r = await payments.startPayment({ orderId: 'mp-cash-2', amount: 8000, currency: 'CLP', customerId: 'c-mp', method: 'mercadopago_cash', paymentMethodId: 'servipag' });
  assert.equal(r.status, 'pending');
  const a = await payments.getAttempt(r.attemptId);
  await control(`/sim/mp/payments/${a.processorRef ?? ''}/expire`);
  await deliver();
  assert.equal((await payments.getAttempt(r.attemptId)).status, 'expired');
  assert.deepEqual(await events(r.attemptId), ['payments.payment_pending', 'payments.payment_expired']);
});

test('a webhook with an invalid signature → 401 and nothing changes', async () => {
  const r = await payments.startPayment({ orderId: 'mp-cash-3', amount: 9000, currency: 'CLP', customerId: 'c-mp', method: 'mercadopago_cash', paymentMethodId: 'servipag' });
  const a = await payments.getAttempt(r.attemptId);
  await deliver();
  const notificationsBefore = await h.db.query('SELECT count(*)::int AS n FROM payment_notifications');
  const ts = String(clock.now().getTime());
  const forged = await fetch(`${h.appUrl()}/webhooks/mercadopago?data.id=${a.processorRef ?? ''}&type=payment`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'forged-1', 'x-signature': `ts=${ts},v1=${'0'.repeat(64)}` },
    body: JSON.stringify({ id: 999_001, type: 'payment', action: 'payment.updated', data: { id: a.processorRef } }),
  });
  assert.equal(forged.status, 401);
  assert.equal(((await forged.json()) as { code: string }).code, 'invalid_signature');
  const unsigned = await fetch(`${h.appUrl()}/webhooks/mercadopago?data.id=${a.processorRef ?? ''}&type=payment`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(unsigned.status, 401);
  await payments.settle();
  assert.equal((await payments.getAttempt(r.attemptId)).status, 'pending');
  const notificationsAfter = await h.db.query('SELECT count(*)::int AS n FROM payment_notifications');
  assert.equal(notificationsAfter.rows[0]?.n, notificationsBefore.rows[0]?.n);
  assert.ok(h.lines.some((l) => l.includes('invalid signature')));
  // The genuine notification, once the shopper pays, settles it.
  await control(`/sim/mp/payments/${a.processorRef ?? ''}/pay`);
  await deliver();
  assert.equal((await payments.getAttempt(r.attemptId)).status, 'approved');
});

test('a replayed genuine webhook outside the timestamp tolerance is refused', async () => {
  const deliveries = (await (await fetch(`${sim.url}/sim/webhooks`)).json()) as unknown[];
  assert.ok(deliveries.length > 0);
  const { createHmac } = await import('node:crypto');
  const secretless = createHmac('sha256', 'wrong').update('x').digest('hex');
  const old = String(clock.now().getTime() - 3_600_000);
  const res = await fetch(`${h.appUrl()}/webhooks/mercadopago?data.id=1&type=payment`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'r', 'x-signature': `ts=${old},v1=${secretless}` },
    body: '{}',
  });
  assert.equal(res.status, 401);
});
