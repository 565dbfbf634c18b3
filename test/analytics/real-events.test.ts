// The ETL against events made by the real services: a customer registers and saves an address,
// buys through checkout with the processor simulator (one-click approved, Webpay rejected),
// staff refund part of the paid order; the analytics consumer lands every event from the bus
// and the ETL builds the star schema. Each fact is checked against the OLTP side.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { createAnalytics, MARTS } from '../../src/analytics/index.js';
import { createCheckout, createIdempotencyGuard } from '../../src/checkout/index.js';
import { createCustomers } from '../../src/customers/index.js';
import { createEventBus } from '../../src/events/index.js';
import { createHttpApp } from '../../src/platform/http.js';
import { createPayments } from '../../src/payments/index.js';
import { startProcessorSim } from '../../src/processor-sim/index.js';
import { buildInventory, createLocations } from '../inventory/support.js';
import { freshDatabase } from '../support/db.js';
import { capturingLogger, testConfig } from '../support/platform.js';
import { postForm } from '../processor-sim/support.js';
import { ADDRESS, ADMIN_TOKEN, shopper } from '../checkout/support/harness.js';
import { waitFor } from '../events/support.js';

const VISA_OK = '4051885600446623';
const MASTER_REJECT = '5186059559590568';

const { db, url } = await freshDatabase({ poolSize: 30 });
const { inventory, catalog, clock, metrics } = buildInventory(db);
clock.set(new Date('2026-11-27T15:00:00Z'));
const { logger } = capturingLogger('warn');
const sim = await startProcessorSim({ port: 0, clock, mpAccessToken: `TEST-${randomBytes(12).toString('hex')}`, mpWebhookSecret: randomBytes(32).toString('hex'), tickMs: 0 });
const base = testConfig(url);
const config = { ...base, kek: randomBytes(32).toString('base64'), payments: { ...base.payments, tbkBaseUrl: sim.url, mpBaseUrl: sim.url, processorTimeoutMs: 3000 } };
let appUrl = 'http://127.0.0.1:0';
const payments = createPayments({ config, db, logger, metrics, clock, publicUrl: () => appUrl });
const idempotency = createIdempotencyGuard({ db, clock });
const customers = createCustomers({ db, clock, idempotent: idempotency.idempotent });
const events = createEventBus({ db, logger, metrics, clock, pollMs: 50 });
const checkout = createCheckout({ db, clock, logger, customers, catalog, inventory, payments, idempotency, events, adminToken: ADMIN_TOKEN });
for (const w of [...checkout.workers, ...payments.workers]) if (w.name !== 'checkout-expiry') w.start();
const dataDir = mkdtempSync(path.join(tmpdir(), 'embudo-wh-real-'));
const analytics = createAnalytics({ db, logger, metrics, clock, dataDir, events, streamIntervalMs: 50 });
for (const w of analytics.workers) w.start();
const app = await createHttpApp({ logger, metrics, readiness: {}, modules: [customers.routes, payments.routes, ...checkout.routes] });
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
appUrl = `http://127.0.0.1:${address && typeof address === 'object' ? address.port : 0}`;
after(async () => {
  for (const w of [...analytics.workers, ...checkout.workers, ...payments.workers]) await w.stop();
  await analytics.close();
  await app.close();
  await sim.close();
  await events.close();
});

await catalog.createCategory({ slug: 'cocina', name: 'Cocina' });
await catalog.createProduct({ name: 'Olla', category: 'cocina', skus: [{ sku: 'OLLA-5L', price: 34_990 }, { sku: 'SARTEN-28', price: 19_990 }] });
await createLocations(inventory, ['bodega']);
await inventory.receive({ sku: 'OLLA-5L', locationId: 'bodega', quantity: 50 });
await inventory.receive({ sku: 'SARTEN-28', locationId: 'bodega', quantity: 30 });

type Out = { orderId: string; status: string; payment: { status: string; attemptId: string }; next: { type: string; url?: string; token?: string } };
const n = (v: unknown) => Number(v);

async function registered() {
  const res = await app.inject({ method: 'POST', url: '/customers', payload: { email: `c${randomUUID().slice(0, 8)}@example.cl`, password: 'a long enough password' } });
  const { token, customer } = res.json<{ token: string; customer: { id: string } }>();
  const s = shopper(app, token);
  assert.equal((await s.post('/customers/me/addresses', ADDRESS)).statusCode, 201);
  const start = await payments.cards.startInscription({ customerId: customer.id, email: 'buyer@example.cl', returnUrl: 'http://shop.test/cards' });
  await (await postForm(start.url, { TBK_TOKEN: start.token })).text();
  const submitted = await postForm(`${sim.url}/webpayserver/bp_inscription_submit`, { TBK_TOKEN: start.token, card_number: VISA_OK, cvv: '123', expiry: '12/30', action: 'pay' });
  await submitted.text();
  await (await fetch(submitted.headers.get('location') ?? '', { redirect: 'manual' })).text();
  const [saved] = await payments.cards.list(customer.id);
  assert.ok(saved, 'card enrolled');
  return { s, customerId: customer.id, cardId: saved.id };
}

