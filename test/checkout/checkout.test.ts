import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { freshDatabase } from '../support/db.js';
import { buildShop, cartWith, guest, ADDRESS, ADMIN_TOKEN } from './support/harness.js';
import { deliver, standInCatalog, standInInventory, standInPayments } from './support/stand-ins.js';

const { db } = await freshDatabase({ poolSize: 20 });
const catalog = standInCatalog([
  { sku: 'TEE-M', name: 'Polera M', price: 9_990 },
  { sku: 'MUG', name: 'Tazón', price: 4_500 },
  { sku: 'LAST', name: 'Última unidad', price: 19_990 },
  { sku: 'OLD', name: 'Descontinuado', price: 1_000, active: false },
  { sku: 'FREE', name: 'Regalo', price: 0 },
  { sku: 'YACHT', name: 'Yate', price: 900_000_000_000 },
]);
const inventory = await standInInventory(db, { 'TEE-M': 1_000, MUG: 1_000, LAST: 1, OLD: 10, FREE: 10, YACHT: 10 });
const payments = standInPayments(db);
const { app, checkout } = await buildShop(db, { catalog, inventory, payments });
const settle = () => deliver(db, checkout.handlePaymentEvent);

type CheckoutOut = { orderId: string; status: string; totals: { total: number; subtotal: number; shipping: number }; payment: { status: string; attemptId: string | null }; next: { type: string; outcome?: string; url?: string } };
const count = async (sql: string, params: unknown[] = []) => (await db.query<{ n: number }>(sql, params)).rows[0]?.n ?? 0;

test('guest buys with a saved card: order placed, paid on the approval event, stock committed, events out', async () => {
  const s = await guest(app);
  const cartId = await cartWith(s, { 'TEE-M': 2, MUG: 1 });
  const cart = (await s.get(`/carts/${cartId}`)).json<{ totals: { subtotal: number } }>();
  assert.equal(cart.totals.subtotal, 24_480);
  const before = await inventory.stock('TEE-M');
  const res = await s.post(`/carts/${cartId}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: 'card-1' }, expectedTotal: 24_480 + 3_990 });
  assert.equal(res.statusCode, 201, res.body);
  const out = res.json<CheckoutOut>();
  assert.equal(out.status, 'pending_payment');
  assert.deepEqual(out.next, { type: 'result', outcome: 'approved' });
  assert.equal(out.totals.total, 28_470);
  assert.equal((await inventory.stock('TEE-M')).reserved, before.reserved + 2);

  assert.equal(await settle(), 1);
  const order = (await s.get(`/orders/${out.orderId}`)).json<{ status: string; paymentAttemptId: string; history: { to: string }[]; delivery: { comuna: string } }>();
  assert.equal(order.status, 'paid');
  assert.equal(order.paymentAttemptId, out.payment.attemptId);
  assert.deepEqual(order.history.map((h) => h.to), ['pending_payment', 'paid']);
  const after = await inventory.stock('TEE-M');
  assert.equal(after.onHand, before.onHand - 2);
  assert.equal(after.reserved, before.reserved);

  const { rows } = await db.query<{ type: string; payload: { lines: unknown[]; delivery: { comuna: string; regionCode: string }; total: number } }>(
    `SELECT type, payload FROM events_outbox WHERE aggregate_id = $1 ORDER BY id`, [out.orderId]);
  assert.deepEqual(rows.map((r) => r.type), ['checkout.order_placed', 'checkout.order_paid']);
  assert.deepEqual(rows[1]?.payload.delivery, { comuna: 'Providencia', region: 'Metropolitana de Santiago', regionCode: '13' });
  assert.equal(rows[1]?.payload.lines.length, 2);
  assert.equal((await s.get(`/carts/${cartId}`)).json<{ status: string }>().status, 'checked_out');
});

test('Webpay: the client gets the redirect; a rejection fails the order and releases the stock', async () => {
  const s = await guest(app);
  const cartId = await cartWith(s, { MUG: 3 });
  const before = await inventory.stock('MUG');
  const out = (await s.post(`/carts/${cartId}/checkout`, { address: ADDRESS, payment: { method: 'webpay' } })).json<CheckoutOut>();
  assert.equal(out.next.type, 'redirect');
  assert.equal(out.next.url, 'http://sim/webpay');
  const status = (await s.get(`/orders/${out.orderId}/status`)).json<{ status: string; next: { type: string } }>();
  assert.equal(status.status, 'pending_payment');
  assert.equal(status.next.type, 'redirect');
  await db.transaction((tx) => checkout.handlePaymentEvent(tx, {
    seq: 0, id: randomUUID(), type: 'payments.payment_rejected', version: 1, context: 'payments', aggregateType: 'payment_attempt', aggregateId: 'x',
    payload: { attemptId: out.payment.attemptId, orderId: out.orderId, reason: 'user_aborted' }, occurredAt: new Date(),
  }));
  assert.equal((await s.get(`/orders/${out.orderId}/status`)).json<{ status: string }>().status, 'payment_failed');
  assert.deepEqual(await inventory.stock('MUG'), before);
});

test('a declined saved card: the order fails and its stock is released', async () => {
  const s = await guest(app);
  const cartId = await cartWith(s, { MUG: 1 });
  const before = await inventory.stock('MUG');
  const out = (await s.post(`/carts/${cartId}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: 'card-declined' } })).json<CheckoutOut>();
  assert.deepEqual(out.next, { type: 'result', outcome: 'rejected', reason: 'declined' });
  await settle();
  assert.equal((await s.get(`/orders/${out.orderId}/status`)).json<{ status: string }>().status, 'payment_failed');
  assert.deepEqual(await inventory.stock('MUG'), before);
});

