import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { manualClock } from '../../src/platform/clock.js';
import { freshDatabase } from '../support/db.js';
import { buildShop, cartWith, guest, ADDRESS } from './support/harness.js';
import { deliver, fakeEnvelope, standInCatalog, standInInventory, standInPayments } from './support/stand-ins.js';

const { db } = await freshDatabase({ poolSize: 20 });
const clock = manualClock(new Date('2026-11-28T12:00:00Z'));
const catalog = standInCatalog([{ sku: 'BOOK', name: 'Libro', price: 15_000 }, { sku: 'RARE', name: 'Rareza', price: 50_000 }]);
const inventory = await standInInventory(db, { BOOK: 100, RARE: 1 }, clock);
const payments = standInPayments(db);
const { app, checkout } = await buildShop(db, { catalog, inventory, payments }, clock);
const handle = checkout.handlePaymentEvent;

type Out = { orderId: string; payment: { attemptId: string }; totals: { total: number } };
async function pendingWebpayOrder(sku = 'BOOK', quantity = 1) {
  const s = await guest(app);
  const out = (await s.post(`/carts/${await cartWith(s, { [sku]: quantity })}/checkout`, { address: ADDRESS, payment: { method: 'webpay' } })).json<Out>();
  return { s, ...out };
}
const approved = (o: Out, amount = o.totals.total) => fakeEnvelope('payments.payment_approved', { attemptId: o.payment.attemptId, orderId: o.orderId, amount, currency: 'CLP', method: 'webpay', processor: 'transbank', processorRef: 'r' });
const status = async (orderId: string) => (await db.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [orderId])).rows[0]?.status;
const history = async (orderId: string) => (await db.query<{ to_status: string; reason: string }>('SELECT to_status, reason FROM order_transitions WHERE order_id = $1 ORDER BY id', [orderId])).rows;
const commits = async (orderId: string) => (await db.query<{ n: number }>('SELECT coalesce(sum(commits), 0)::int AS n FROM t_reservations WHERE reference = $1', [orderId])).rows[0]?.n;
const events = async (orderId: string, type: string) => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events_outbox WHERE aggregate_id = $1 AND type = $2', [orderId, type])).rows[0]?.n;

test('browser return, webhook and janitor report the same approval at once: one paid, one stock commit, one event', async () => {
  const o = await pendingWebpayOrder();
  const reports = [approved(o), approved(o), approved(o)];
  const results = await Promise.allSettled(reports.map((e) => db.transaction((tx) => handle(tx, e))));
  assert.ok(results.every((r) => r.status === 'fulfilled'));
  assert.equal(await status(o.orderId), 'paid');
  assert.deepEqual((await history(o.orderId)).map((h) => h.to_status), ['pending_payment', 'paid']);
  assert.equal(await commits(o.orderId), 1);
  assert.equal(await events(o.orderId, 'checkout.order_paid'), 1);
});

test('duplicated and reordered notifications after the approval change nothing', async () => {
  const o = await pendingWebpayOrder();
  const late = [
    approved(o),
    fakeEnvelope('payments.payment_rejected', { attemptId: o.payment.attemptId, orderId: o.orderId, reason: 'late' }),
    fakeEnvelope('payments.payment_pending', { attemptId: o.payment.attemptId, orderId: o.orderId, method: 'webpay' }),
    fakeEnvelope('payments.payment_expired', { attemptId: o.payment.attemptId, orderId: o.orderId }),
    approved(o),
  ];
  for (const e of late) await db.transaction((tx) => handle(tx, e));
  assert.equal(await status(o.orderId), 'paid');
  assert.equal((await history(o.orderId)).length, 2);
  assert.equal(await commits(o.orderId), 1);
});

test('events for unknown orders are skipped without error', async () => {
  await db.transaction((tx) => handle(tx, fakeEnvelope('payments.payment_approved', { attemptId: 'z', orderId: randomUUID(), amount: 1, currency: 'CLP', method: 'x', processor: 'y', processorRef: 'z' })));
});

test('reservation expired, then a late approval: the stock is reserved again and the order is paid', async () => {
  const o = await pendingWebpayOrder();
  const before = await inventory.stock('BOOK');
  clock.advance(21 * 60_000);
  assert.ok((await checkout.orders.expireDue()) >= 1);
  assert.equal(await status(o.orderId), 'expired');
  assert.equal((await inventory.stock('BOOK')).reserved, before.reserved - 1);
  await db.transaction((tx) => handle(tx, approved(o)));
  assert.equal(await status(o.orderId), 'paid');
  assert.deepEqual((await history(o.orderId)).map((h) => h.reason), ['placed', 'reservation_timeout', 'late_approval']);
  const after = await inventory.stock('BOOK');
  assert.equal(after.onHand, before.onHand - 1);
  assert.equal(after.reserved, before.reserved - 1);
});

