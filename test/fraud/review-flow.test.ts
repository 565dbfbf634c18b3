// The fraud decision inside the whole purchase: checkout over HTTP, real inventory, payments
// with a scripted processor, and checkout's durable consumer of payments events on the bus.
// Review → order held with its stock; approve → paid and sold; reject → stock released and the
// payment refunded; block → the order fails with `fraud_blocked` and nothing is charged.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { createCheckout, createIdempotencyGuard, PAYMENT_EVENT_TYPES } from '../../src/checkout/index.js';
import { createCustomers } from '../../src/customers/index.js';
import { createEventBus } from '../../src/events/index.js';
import { createHttpApp } from '../../src/platform/http.js';
import { createPayments } from '../../src/payments/index.js';
import { buildInventory, createLocations } from '../inventory/support.js';
import { ADDRESS } from '../checkout/support/harness.js';
import { freshDatabase } from '../support/db.js';
import { capturingLogger, testConfig } from '../support/platform.js';
import { scriptedProcessor } from './support.js';

const ADMIN = 'fraud-admin-token-0123456789';
const { db, url } = await freshDatabase({ poolSize: 20 });
const { inventory, catalog, clock, metrics } = buildInventory(db);
clock.set(new Date('2026-11-30T15:00:00Z'));
const { logger } = capturingLogger('warn');
const mp = scriptedProcessor('mercadopago');
const payments = createPayments({ config: testConfig(url, { adminToken: ADMIN }), db, logger, metrics, clock, connectors: { mercadopago: mp.connector } });
const idempotency = createIdempotencyGuard({ db, clock });
const customers = createCustomers({ db, clock, idempotent: idempotency.idempotent });
const events = createEventBus({ db, logger, metrics, clock, pollMs: 20 });
const checkout = createCheckout({ db, clock, logger, customers, catalog, inventory, payments, idempotency, events, adminToken: ADMIN });
for (const w of checkout.workers) if (w.name !== 'checkout-expiry') w.start();
const app = await createHttpApp({ logger, metrics, readiness: {}, modules: [customers.routes, payments.routes, ...checkout.routes] });
after(async () => {
  for (const w of checkout.workers) await w.stop();
  await events.close();
  await app.close();
});

await catalog.createCategory({ slug: 'tv', name: 'TV' });
await catalog.createProduct({ name: 'Televisor', category: 'tv', skus: [{ sku: 'TV-65', price: 650_000 }, { sku: 'CABLE', price: 1_000 }] });
await createLocations(inventory, ['bodega']);
await inventory.receive({ sku: 'TV-65', locationId: 'bodega', quantity: 10 });
await inventory.receive({ sku: 'CABLE', locationId: 'bodega', quantity: 100 });

type CheckoutOut = { orderId: string; status: string; payment: { status: string; reason?: string; attemptId: string | null }; next: { type: string; reason?: string } };

/** A guest shopper at `ip` (and `device`) buying `lines`, paying with an MP card token. */
async function buy(lines: Record<string, number>, opts: { ip?: string; device?: string } = {}) {
  const remoteAddress = opts.ip ?? '198.51.100.20';
  const g = await app.inject({ method: 'POST', url: '/customers/guest', remoteAddress, payload: { email: `g${randomUUID().slice(0, 8)}@example.cl` } });
  const { token } = g.json<{ token: string }>();
  const headers = { authorization: `Bearer ${token}`, ...(opts.device ? { 'x-device-id': opts.device } : {}) };
  const post = (path: string, payload?: object) => app.inject({ method: 'POST', url: path, remoteAddress, headers: { ...headers, 'idempotency-key': randomUUID() }, ...(payload ? { payload } : {}) });
  const cartId = (await post('/carts')).json<{ id: string }>().id;
  for (const [sku, quantity] of Object.entries(lines)) assert.equal((await post(`/carts/${cartId}/lines`, { sku, quantity })).statusCode, 200);
  const res = await post(`/carts/${cartId}/checkout`, { address: ADDRESS, payment: { method: 'mercadopago_card', cardToken: `tok-${randomUUID()}`, paymentMethodId: 'visa' } });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<CheckoutOut>();
}

