// The whole purchase with the real contexts: catalog, inventory, payments, the event bus
// (checkout's durable consumer of payments outcomes) and the processor simulator
// (Transbank Oneclick and Webpay, Mercado Pago over their REST paths).
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { createCheckout, createIdempotencyGuard, PAYMENT_EVENT_TYPES } from '../../src/checkout/index.js';
import { createCustomers } from '../../src/customers/index.js';
import { createHttpApp } from '../../src/platform/http.js';
import { createPayments } from '../../src/payments/index.js';
import { startProcessorSim } from '../../src/processor-sim/index.js';
import { buildInventory, createLocations } from '../inventory/support.js';
import { freshDatabase } from '../support/db.js';
import { capturingLogger, testConfig } from '../support/platform.js';
import { postForm } from '../processor-sim/support.js';
import { ADDRESS, shopper } from './support/harness.js';
import { createEventBus } from '../../src/events/index.js';

const VISA_OK = '4051885600446623';
const MASTER_REJECT = '5186059559590568';
const MP_CARD = '5416752602582580';

const { db, url } = await freshDatabase({ poolSize: 30 });
const { inventory, catalog, clock, metrics } = buildInventory(db);
clock.set(new Date('2026-11-27T15:00:00Z'));
const { logger } = capturingLogger('warn');
const mpAccessToken = `TEST-${randomBytes(12).toString('hex')}`;
const mpWebhookSecret = randomBytes(32).toString('hex');
const sim = await startProcessorSim({ port: 0, clock, mpAccessToken, mpWebhookSecret, tickMs: 0 });
const base = testConfig(url);
const config = {
  ...base,
  kek: randomBytes(32).toString('base64'),
  payments: { ...base.payments, tbkBaseUrl: sim.url, mpBaseUrl: sim.url, mpAccessToken, mpWebhookSecret, processorTimeoutMs: 3000 },
};
let appUrl = 'http://127.0.0.1:0';
const payments = createPayments({ config, db, logger, metrics, clock, publicUrl: () => appUrl });
const idempotency = createIdempotencyGuard({ db, clock });
const customers = createCustomers({ db, clock, idempotent: idempotency.idempotent });
const events = createEventBus({ db, logger, metrics, clock, pollMs: 50 });
const ADMIN_TOKEN = `admin-${randomBytes(8).toString('hex')}`;
const checkout = createCheckout({ db, clock, logger, customers, catalog, inventory, payments, idempotency, events, adminToken: ADMIN_TOKEN });
for (const w of checkout.workers) if (w.name !== 'checkout-expiry') w.start();
const app = await createHttpApp({ logger, metrics, readiness: {}, modules: [customers.routes, payments.routes, ...checkout.routes] });
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
appUrl = `http://127.0.0.1:${address && typeof address === 'object' ? address.port : 0}`;
after(async () => {
  await app.close();
  await sim.close();
});

await catalog.createCategory({ slug: 'cocina', name: 'Cocina' });
await catalog.createProduct({ name: 'Olla', category: 'cocina', skus: [{ sku: 'OLLA-5L', price: 34_990 }, { sku: 'OLLA-UNICA', price: 59_990 }, { sku: 'OLLA-TARDE', price: 44_990 }] });
await createLocations(inventory, ['bodega']);
await inventory.receive({ sku: 'OLLA-5L', locationId: 'bodega', quantity: 100 });
await inventory.receive({ sku: 'OLLA-UNICA', locationId: 'bodega', quantity: 1 });
await inventory.receive({ sku: 'OLLA-TARDE', locationId: 'bodega', quantity: 1 });