async function cart(s: ReturnType<typeof shopper>, lines: Record<string, number>) {
  const id = (await s.post('/carts')).json<{ id: string }>().id;
  for (const [sku, quantity] of Object.entries(lines)) assert.equal((await s.post(`/carts/${id}/lines`, { sku, quantity })).statusCode, 200);
  return id;
}

const orderStatus = async (id: string) => (await db.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [id])).rows[0]?.status;

test('real checkout, payments, inventory, customers and catalog events build the right facts and dimensions', async () => {
  const buyer = await registered();
  // 1. One-click, approved.
  const paidRes = await buyer.s.post(`/carts/${await cart(buyer.s, { 'OLLA-5L': 2, 'SARTEN-28': 1 })}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: buyer.cardId } });
  assert.equal(paidRes.statusCode, 201, paidRes.body);
  const paid = paidRes.json<Out>();
  await waitFor(async () => (await orderStatus(paid.orderId)) === 'paid', 15_000, 'order paid');
  // 2. Webpay, rejected card.
  const rejected = (await buyer.s.post(`/carts/${await cart(buyer.s, { 'OLLA-5L': 1 })}/checkout`, { address: ADDRESS, payment: { method: 'webpay' } })).json<Out>();
  await (await postForm(rejected.next.url ?? '', { token_ws: rejected.next.token ?? '' })).text();
  const form = await postForm(`${sim.url}/webpayserver/pay`, { token_ws: rejected.next.token ?? '', card_number: MASTER_REJECT, cvv: '123', expiry: '12/30', action: 'pay' });
  await form.text();
  await (await fetch(form.headers.get('location') ?? '', { redirect: 'manual' })).text();
  await waitFor(async () => (await orderStatus(rejected.orderId)) === 'payment_failed', 15_000, 'order payment_failed');
  // 3. Staff refund part of the paid order.
  const refund = await app.inject({ method: 'POST', url: `/admin/orders/${paid.orderId}/refunds`, headers: { 'x-admin-token': ADMIN_TOKEN, 'idempotency-key': randomUUID() }, payload: { amount: 10_000, reason: 'abollada' } });
  assert.equal(refund.statusCode, 202, refund.body);
  await waitFor(async () => (await db.query(`SELECT 1 FROM events_outbox WHERE type = 'payments.refund_succeeded'`)).rows.length === 1, 15_000, 'refund to succeed');
  await payments.settle();

  // Everything the services published reaches the warehouse through the consumer and the ETL.
  const published = async () => (await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM events_outbox WHERE split_part(type, '.', 1) IN ('checkout', 'payments', 'inventory', 'fraud', 'customers', 'catalog')`)).rows[0]?.n ?? 0;
  const staged = async () => n((await analytics.query('SELECT count(*) AS n FROM stg_events'))[0]?.n);
  await waitFor(async () => (await staged()) === (await published()), 20_000, 'every event in staging').catch(async (err: unknown) => {
    const types = (await db.query<{ type: string; n: number }>(`SELECT type, count(*)::int AS n FROM events_outbox GROUP BY 1 ORDER BY 1`)).rows;
    const whTypes = await analytics.query(`SELECT type, count(*) AS n FROM stg_events GROUP BY 1 ORDER BY 1`);
    throw new Error(`${String(err)}: ${await staged()} of ${await published()}; outbox ${JSON.stringify(types)}; staged ${JSON.stringify(whTypes)}`);
  });
  await analytics.runEtl();

  // Order lines: exactly the OLTP order's lines, with the delivery comuna/región and customer.
  const { rows: oltpLines } = await db.query<{ sku: string; quantity: number; unit_price: string }>(
    `SELECT sku, quantity, unit_price FROM order_lines WHERE order_id = $1 ORDER BY sku`, [paid.orderId]);
  const lines = await analytics.query(`SELECT sku, quantity, unit_price, amount, customer_id, comuna, region, payment_method FROM fact_order_line WHERE order_id = '${paid.orderId}' ORDER BY sku`);
  assert.deepEqual(lines.map((l) => [l.sku, n(l.quantity), n(l.unit_price)]), oltpLines.map((l) => [l.sku, n(l.quantity), n(l.unit_price)]));
  assert.deepEqual(lines.map((l) => [l.sku, n(l.quantity), n(l.unit_price)]), [['OLLA-5L', 2, 34_990], ['SARTEN-28', 1, 19_990]]);
  assert.ok(lines.every((l) => l.customer_id === buyer.customerId && l.comuna === 'Providencia' && typeof l.region === 'string' && l.payment_method === 'oneclick'));
  const { rows: [order] } = await db.query<{ total: string }>('SELECT total FROM orders WHERE id = $1', [paid.orderId]);
  const gmv = lines.reduce((s, l) => s + n(l.amount), 0);
  assert.ok(n(order?.total) >= gmv, 'order total covers its lines');

  // Payment attempts: approved with amount, processor and reference; the rejected one too.
  const attempts = await analytics.query(`SELECT order_id, status, amount, processor, processor_ref FROM fact_payment_attempt ORDER BY status`);
  const approved = attempts.find((a) => a.order_id === paid.orderId);
  assert.equal(approved?.status, 'approved');
  assert.equal(n(approved?.amount), n(order?.total));
  assert.equal(approved?.processor, 'transbank');
  assert.ok(typeof approved?.processor_ref === 'string' && approved.processor_ref.length > 0);
  assert.equal(attempts.find((a) => a.order_id === rejected.orderId)?.status, 'rejected');

  // Ledger: one row per entry; every transaction balances; the capture debits the processor's
  // clearing account with the order total, joined to the order and processor reference.
  const unbalanced = await analytics.query(`SELECT transaction_id FROM fact_ledger_posting GROUP BY 1 HAVING sum(amount) <> 0`);
  assert.deepEqual(unbalanced, []);
  const { rows: [ledger] } = await db.query<{ n: number; total: string }>(`SELECT count(*)::int AS n, sum(abs(amount))::bigint AS total FROM ledger_entries`);
  const [wh] = await analytics.query(`SELECT count(*) AS n, sum(abs(amount)) AS total FROM fact_ledger_posting`);
  assert.deepEqual([n(wh?.n), n(wh?.total)], [ledger?.n, n(ledger?.total)], 'warehouse ledger = OLTP ledger');
  const capture = await analytics.query(`SELECT amount, order_id, processor_ref FROM fact_ledger_posting WHERE kind = 'payment_captured' AND account LIKE 'processor_clearing:%'`);
  assert.deepEqual(capture.map((c) => [n(c.amount), c.order_id, c.processor_ref]), [[n(order?.total), paid.orderId, approved?.processor_ref]]);

  // Refund.
  const refunds = await analytics.query(`SELECT order_id, amount FROM fact_refund`);
  assert.deepEqual(refunds.map((r) => [r.order_id, n(r.amount)]), [[paid.orderId, 10_000]]);

  // Stock: the warehouse's latest level per SKU-location equals inventory's.
  for (const sku of ['OLLA-5L', 'SARTEN-28']) {
    const level = await inventory.stock(sku);
    const [row] = await analytics.query(`SELECT on_hand, reserved, available FROM stock_on_hand WHERE sku = '${sku}' AND location_id = 'bodega'`);
    assert.deepEqual([n(row?.on_hand), n(row?.reserved), n(row?.available)], [level.onHand, level.reserved, level.available], sku);
  }
  const [moves] = await analytics.query(`SELECT count(*) AS n FROM fact_stock_movement`);
  assert.equal(n(moves?.n), n((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events_outbox WHERE type = 'inventory.stock_changed'`)).rows[0]?.n));

  // Dimensions: the customer (registered), the comuna, the catalogue's SKUs and the location.
  const [customer] = await analytics.query(`SELECT kind, orders FROM dim_customer WHERE customer_id = '${buyer.customerId}'`);
  assert.deepEqual([customer?.kind, n(customer?.orders)], ['registered', 2]);
  const geo = await analytics.query(`SELECT comuna, region, region_code FROM dim_geography`);
  assert.ok(geo.some((g) => g.comuna === 'Providencia' && typeof g.region === 'string' && typeof g.region_code === 'string'), JSON.stringify(geo));
  const products = await analytics.query(`SELECT sku, name, category, price FROM dim_product ORDER BY sku`);
  assert.deepEqual(products.map((p) => [p.sku, p.name, p.category, n(p.price)]), [['OLLA-5L', 'Olla', 'cocina', 34_990], ['SARTEN-28', 'Olla', 'cocina', 19_990]]);
  assert.deepEqual((await analytics.query(`SELECT location_id FROM dim_location`)).map((l) => l.location_id), ['bodega']);

  // Every blocking quality check passed on these real events, and every mart has rows.
  const failed = await analytics.query(`SELECT name FROM dq_result WHERE blocking AND NOT passed`);
  assert.deepEqual(failed, []);
  for (const m of MARTS.filter((x) => x.table !== 'fact_fraud_decision')) {
    const [c] = await analytics.query(`SELECT count(*) AS n FROM ${m.table}`);
    assert.ok(n(c?.n) > 0, `${m.table} is empty`);
  }
});