const orderStatus = async (orderId: string) => (await db.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [orderId])).rows[0]?.status;
/** Waits until checkout's consumer has applied every payments event. */
async function drained() {
  await payments.settle();
  // Generous: on a loaded machine the bus's consumer may lag by seconds.
  for (const until = Date.now() + 60_000; Date.now() < until;) {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events_outbox o WHERE o.type = ANY($1::text[])
         AND NOT EXISTS (SELECT 1 FROM events_inbox i WHERE i.event_id = o.event_id AND i.consumer = 'checkout.payments')`, [[...PAYMENT_EVENT_TYPES]]);
    if (rows[0]?.n === 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('payments events not consumed within 60 s');
}
const tv = async () => {
  const s = await inventory.stock('TV-65');
  return { onHand: s.onHand, reserved: s.reserved };
};
const reviewOf = async (orderId: string) => (await payments.fraudReviews.list({ limit: 1000 })).find((r) => r.orderId === orderId);

describe('fraud review inside checkout', () => {
  it('review → the order is held with its stock reserved; approving it sells the stock', async () => {
    const out = await buy({ 'TV-65': 1 });
    assert.equal(out.payment.status, 'approved', 'the charge goes through; the order waits');
    await drained();
    assert.equal(await orderStatus(out.orderId), 'on_hold');
    assert.deepEqual(await tv(), { onHand: 10, reserved: 1 });
    const { rows } = await db.query<{ reservation_id: string }>('SELECT reservation_id FROM orders WHERE id = $1', [out.orderId]);
    const reservation = await inventory.getReservation(rows[0]?.reservation_id ?? '');
    assert.ok(reservation.expiresAt.getTime() - clock.now().getTime() > 6 * 24 * 3600_000, 'the reservation is held for the review (7 days)');
    const status = await app.inject({ method: 'GET', url: `/admin/orders/${out.orderId}`, headers: { 'x-admin-token': ADMIN } });
    assert.equal(status.json<{ status: string }>().status, 'on_hold');

    const review = await reviewOf(out.orderId);
    assert.ok(review);
    assert.equal(review.status, 'open');
    const res = await app.inject({ method: 'POST', url: `/admin/fraud/reviews/${review.id}/decision`, headers: { 'x-admin-token': ADMIN }, payload: { outcome: 'approve', reviewer: 'ana', note: 'called the customer' } });
    assert.equal(res.statusCode, 200, res.body);
    await drained();
    assert.equal(await orderStatus(out.orderId), 'paid');
    assert.deepEqual(await tv(), { onHand: 9, reserved: 0 });
    assert.equal(mp.state.refunds.length, 0);
  });

  it('review → reject releases the stock and refunds the payment', async () => {
    const out = await buy({ 'TV-65': 2 });
    await drained();
    assert.equal(await orderStatus(out.orderId), 'on_hold');
    assert.deepEqual(await tv(), { onHand: 9, reserved: 2 });
    const review = await reviewOf(out.orderId);
    assert.ok(review);
    await payments.fraudReviews.decide(review.id, { outcome: 'reject', reviewer: 'bea' });
    await drained();
    await drained(); // the refund's own event
    assert.equal(await orderStatus(out.orderId), 'refunded');
    assert.deepEqual(await tv(), { onHand: 9, reserved: 0 }, 'nothing sold, nothing reserved');
    assert.deepEqual(mp.state.refunds, [{ attemptId: out.payment.attemptId, amount: 1_300_000 }]);
    const { rows } = await db.query<{ to_status: string; reason: string }>('SELECT to_status, reason FROM order_transitions WHERE order_id = $1 ORDER BY id', [out.orderId]);
    assert.deepEqual(rows.map((r) => `${r.to_status}:${r.reason}`), ['pending_payment:placed', 'on_hold:fraud_review', 'refunding:fraud_review_rejected', 'refunded:refund_succeeded']);
  });

  it('a card-testing burst from one device is blocked: the order fails with fraud_blocked, nothing is charged', async () => {
    mp.state.decide = () => 'rejected';
    const device = 'dev-burst-1';
    for (let i = 0; i < 3; i++) {
      // Each from another IP: the device is what ties them together.
      const out = await buy({ CABLE: 1 }, { device, ip: `192.0.2.${10 + i}` });
      assert.equal(out.payment.status, 'rejected');
    }
    await drained();
    const calls = mp.state.authorizations;
    const blocked = await buy({ CABLE: 1 }, { device, ip: '192.0.2.50' });
    assert.equal(blocked.status, 'payment_failed');
    assert.deepEqual(blocked.payment, { attemptId: null, status: 'rejected', reason: 'fraud_blocked' });
    assert.deepEqual(blocked.next, { type: 'result', outcome: 'rejected', reason: 'fraud_blocked' });
    assert.equal(mp.state.authorizations, calls, 'the processor was not asked');
    assert.equal(await orderStatus(blocked.orderId), 'payment_failed');
    const cable = await inventory.stock('CABLE');
    assert.deepEqual({ onHand: cable.onHand, reserved: cable.reserved }, { onHand: 100, reserved: 0 });
    const [d] = (await db.query<{ decision: string; reasons: string[] }>('SELECT decision, reasons FROM fraud_decisions WHERE order_id = $1', [blocked.orderId])).rows;
    assert.deepEqual(d, { decision: 'block', reasons: ['card_testing_device'] });
    mp.state.decide = () => 'approved';
  });

  it('a regular purchase is not held', async () => {
    const out = await buy({ CABLE: 3 }, { ip: '198.51.100.77', device: 'dev-ok' });
    await drained();
    assert.equal(await orderStatus(out.orderId), 'paid');
    const [d] = (await db.query<{ decision: string }>('SELECT decision FROM fraud_decisions WHERE order_id = $1', [out.orderId])).rows;
    assert.equal(d?.decision, 'allow');
  });
});