test('a crash after a late approval sold the stock again but before the order committed: the retry sells nothing more', async () => {
  const o = await pendingWebpayOrder();
  const before = await inventory.stock('BOOK');
  await db.transaction((tx) => handle(tx, fakeEnvelope('payments.payment_expired', { attemptId: o.payment.attemptId, orderId: o.orderId })));
  assert.equal(await status(o.orderId), 'expired');
  // The handler re-reserves and sells (inventory commits on its own), then the process dies
  // before the order's transaction commits: the consumer will deliver the approval again.
  await assert.rejects(db.transaction(async (tx) => {
    await handle(tx, approved(o));
    throw new Error('crash before commit');
  }), /crash before commit/);
  assert.equal(await status(o.orderId), 'expired');
  await db.transaction((tx) => handle(tx, approved(o)));
  assert.equal(await status(o.orderId), 'paid');
  const after = await inventory.stock('BOOK');
  assert.equal(after.onHand, before.onHand - 1, 'one unit sold, not two');
  assert.equal(after.reserved, before.reserved - 1, 'the first reservation released, the second sold');
});

test('late approval with the stock gone: refunded automatically, and the order says so', async () => {
  const o = await pendingWebpayOrder('RARE');
  await db.transaction((tx) => handle(tx, fakeEnvelope('payments.payment_expired', { attemptId: o.payment.attemptId, orderId: o.orderId })));
  assert.equal(await status(o.orderId), 'expired');
  // Someone else buys the last unit meanwhile.
  const other = await guest(app);
  const sold = await other.post(`/carts/${await cartWith(other, { RARE: 1 })}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: 'c' } });
  assert.equal(sold.statusCode, 201);
  const refundsBefore = payments.refunds.length;
  await db.transaction((tx) => handle(tx, approved(o)));
  assert.equal(await status(o.orderId), 'refunding');
  assert.deepEqual(payments.refunds.slice(refundsBefore), [{ orderId: o.orderId, amount: o.totals.total, reason: 'late_approval_no_stock', key: 'order-effect:late_approval_no_stock' }]);
  await deliver(db, handle);
  assert.equal(await status(o.orderId), 'refunded');
  const order = (await o.s.get(`/orders/${o.orderId}`)).json<{ refundedAmount: number; history: { reason: string }[] }>();
  assert.equal(order.refundedAmount, o.totals.total);
  assert.deepEqual(order.history.map((h) => h.reason), ['placed', 'payment_expired', 'late_approval_no_stock', 'refund_succeeded']);
  assert.equal(await events(o.orderId, 'checkout.order_refunded'), 1);
});

test('approval after the inventory expired the reservation but before the order expired: re-reserved and paid', async () => {
  const o = await pendingWebpayOrder();
  const { rows } = await db.query<{ reservation_id: string }>('SELECT reservation_id FROM orders WHERE id = $1', [o.orderId]);
  await inventory.expire(rows[0]?.reservation_id ?? '');
  await db.transaction((tx) => handle(tx, approved(o)));
  assert.equal(await status(o.orderId), 'paid');
  assert.equal(await commits(o.orderId), 1);
});

test('an approval for a different amount is refunded, never kept', async () => {
  const o = await pendingWebpayOrder();
  await db.transaction((tx) => handle(tx, approved(o, 1)));
  assert.equal(await status(o.orderId), 'refunding');
  assert.equal(payments.refunds.at(-1)?.reason, 'amount_mismatch');
});

test('transitions are append-only in the database', async () => {
  const o = await pendingWebpayOrder();
  await assert.rejects(db.query('UPDATE order_transitions SET reason = $2 WHERE order_id = $1', [o.orderId, 'x']), /append-only/);
  await assert.rejects(db.query('DELETE FROM order_transitions WHERE order_id = $1', [o.orderId]), /append-only/);
});

test('SSE pushes the status change to the app', async () => {
  const o = await pendingWebpayOrder();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const res = await fetch(`http://127.0.0.1:${port}/orders/${o.orderId}/events`, { headers: { authorization: `Bearer ${o.s.token}` } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = res.body?.getReader();
  assert.ok(reader);
  const decoder = new TextDecoder();
  let text = '';
  const nextEvent = async () => {
    for (;;) {
      const end = text.indexOf('\n\n');
      if (end >= 0) {
        const chunk = text.slice(0, end);
        text = text.slice(end + 2);
        if (chunk.startsWith(':')) continue;
        const data = /^data: (.*)$/m.exec(chunk)?.[1];
        return JSON.parse(data ?? 'null') as { status: string };
      }
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      text += decoder.decode(value, { stream: true });
    }
  };
  assert.equal((await nextEvent()).status, 'pending_payment');
  await checkout.orders.apply(o.orderId, { type: 'payment_approved', attemptId: o.payment.attemptId, amount: o.totals.total }, 'test');
  assert.equal((await nextEvent()).status, 'paid');
  await reader.cancel();
  await app.close();
});