const status = async (orderId: string) => (await db.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [orderId])).rows[0]?.status;
/** Waits until the bus's consumer has moved every order out of pending_payment (or the given one). */
const settle = async (pendingOk: string[] = []) => {
  await payments.settle();
  for (let i = 0; i < 200; i++) {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM orders WHERE status = 'pending_payment' AND NOT (id = ANY($1::uuid[]))`, [pendingOk]);
    const { rows: lag } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events_outbox o WHERE o.type = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM events_inbox i WHERE i.event_id = o.event_id AND i.consumer = 'checkout.payments')`, [[...PAYMENT_EVENT_TYPES]]);
    if (rows[0]?.n === 0 && lag[0]?.n === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the payments outcomes were not consumed in time');
};
const attempts = async (orderId: string) => (await payments.attemptsForOrder(orderId)).length;
type Out = { orderId: string; status: string; payment: { status: string; attemptId: string }; next: { type: string; url?: string; token?: string } };

async function registered(card = VISA_OK) {
  const res = await app.inject({ method: 'POST', url: '/customers', payload: { email: `c${randomUUID().slice(0, 8)}@example.cl`, password: 'a long enough password' } });
  const { token, customer } = res.json<{ token: string; customer: { id: string } }>();
  const start = await payments.cards.startInscription({ customerId: customer.id, email: 'buyer@example.cl', returnUrl: 'http://shop.test/cards' });
  await (await postForm(start.url, { TBK_TOKEN: start.token })).text();
  const submitted = await postForm(`${sim.url}/webpayserver/bp_inscription_submit`, { TBK_TOKEN: start.token, card_number: card, cvv: '123', expiry: '12/30', action: 'pay' });
  await submitted.text();
  await (await fetch(submitted.headers.get('location') ?? '', { redirect: 'manual' })).text();
  const [saved] = await payments.cards.list(customer.id);
  assert.ok(saved, 'card enrolled');
  return { s: shopper(app, token), customerId: customer.id, cardId: saved.id };
}

async function cart(s: ReturnType<typeof shopper>, lines: Record<string, number>) {
  const id = (await s.post('/carts')).json<{ id: string }>().id;
  for (const [sku, quantity] of Object.entries(lines)) assert.equal((await s.post(`/carts/${id}/lines`, { sku, quantity })).statusCode, 200);
  return id;
}

test('one-click with a saved card: approved by the processor → order paid, stock sold, one charge', async () => {
  const { s, cardId } = await registered();
  const before = await inventory.stock('OLLA-5L');
  const res = await s.post(`/carts/${await cart(s, { 'OLLA-5L': 2 })}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: cardId } });
  assert.equal(res.statusCode, 201, res.body);
  const out = res.json<Out>();
  assert.equal(out.payment.status, 'approved');
  await settle();
  assert.equal(await status(out.orderId), 'paid');
  const after = await inventory.stock('OLLA-5L');
  assert.equal(after.onHand, before.onHand - 2);
  assert.equal(after.reserved, before.reserved);
  assert.equal(await attempts(out.orderId), 1);
});

test('Webpay redirect: the shopper pays at the form, the return commits it → paid', async () => {
  const { s } = await registered();
  const out = (await s.post(`/carts/${await cart(s, { 'OLLA-5L': 1 })}/checkout`, { address: ADDRESS, payment: { method: 'webpay' } })).json<Out>();
  assert.equal(out.next.type, 'redirect');
  await (await postForm(out.next.url ?? '', { token_ws: out.next.token ?? '' })).text();
  const paid = await postForm(`${sim.url}/webpayserver/pay`, { token_ws: out.next.token ?? '', card_number: VISA_OK, cvv: '123', expiry: '12/30', action: 'pay' });
  await paid.text();
  const back = await fetch(paid.headers.get('location') ?? '', { redirect: 'manual' });
  await back.text();
  await settle();
  assert.equal(await status(out.orderId), 'paid');
});

test('Webpay rejected card → payment_failed and the stock comes back', async () => {
  const { s } = await registered();
  const before = await inventory.stock('OLLA-5L');
  const out = (await s.post(`/carts/${await cart(s, { 'OLLA-5L': 3 })}/checkout`, { address: ADDRESS, payment: { method: 'webpay' } })).json<Out>();
  await (await postForm(out.next.url ?? '', { token_ws: out.next.token ?? '' })).text();
  const res = await postForm(`${sim.url}/webpayserver/pay`, { token_ws: out.next.token ?? '', card_number: MASTER_REJECT, cvv: '123', expiry: '12/30', action: 'pay' });
  await res.text();
  await (await fetch(res.headers.get('location') ?? '', { redirect: 'manual' })).text();
  await settle();
  assert.equal(await status(out.orderId), 'payment_failed');
  const after = await inventory.stock('OLLA-5L');
  assert.deepEqual([after.onHand, after.reserved], [before.onHand, before.reserved]);
});

test('last unit with real payments: N one-click buyers, 1 unit → one paid order, one charge, nothing oversold', async () => {
  const buyers = await Promise.all(Array.from({ length: 6 }, () => registered()));
  const carts = await Promise.all(buyers.map((b) => cart(b.s, { 'OLLA-UNICA': 1 })));
  const results = await Promise.all(buyers.map((b, i) => b.s.post(`/carts/${carts[i]}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: b.cardId } })));
  const won = results.filter((r) => r.statusCode === 201);
  assert.equal(won.length, 1, results.map((r) => r.body).join('\n'));
  await settle();
  const orderId = won[0]?.json<Out>().orderId ?? '';
  assert.equal(await status(orderId), 'paid');
  const stock = await inventory.stock('OLLA-UNICA');
  assert.deepEqual([stock.onHand, stock.reserved], [0, 0]);
  const charges = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events_outbox WHERE type = 'payments.payment_approved' AND payload->>'orderId' = $1`, [orderId]);
  assert.equal(charges.rows[0]?.n, 1);
  assert.ok((await inventory.checkInvariants()).ok);
});

test('double click on pay (same key and new keys at once): one order, one attempt, one charge', async () => {
  const { s, cardId } = await registered();
  const cartId = await cart(s, { 'OLLA-5L': 1 });
  const body = { address: ADDRESS, payment: { method: 'oneclick', savedCardId: cardId } };
  const key = randomUUID();
  const results = await Promise.all([...Array.from({ length: 4 }, () => s.post(`/carts/${cartId}/checkout`, body, key)), s.post(`/carts/${cartId}/checkout`, body), s.post(`/carts/${cartId}/checkout`, body)]);
  const ids = new Set(results.filter((r) => r.statusCode === 201).map((r) => r.json<Out>().orderId));
  assert.equal(ids.size, 1);
  const [orderId] = [...ids];
  await settle();
  assert.equal(await attempts(orderId ?? ''), 1);
  assert.equal(await status(orderId ?? ''), 'paid');
});

async function cashOrder() {
  const { s } = await registered();
  const before = await inventory.stock('OLLA-5L');
  const res = await s.post(`/carts/${await cart(s, { 'OLLA-5L': 1 })}/checkout`, { address: ADDRESS, payment: { method: 'mercadopago_cash', paymentMethodId: 'servipag' } });
  assert.equal(res.statusCode, 201, res.body);
  const out = res.json<Out>();
  assert.equal(out.payment.status, 'pending');
  assert.equal(out.next.type, 'redirect'); // the voucher to pay at Servipag
  await settle([out.orderId]);
  assert.equal(await status(out.orderId), 'pending_payment');
  assert.equal((await inventory.stock('OLLA-5L')).reserved, before.reserved + 1);
  return { out, before, mpId: out.next.token ?? '' };
}

test('Mercado Pago cash: pending for days, paid at the counter → the signed webhook moves the order to paid', async () => {
  const { out, before, mpId } = await cashOrder();
  clock.advance(2 * 24 * 3600_000);
  const pay = await fetch(`${sim.url}/sim/mp/payments/${mpId}/pay`, { method: 'POST' });
  assert.equal(pay.status, 200, await pay.text());
  await sim.tick();
  await settle();
  assert.equal(await status(out.orderId), 'paid');
  const after = await inventory.stock('OLLA-5L');
  assert.equal(after.onHand, before.onHand - 1);
  assert.equal(after.reserved, before.reserved);
});

test('Mercado Pago cash: the voucher expires unpaid → the order expires and the stock comes back', async () => {
  const { out, before, mpId } = await cashOrder();
  const expire = await fetch(`${sim.url}/sim/mp/payments/${mpId}/expire`, { method: 'POST' });
  assert.equal(expire.status, 200, await expire.text());
  await sim.tick();
  await settle();
  assert.equal(await status(out.orderId), 'expired');
  const after = await inventory.stock('OLLA-5L');
  assert.deepEqual([after.onHand, after.reserved], [before.onHand, before.reserved]);
});

/** A Mercado Pago card token as the browser SDK makes it (holder OTHE: the card is declined). */
async function mpCardToken(holder: 'APRO' | 'OTHE') {
  const res = await fetch(`${sim.url}/v1/card_tokens?public_key=TEST-public`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      card_number: MP_CARD, expiration_month: 11, expiration_year: 2030, security_code: '123',
      cardholder: { name: holder, identification: { type: 'RUT', number: '111111111' } },
    }),
  });
  return String(((await res.json()) as { id: string }).id);
}

/** A Mercado Pago card order the processor declines; the order fails and its stock comes back. */
async function declinedMpOrder(sku: string) {
  const { s } = await registered();
  const before = await inventory.stock(sku);
  const res = await s.post(`/carts/${await cart(s, { [sku]: 1 })}/checkout`, {
    address: ADDRESS, payment: { method: 'mercadopago_card', cardToken: await mpCardToken('OTHE'), paymentMethodId: 'master' },
  });
  assert.equal(res.statusCode, 201, res.body);
  const out = res.json<Out>();
  assert.equal(out.payment.status, 'rejected');
  await settle();
  assert.equal(await status(out.orderId), 'payment_failed');
  const released = await inventory.stock(sku);
  assert.deepEqual([released.onHand, released.reserved], [before.onHand, before.reserved]);
  const ref = (await payments.getAttempt(out.payment.attemptId)).processorRef ?? '';
  /** The processor changes its mind: the declined payment is approved after all (its webhook follows). */
  const approveLate = async () => {
    const changed = await fetch(`${sim.url}/sim/mp/payments/${ref}/status`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'approved', status_detail: 'accredited' }),
    });
    assert.equal(changed.status, 200, await changed.text());
    await sim.tick();
    await settle();
  };
  return { out, before, approveLate };
}
const reasons = async (orderId: string) =>
  (await db.query<{ reason: string }>('SELECT reason FROM order_transitions WHERE order_id = $1 ORDER BY id', [orderId])).rows.map((r) => r.reason);

test('Mercado Pago card declined, then approved late: the order is paid after all, its stock reserved again and sold, one charge', async () => {
  const { out, before, approveLate } = await declinedMpOrder('OLLA-5L');
  await approveLate();
  assert.equal(await status(out.orderId), 'paid');
  assert.equal((await reasons(out.orderId)).at(-1), 'late_approval');
  const after = await inventory.stock('OLLA-5L');
  assert.deepEqual([after.onHand, after.reserved], [before.onHand - 1, before.reserved]);
  const charges = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events_outbox WHERE type = 'payments.payment_approved' AND payload->>'orderId' = $1`, [out.orderId]);
  assert.equal(charges.rows[0]?.n, 1);
  assert.ok((await inventory.checkInvariants()).ok);
});