test('a payment that cannot start (unknown saved card) fails the order at once and releases the stock', async () => {
  const s = await guest(app);
  const cartId = await cartWith(s, { MUG: 1 });
  const before = await inventory.stock('MUG');
  const res = await s.post(`/carts/${cartId}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: 'card-missing' } });
  const out = res.json<CheckoutOut>();
  assert.equal(out.status, 'payment_failed');
  assert.equal(out.payment.status, 'rejected');
  assert.deepEqual(await inventory.stock('MUG'), before);
});

test('bad input is a 4xx with a code and creates nothing', async () => {
  const s = await guest(app);
  const orders = await count('SELECT count(*)::int AS n FROM orders');
  const reservations = await count('SELECT count(*)::int AS n FROM t_reservations');
  const empty = (await s.post('/carts')).json<{ id: string }>().id;
  const cases: [string, object, number, string][] = [
    [empty, { address: ADDRESS, payment: { method: 'webpay' } }, 400, 'empty_cart'],
    [await cartWith(s, { MUG: 1 }), { address: { ...ADDRESS, comuna: 'Viña del Mar' }, payment: { method: 'webpay' } }, 400, 'invalid_address'],
    [await cartWith(s, { MUG: 1 }), { address: ADDRESS, payment: { method: 'webpay' }, currency: 'USD' }, 400, 'unsupported_currency'],
    [await cartWith(s, { MUG: 1 }), { address: ADDRESS, payment: { method: 'webpay' }, expectedTotal: 1 }, 409, 'total_mismatch'],
    [await cartWith(s, { MUG: 1 }), { address: ADDRESS, payment: { method: 'webpay' }, total: 1 }, 400, 'invalid_request'],
    [await cartWith(s, { MUG: 1 }), { payment: { method: 'webpay' } }, 400, 'address_required'],
    [await cartWith(s, { MUG: 1 }), { address: ADDRESS, payment: { method: 'bitcoin' } }, 400, 'invalid_request'],
    [await cartWith(s, { MUG: 1 }), { addressId: randomUUID(), payment: { method: 'webpay' } }, 404, 'address_not_found'],
    [await cartWith(s, { FREE: 1 }), { address: ADDRESS, payment: { method: 'webpay' } }, 400, 'total_out_of_range'],
    [await cartWith(s, { YACHT: 99 }), { address: ADDRESS, payment: { method: 'webpay' } }, 400, 'total_out_of_range'],
  ];
  for (const [cartId, body, status, code] of cases) {
    const res = await s.post(`/carts/${cartId}/checkout`, body);
    assert.equal(res.statusCode, status, `${code}: ${res.body}`);
    assert.equal(res.json<{ code: string }>().code, code);
    assert.equal((await s.get(`/carts/${cartId}`)).json<{ status: string }>().status, 'open', code);
  }
  const unknown = await s.post(`/carts/${empty}/lines`, { sku: 'NOPE', quantity: 1 });
  assert.equal(unknown.statusCode, 400);
  assert.equal(unknown.json<{ code: string }>().code, 'unknown_sku');
  assert.equal((await s.post(`/carts/${empty}/lines`, { sku: 'OLD', quantity: 1 })).json<{ code: string }>().code, 'sku_unavailable');
  assert.equal((await s.post(`/carts/${empty}/lines`, { sku: 'MUG', quantity: 0 })).statusCode, 400);
  assert.equal((await s.post(`/carts/${empty}/lines`, { sku: 'MUG', quantity: 2.5 })).statusCode, 400);
  const huge = await s.post(`/carts/${empty}/lines`, { sku: 'x'.repeat(2_000_000), quantity: 1 });
  assert.equal(huge.statusCode, 413);
  assert.equal((await app.inject({ method: 'POST', url: '/carts', headers: { 'idempotency-key': 'k' } })).statusCode, 401);
  assert.equal(await count('SELECT count(*)::int AS n FROM orders'), orders);
  assert.equal(await count('SELECT count(*)::int AS n FROM t_reservations'), reservations);
  assert.equal(await count(`SELECT count(*)::int AS n FROM cart_lines WHERE cart_id = $1`, [empty]), 0);
});

test('a price change between cart and checkout refuses the stale total; a foreign-currency SKU is refused', async () => {
  const s = await guest(app);
  const cartId = await cartWith(s, { 'TEE-M': 1 });
  catalog.set('TEE-M', { price: 12_990 });
  const res = await s.post(`/carts/${cartId}/checkout`, { address: ADDRESS, payment: { method: 'webpay' }, expectedTotal: 9_990 + 3_990 });
  catalog.set('TEE-M', { price: 9_990 });
  assert.equal(res.statusCode, 409);
  assert.equal(res.json<{ details: { totals: { total: number } } }>().details.totals.total, 12_990 + 3_990);
  catalog.set('MUG', { currency: 'USD' });
  const usd = await s.post(`/carts/${cartId}/checkout`, { address: ADDRESS, payment: { method: 'webpay' } });
  catalog.set('MUG', { currency: 'CLP' });
  assert.equal(usd.statusCode, 201); // the cart holds no MUG
});

test('double click on pay with different keys: one order, one payment, the rest 409 cart_checked_out', async () => {
  const s = await guest(app);
  const cartId = await cartWith(s, { MUG: 1 });
  const startedBefore = payments.started.length;
  const results = await Promise.all(Array.from({ length: 8 }, () => s.post(`/carts/${cartId}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: 'card-1' } })));
  const created = results.filter((r) => r.statusCode === 201);
  assert.equal(created.length, 1);
  const orderId = created[0]?.json<CheckoutOut>().orderId;
  for (const r of results.filter((x) => x.statusCode !== 201)) {
    assert.equal(r.statusCode, 409);
    assert.equal(r.json<{ code: string; details: { orderId: string } }>().code, 'cart_checked_out');
  }
  assert.equal(payments.started.length - startedBefore, 1);
  assert.equal(await count('SELECT count(*)::int AS n FROM orders WHERE cart_id = $1', [cartId]), 1);
  assert.ok(orderId);
});

