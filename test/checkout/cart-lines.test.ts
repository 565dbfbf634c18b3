import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { freshDatabase } from '../support/db.js';
import { buildShop, guest, ADDRESS } from './support/harness.js';
import { standInCatalog, standInInventory, standInPayments } from './support/stand-ins.js';

// Adding a line is one statement that locks the cart, checks its limits and upserts the line;
// these race it against itself and check the limits and refusals it now enforces in SQL.
const { db } = await freshDatabase({ poolSize: 20 });
const skus = Array.from({ length: 60 }, (_, i) => `S${String(i).padStart(2, '0')}`);
const catalog = standInCatalog([{ sku: 'MUG', name: 'Tazón', price: 4_500 }, ...skus.map((sku) => ({ sku, name: sku, price: 100 }))]);
const inventory = await standInInventory(db, { MUG: 1_000, S02: 1_000 });
const { app } = await buildShop(db, { catalog, inventory, payments: standInPayments(db) });

type Cart = { id: string; status: string; lines: { sku: string; quantity: number; lineTotal: number }[]; totals: { subtotal: number } };
type Err = { code: string; details?: { orderId?: string } };
const newCart = async (s: Awaited<ReturnType<typeof guest>>) => (await s.post('/carts')).json<Cart>().id;
const stored = async (cartId: string) =>
  (await db.query<{ sku: string; quantity: number }>('SELECT sku, quantity FROM cart_lines WHERE cart_id = $1 ORDER BY added_at, sku', [cartId])).rows;
const updatedAt = async (cartId: string) => (await db.query<{ t: Date }>('SELECT updated_at AS t FROM carts WHERE id = $1', [cartId])).rows[0]?.t.getTime();

test('adds answer the cart with its lines in the order added; the same SKU again adds up; PUT sets, PUT 0 removes', async () => {
  const s = await guest(app);
  const id = await newCart(s);
  assert.deepEqual((await s.post(`/carts/${id}/lines`, { sku: 'MUG', quantity: 2 })).json<Cart>().lines.map((l) => [l.sku, l.quantity, l.lineTotal]), [['MUG', 2, 9_000]]);
  await s.post(`/carts/${id}/lines`, { sku: 'S01', quantity: 1 });
  const again = (await s.post(`/carts/${id}/lines`, { sku: 'MUG', quantity: 3 })).json<Cart>();
  assert.deepEqual(again.lines.map((l) => [l.sku, l.quantity]), [['MUG', 5], ['S01', 1]]);
  assert.equal(again.totals.subtotal, 5 * 4_500 + 100);
  assert.deepEqual((await s.put(`/carts/${id}/lines/S01`, { quantity: 7 })).json<Cart>().lines.map((l) => [l.sku, l.quantity]), [['MUG', 5], ['S01', 7]]);
  assert.deepEqual((await s.put(`/carts/${id}/lines/MUG`, { quantity: 0 })).json<Cart>().lines.map((l) => [l.sku, l.quantity]), [['S01', 7]]);
  assert.deepEqual((await s.get(`/carts/${id}`)).json<Cart>().lines.map((l) => [l.sku, l.quantity]), [['S01', 7]]);
});

test('concurrent adds to one cart all land: same SKU adds up, other SKUs each get their line', async () => {
  const s = await guest(app);
  const id = await newCart(s);
  const results = await Promise.all([
    ...Array.from({ length: 12 }, () => s.post(`/carts/${id}/lines`, { sku: 'MUG', quantity: 1 })),
    ...skus.slice(0, 8).map((sku) => s.post(`/carts/${id}/lines`, { sku, quantity: 2 })),
  ]);
  for (const r of results) assert.equal(r.statusCode, 200, r.body);
  const lines = await stored(id);
  assert.equal(lines.find((l) => l.sku === 'MUG')?.quantity, 12);
  assert.deepEqual(lines.filter((l) => l.sku !== 'MUG').map((l) => [l.sku, l.quantity]).sort(), skus.slice(0, 8).map((sku) => [sku, 2]));
  // Each answer shows the cart as its own add left it: its line, and every line committed before.
  const mugs = results.slice(0, 12).map((r) => r.json<Cart>().lines.find((l) => l.sku === 'MUG')?.quantity).sort((a, b) => (a ?? 0) - (b ?? 0));
  assert.deepEqual(mugs, Array.from({ length: 12 }, (_, i) => i + 1));
  const final = (await s.get(`/carts/${id}`)).json<Cart>();
  assert.equal(final.lines.length, 9);
});

test('at most 99 units per line, also when two adds race: one lands, the other is refused and changes nothing', async () => {
  const s = await guest(app);
  const id = await newCart(s);
  await s.post(`/carts/${id}/lines`, { sku: 'MUG', quantity: 60 });
  const before = await updatedAt(id);
  const over = await s.post(`/carts/${id}/lines`, { sku: 'MUG', quantity: 40 });
  assert.equal(over.statusCode, 400);
  assert.equal(over.json<Err>().code, 'invalid_quantity');
  assert.deepEqual(await stored(id), [{ sku: 'MUG', quantity: 60 }]);
  assert.equal(await updatedAt(id), before);

  const raced = await newCart(s);
  const results = await Promise.all([s.post(`/carts/${raced}/lines`, { sku: 'MUG', quantity: 50 }), s.post(`/carts/${raced}/lines`, { sku: 'MUG', quantity: 50 })]);
  assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 400]);
  assert.equal(results.find((r) => r.statusCode === 400)?.json<Err>().code, 'invalid_quantity');
  assert.deepEqual(await stored(raced), [{ sku: 'MUG', quantity: 50 }]);
});