test('Mercado Pago card declined, the last unit sold to another buyer, then approved late: refunded automatically and the order says so', async () => {
  const { out, approveLate } = await declinedMpOrder('OLLA-TARDE');
  const other = await registered();
  const sold = await other.s.post(`/carts/${await cart(other.s, { 'OLLA-TARDE': 1 })}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: other.cardId } });
  assert.equal(sold.statusCode, 201, sold.body);
  await settle();
  assert.equal(await status(sold.json<Out>().orderId), 'paid');
  await approveLate();
  assert.equal(await status(out.orderId), 'refunded');
  const history = await reasons(out.orderId);
  assert.deepEqual(history.slice(-2), ['late_approval_no_stock', 'refund_succeeded']);
  // The whole charge went back to the customer, once.
  const { rows: [order] } = await db.query<{ total: number }>('SELECT total FROM orders WHERE id = $1', [out.orderId]);
  const refunds = await db.query<{ amount: number }>(`SELECT amount::int AS amount FROM payment_refunds WHERE order_id = $1`, [out.orderId]);
  assert.deepEqual(refunds.rows.map((r) => r.amount), [order?.total]);
  const stock = await inventory.stock('OLLA-TARDE');
  assert.deepEqual([stock.onHand, stock.reserved], [0, 0]);
  assert.ok((await inventory.checkInvariants()).ok);
});

test('an admin refund retried after a crash (its answer never stored) returns the refund it made, once', async () => {
  const { s, cardId } = await registered();
  const res = await s.post(`/carts/${await cart(s, { 'OLLA-5L': 1 })}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: cardId } });
  const out = res.json<Out & { totals: { total: number } }>();
  await settle();
  const admin = { 'x-admin-token': ADMIN_TOKEN };
  const refund = (key: string, amount: number) => app.inject({
    method: 'POST', url: `/admin/orders/${out.orderId}/refunds`, headers: { ...admin, 'idempotency-key': key }, payload: { amount, reason: 'devolución' },
  });
  const total = out.totals.total;
  assert.equal((await refund('part', 10_000)).statusCode, 202);
  assert.equal((await refund('rest', total - 10_000)).statusCode, 202);
  await payments.settle();
  await settle();
  assert.equal(await status(out.orderId), 'refunded');
  // The process died after the refund and before storing its answer: the key's row is left
  // running with its lease over, and the admin sends the same request again.
  await db.query(`UPDATE checkout_idempotency_keys SET state = 'running', status_code = NULL, body = NULL, completed_at = NULL,
    lease_until = $1 WHERE scope = 'admin' AND key = 'rest'`, [new Date(clock.now().getTime() - 60_000)]);
  const retried = await refund('rest', total - 10_000);
  assert.equal(retried.statusCode, 202, retried.body);
  assert.deepEqual(retried.json(), { orderId: out.orderId, requested: total - 10_000, refundable: 0 });
  const { rows } = await db.query<{ amount: number }>('SELECT amount::int AS amount FROM payment_refunds WHERE order_id = $1 ORDER BY amount', [out.orderId]);
  assert.deepEqual(rows.map((r) => r.amount), [10_000, total - 10_000].sort((a, b) => a - b));
  // Another key for more money is refused, and so is the same key with another amount.
  assert.equal((await refund('more', 1)).json<{ code: string }>().code, 'order_not_refundable');
  const other = await refund('part', 20_000);
  assert.equal(other.json<{ code: string }>().code, 'idempotency_mismatch', other.body);
});

test('nothing went to the dead letters; the consumer stops cleanly', async () => {
  await payments.settle();
  const dead = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events_dead_letters');
  assert.equal(dead.rows[0]?.n, 0);
  for (const w of checkout.workers) await w.stop();
  await events.close();
});