test('the same Idempotency-Key sent concurrently: one order and every caller gets the same answer', async () => {
  const s = await guest(app);
  const cartId = await cartWith(s, { MUG: 1 });
  const key = randomUUID();
  const body = { address: ADDRESS, payment: { method: 'oneclick', savedCardId: 'card-1' } };
  const results = await Promise.all(Array.from({ length: 8 }, () => s.post(`/carts/${cartId}/checkout`, body, key)));
  assert.ok(results.every((r) => r.statusCode === 201));
  assert.equal(new Set(results.map((r) => r.body)).size, 1);
  assert.equal(await count('SELECT count(*)::int AS n FROM orders WHERE cart_id = $1', [cartId]), 1);
  const other = await s.post(`/carts/${cartId}/checkout`, { ...body, payment: { method: 'webpay' } }, key);
  assert.equal(other.statusCode, 422);
  assert.equal(other.json<{ code: string }>().code, 'idempotency_mismatch');
});

test('last unit: N buyers race for 1 unit, exactly one order, the others get insufficient_stock and keep their carts', async () => {
  const buyers = await Promise.all(Array.from({ length: 10 }, () => guest(app)));
  const carts = await Promise.all(buyers.map((b) => cartWith(b, { LAST: 1 })));
  const results = await Promise.all(buyers.map((b, i) => b.post(`/carts/${carts[i]}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: 'card-1' } })));
  assert.equal(results.filter((r) => r.statusCode === 201).length, 1);
  const losers = results.filter((r) => r.statusCode !== 201);
  assert.ok(losers.every((r) => r.statusCode === 409 && r.json<{ code: string }>().code === 'insufficient_stock'), losers.map((r) => r.body).join('\n'));
  await settle();
  assert.deepEqual(await inventory.stock('LAST'), { onHand: 0, reserved: 0 });
  assert.equal(await count(`SELECT count(*)::int AS n FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE l.sku = 'LAST' AND o.status = 'paid'`), 1);
  const open = await Promise.all(buyers.map((b, i) => b.get(`/carts/${carts[i]}`)));
  assert.equal(open.filter((r) => r.json<{ status: string }>().status === 'open').length, 9);
  await inventory.setStock('LAST', 1);
});

test('order history, status ETag, cancel, admin list/fulfil/refund', async () => {
  const s = await guest(app);
  const a = (await s.post(`/carts/${await cartWith(s, { MUG: 1 })}/checkout`, { address: ADDRESS, payment: { method: 'webpay' } })).json<CheckoutOut>();
  const b = (await s.post(`/carts/${await cartWith(s, { 'TEE-M': 1 })}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: 'c' } })).json<CheckoutOut>();
  await settle();
  const history = (await s.get('/orders?limit=1')).json<{ orders: { id: string }[]; nextCursor: string }>();
  assert.equal(history.orders[0]?.id, b.orderId);
  const page2 = (await s.get(`/orders?limit=1&cursor=${history.nextCursor}`)).json<{ orders: { id: string }[] }>();
  assert.equal(page2.orders[0]?.id, a.orderId);

  const first = await s.get(`/orders/${a.orderId}/status`);
  const etag = first.headers.etag as string;
  assert.equal((await s.get(`/orders/${a.orderId}/status`, { 'if-none-match': etag })).statusCode, 304);
  const before = await inventory.stock('MUG');
  const cancel = await s.post(`/orders/${a.orderId}/cancel`);
  assert.equal(cancel.json<{ status: string }>().status, 'cancelled');
  assert.equal((await inventory.stock('MUG')).reserved, before.reserved - 1);
  const fresh = await s.get(`/orders/${a.orderId}/status`, { 'if-none-match': etag });
  assert.equal(fresh.statusCode, 200);
  assert.notEqual(fresh.headers.etag, etag);
  const again = await s.post(`/orders/${b.orderId}/cancel`);
  assert.equal(again.statusCode, 409);
  assert.equal(again.json<{ code: string }>().code, 'illegal_transition');

  const other = await guest(app);
  assert.equal((await other.get(`/orders/${b.orderId}`)).statusCode, 404);

  const adminHeaders = { 'x-admin-token': ADMIN_TOKEN };
  assert.equal((await app.inject({ method: 'GET', url: '/admin/orders' })).statusCode, 403);
  const list = await app.inject({ method: 'GET', url: `/admin/orders?status=paid&customerId=${s.customerId}`, headers: adminHeaders });
  assert.deepEqual(list.json<{ orders: { id: string }[] }>().orders.map((o) => o.id), [b.orderId]);
  const refund = await app.inject({ method: 'POST', url: `/admin/orders/${b.orderId}/refunds`, headers: { ...adminHeaders, 'idempotency-key': 'r1' }, payload: { amount: 3_000, reason: 'damaged' } });
  assert.equal(refund.statusCode, 202, refund.body);
  const tooMuch = await app.inject({ method: 'POST', url: `/admin/orders/${b.orderId}/refunds`, headers: { ...adminHeaders, 'idempotency-key': 'r2' }, payload: { amount: 99_999, reason: 'x' } });
  assert.equal(tooMuch.json<{ code: string }>().code, 'refund_exceeds_paid');
  await settle();
  assert.equal((await s.get(`/orders/${b.orderId}`)).json<{ status: string; refundedAmount: number }>().refundedAmount, 3_000);
  const fulfil = await app.inject({ method: 'POST', url: `/admin/orders/${b.orderId}/fulfil`, headers: { ...adminHeaders, 'idempotency-key': 'f1' } });
  assert.equal(fulfil.json<{ status: string }>().status, 'fulfilled');
});