test('at most 50 lines, also when new lines race: exactly the free slots are taken', async () => {
  const s = await guest(app);
  const id = await newCart(s);
  for (const sku of skus.slice(0, 48)) assert.equal((await s.post(`/carts/${id}/lines`, { sku, quantity: 1 })).statusCode, 200);
  const results = await Promise.all(skus.slice(48, 54).map((sku) => s.post(`/carts/${id}/lines`, { sku, quantity: 1 })));
  assert.equal(results.filter((r) => r.statusCode === 200).length, 2);
  for (const r of results.filter((x) => x.statusCode !== 200)) {
    assert.equal(r.statusCode, 400);
    assert.equal(r.json<Err>().code, 'too_many_lines');
  }
  assert.equal((await stored(id)).length, 50);
  // A full cart still takes more units of a line it has.
  assert.equal((await s.post(`/carts/${id}/lines`, { sku: 'S00', quantity: 1 })).statusCode, 200);
  assert.equal((await stored(id)).find((l) => l.sku === 'S00')?.quantity, 2);
});

test("someone else's cart or no cart is 404 cart_not_found; a checked-out cart is 409 cart_not_open; neither writes", async () => {
  const owner = await guest(app);
  const other = await guest(app);
  const id = await newCart(owner);
  await owner.post(`/carts/${id}/lines`, { sku: 'MUG', quantity: 1 });
  const before = await updatedAt(id);
  for (const [who, cartId] of [[other, id], [owner, randomUUID()]] as const) {
    const r = await who.post(`/carts/${cartId}/lines`, { sku: 'MUG', quantity: 1 });
    assert.equal(r.statusCode, 404);
    assert.equal(r.json<Err>().code, 'cart_not_found');
    assert.equal((await who.put(`/carts/${cartId}/lines/MUG`, { quantity: 3 })).json<Err>().code, 'cart_not_found');
    assert.equal((await who.get(`/carts/${cartId}`)).statusCode, 404);
  }
  assert.deepEqual(await stored(id), [{ sku: 'MUG', quantity: 1 }]);
  assert.equal(await updatedAt(id), before);

  const paid = await owner.post(`/carts/${id}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: 'card-1' } });
  assert.equal(paid.statusCode, 201, paid.body);
  const { orderId } = paid.json<{ orderId: string }>();
  for (const r of [await owner.post(`/carts/${id}/lines`, { sku: 'MUG', quantity: 1 }), await owner.put(`/carts/${id}/lines/S01`, { quantity: 1 })]) {
    assert.equal(r.statusCode, 409);
    assert.deepEqual(r.json<Err>().code, 'cart_not_open');
    assert.equal(r.json<Err>().details?.orderId, orderId);
  }
  assert.deepEqual(await stored(id), [{ sku: 'MUG', quantity: 1 }]);
});

test('a line added while the checkout waits for the cart is in the order (the lines are read after the claim holds the cart)', async () => {
  const s = await guest(app);
  const id = await newCart(s);
  await s.post(`/carts/${id}/lines`, { sku: 'MUG', quantity: 1 });
  // An add in flight: it holds the cart row, as the add's own statement does, and commits
  // its line after the checkout's claim has started waiting for that row.
  const adder = await db.connect();
  try {
    await adder.query('BEGIN');
    await adder.query('SELECT 1 FROM carts WHERE id = $1 FOR UPDATE', [id]);
    await adder.query(`INSERT INTO cart_lines (cart_id, sku, quantity, added_at) VALUES ($1, 'S02', 3, now())`, [id]);
    await adder.query('UPDATE carts SET updated_at = now() WHERE id = $1', [id]);
    const paying = s.post(`/carts/${id}/checkout`, { address: ADDRESS, payment: { method: 'oneclick', savedCardId: 'card-1' } });
    // Commit only once the claim is blocked behind this transaction's lock.
    for (let i = 0; ; i++) {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%checking_out%'`);
      if ((rows[0]?.n ?? 0) > 0) break;
      assert.ok(i < 1_000, 'the checkout never waited for the cart');
      await new Promise((r) => setTimeout(r, 10));
    }
    await adder.query('COMMIT');
    const paid = await paying;
    assert.equal(paid.statusCode, 201, paid.body);
    const { orderId } = paid.json<{ orderId: string }>();
    const ordered = await db.query<{ sku: string; quantity: number }>('SELECT sku, quantity FROM order_lines WHERE order_id = $1 ORDER BY sku', [orderId]);
    assert.deepEqual(ordered.rows.map((r) => [r.sku, r.quantity]), [['MUG', 1], ['S02', 3]]);
  } finally {
    adder.release();
  }
});
