// Checkout against the real catalog and inventory contexts (payments is still a stand-in
// publishing its outcome events to the outbox, as the real one does).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { manualClock } from '../../src/platform/clock.js';
import { freshDatabase } from '../support/db.js';
import { buildInventory, createLocations } from '../inventory/support.js';
import { buildShop, cartWith, guest, ADDRESS } from './support/harness.js';
import { deliver, fakeEnvelope, standInPayments } from './support/stand-ins.js';

const { db } = await freshDatabase({ poolSize: 30 });
const clock = manualClock(new Date('2026-11-28T12:00:00Z'));
const { inventory, catalog } = buildInventory(db, { clock });
await catalog.createCategory({ slug: 'hogar', name: 'Hogar' });
await catalog.createProduct({
  name: 'Sartén', category: 'hogar',
  skus: [{ sku: 'SARTEN-24', price: 24_990 }, { sku: 'SARTEN-28', price: 29_990 }, { sku: 'ULTIMA', price: 99_990 }],
});
await createLocations(inventory, ['bodega-stgo', 'tienda-nunoa']);
await inventory.receive({ sku: 'SARTEN-24', locationId: 'bodega-stgo', quantity: 500 });
await inventory.receive({ sku: 'SARTEN-28', locationId: 'tienda-nunoa', quantity: 500 });
await inventory.receive({ sku: 'ULTIMA', locationId: 'tienda-nunoa', quantity: 1 });
const payments = standInPayments(db);
const { app, checkout } = await buildShop(db, { catalog, inventory, payments }, clock);
const settle = () => deliver(db, checkout.handlePaymentEvent);
const status = async (orderId: string) => (await db.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [orderId])).rows[0]?.status;
type Out = { orderId: string; payment: { attemptId: string }; totals: { total: number } };

test('approved → paid and the stock is sold; the inventory invariants hold', async () => {
  const s = await guest(app);
  const before = await inventory.stock('SARTEN-24');
  const res = await s.post(`/carts/${await cartWith(s, { 'SARTEN-24': 2, 'SARTEN-28': 1 })}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: 'c' } });
  assert.equal(res.statusCode, 201, res.body);
  const out = res.json<Out>();
  assert.equal(out.totals.total, 2 * 24_990 + 29_990); // over the free-shipping threshold
  assert.equal((await inventory.stock('SARTEN-24')).reserved, before.reserved + 2);
  await settle();
  assert.equal(await status(out.orderId), 'paid');
  const after = await inventory.stock('SARTEN-24');
  assert.equal(after.onHand, before.onHand - 2);
  assert.equal(after.reserved, before.reserved);
  assert.ok((await inventory.checkInvariants()).ok);
});

test('rejected → payment_failed and the stock is released', async () => {
  const s = await guest(app);
  const before = await inventory.stock('SARTEN-28');
  const out = (await s.post(`/carts/${await cartWith(s, { 'SARTEN-28': 3 })}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: 'card-declined' } })).json<Out>();
  await settle();
  assert.equal(await status(out.orderId), 'payment_failed');
  const after = await inventory.stock('SARTEN-28');
  assert.equal(after.onHand, before.onHand);
  assert.equal(after.reserved, before.reserved);
});

test('payment expired → expired and the stock is released', async () => {
  const s = await guest(app);
  const before = await inventory.stock('SARTEN-28');
  const out = (await s.post(`/carts/${await cartWith(s, { 'SARTEN-28': 1 })}/checkout`, { address: ADDRESS, payment: { method: 'webpay' } })).json<Out>();
  assert.equal((await inventory.stock('SARTEN-28')).reserved, before.reserved + 1);
  await db.transaction((tx) => checkout.handlePaymentEvent(tx, fakeEnvelope('payments.payment_expired', { attemptId: out.payment.attemptId, orderId: out.orderId })));
  assert.equal(await status(out.orderId), 'expired');
  assert.equal((await inventory.stock('SARTEN-28')).reserved, before.reserved);
});

test('the inventory sweeper expires the reservation first; a late approval reserves again and sells', async () => {
  const s = await guest(app);
  const before = await inventory.stock('SARTEN-24');
  const out = (await s.post(`/carts/${await cartWith(s, { 'SARTEN-24': 1 })}/checkout`, { address: ADDRESS, payment: { method: 'webpay' } })).json<Out>();
  clock.advance(21 * 60_000);
  assert.ok((await inventory.expireDue()) >= 1);
  assert.equal((await inventory.stock('SARTEN-24')).reserved, before.reserved);
  await payments.approve(out.orderId, out.payment.attemptId, out.totals.total);
  await settle();
  assert.equal(await status(out.orderId), 'paid');
  const after = await inventory.stock('SARTEN-24');
  assert.equal(after.onHand, before.onHand - 1);
  assert.equal(after.reserved, before.reserved);
  assert.ok((await inventory.checkInvariants()).ok);
});

test('last unit: 12 buyers, 1 unit → exactly one order, one sale, never oversold', async () => {
  const buyers = await Promise.all(Array.from({ length: 12 }, () => guest(app)));
  const carts = await Promise.all(buyers.map((b) => cartWith(b, { ULTIMA: 1 })));
  const results = await Promise.allSettled(buyers.map((b, i) => b.post(`/carts/${carts[i]}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: 'c' } })));
  const responses = results.map((r) => (r.status === 'fulfilled' ? r.value : assert.fail(String(r.reason))));
  assert.equal(responses.filter((r) => r.statusCode === 201).length, 1);
  assert.ok(responses.filter((r) => r.statusCode !== 201).every((r) => r.statusCode === 409 && r.json<{ code: string }>().code === 'insufficient_stock'));
  await settle();
  const stock = await inventory.stock('ULTIMA');
  assert.deepEqual({ onHand: stock.onHand, reserved: stock.reserved }, { onHand: 0, reserved: 0 });
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE l.sku = 'ULTIMA' AND o.status = 'paid'`);
  assert.equal(rows[0]?.n, 1);
  assert.ok((await inventory.checkInvariants()).ok);
});

test('exactly once under concurrent duplicate submissions (same key and double clicks)', async () => {
  const s = await guest(app);
  const cartId = await cartWith(s, { 'SARTEN-24': 1 });
  const before = await inventory.stock('SARTEN-24');
  const key = randomUUID();
  const body = { address: ADDRESS, payment: { method: 'oneclick', savedCardId: 'c' } };
  const started = payments.started.length;
  const results = await Promise.all([
    ...Array.from({ length: 6 }, () => s.post(`/carts/${cartId}/checkout`, body, key)),
    ...Array.from({ length: 6 }, () => s.post(`/carts/${cartId}/checkout`, body)),
  ]);
  const orderIds = new Set(results.filter((r) => r.statusCode === 201).map((r) => r.json<Out>().orderId));
  assert.equal(orderIds.size, 1);
  assert.equal(payments.started.length - started, 1);
  await settle();
  const after = await inventory.stock('SARTEN-24');
  assert.equal(after.onHand, before.onHand - 1);
  assert.equal(after.reserved, before.reserved);
});
