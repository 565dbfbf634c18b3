import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAppError } from '../../src/platform/errors.js';
import { freshDatabase } from '../support/db.js';
import { buildInventory, count, createLocations, createSkus } from './support.js';

const { db } = await freshDatabase({ poolSize: 10 });
const { inventory, catalog } = buildInventory(db);
await createLocations(inventory, ['bodega', 'tienda']);
await createSkus(catalog, ['HOT-1', 'SPLIT-1', 'MULTI-A', 'MULTI-B']);

test('2,000 concurrent one-unit reservations of a SKU holding 100: exactly 100 succeed', async () => {
  await inventory.receive({ sku: 'HOT-1', locationId: 'bodega', quantity: 100 });
  const results = await Promise.allSettled(
    Array.from({ length: 2000 }, (_, i) => inventory.reserve({ lines: [{ sku: 'HOT-1', quantity: 1 }], reference: `order-${i}` })),
  );
  const ok = results.filter((r) => r.status === 'fulfilled');
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(ok.length, 100);
  assert.equal(failed.length, 1900);
  for (const f of failed) {
    assert.ok(isAppError(f.reason), String(f.reason));
    assert.equal(f.reason.code, 'insufficient_stock');
    assert.deepEqual(f.reason.details, { sku: 'HOT-1', requested: 1, available: 0 });
  }
  const stock = await inventory.stock('HOT-1');
  assert.deepEqual([stock.onHand, stock.reserved, stock.available], [100, 100, 0]);
  assert.equal(await count(db, `SELECT count(*) FROM inventory_movements WHERE sku = 'HOT-1' AND kind = 'reservation'`), 100);
  assert.equal(await count(db, `SELECT count(*) FROM inventory_reservations WHERE status = 'active'`), 100);
  // One stock_changed event per committed change of the level (the receipt, then each batch
  // that reserved), in commit order: reserved only grows, and the last one is the final level.
  const { rows: changes } = await db.query<{ reserved: number; available: number }>(
    `SELECT (payload->>'reserved')::int AS reserved, (payload->>'available')::int AS available
       FROM events_outbox WHERE type = 'inventory.stock_changed' AND payload->>'sku' = 'HOT-1' ORDER BY id`,
  );
  assert.ok(changes.length >= 2 && changes.length <= 101, `${changes.length} events`);
  assert.deepEqual(changes[0], { reserved: 0, available: 100 });
  assert.deepEqual(changes.at(-1), { reserved: 100, available: 0 });
  for (let i = 1; i < changes.length; i++) assert.ok((changes[i]?.reserved ?? 0) > (changes[i - 1]?.reserved ?? 0), `event ${i} does not advance`);
  const report = await inventory.checkInvariants();
  assert.deepEqual(report.drift, []);
});

test('a line larger than any one location is split deterministically; all or nothing per reservation', async () => {
  await inventory.receive({ sku: 'SPLIT-1', locationId: 'bodega', quantity: 3 });
  await inventory.receive({ sku: 'SPLIT-1', locationId: 'tienda', quantity: 4 });
  const r = await inventory.reserve({ lines: [{ sku: 'SPLIT-1', quantity: 5 }] });
  assert.deepEqual(r.allocations, [
    { sku: 'SPLIT-1', locationId: 'bodega', quantity: 3 },
    { sku: 'SPLIT-1', locationId: 'tienda', quantity: 2 },
  ]);
  const preferred = await inventory.reserve({ lines: [{ sku: 'SPLIT-1', quantity: 1, locationId: 'tienda' }] });
  assert.deepEqual(preferred.allocations, [{ sku: 'SPLIT-1', locationId: 'tienda', quantity: 1 }]);

  await inventory.receive({ sku: 'MULTI-A', locationId: 'bodega', quantity: 5 });
  await inventory.receive({ sku: 'MULTI-B', locationId: 'bodega', quantity: 1 });
  await assert.rejects(
    inventory.reserve({ lines: [{ sku: 'MULTI-A', quantity: 2 }, { sku: 'MULTI-B', quantity: 2 }] }),
    (err) => isAppError(err) && err.code === 'insufficient_stock',
  );
  assert.equal((await inventory.stock('MULTI-A')).reserved, 0, 'nothing of a failed reservation is kept');
  await assert.rejects(
    inventory.reserve({ lines: [{ sku: 'NOPE-1', quantity: 1 }] }),
    (err) => isAppError(err) && err.code === 'unknown_sku',
  );
});

test('commit and release are idempotent and move the ledger once', async () => {
  const r = await inventory.reserve({ lines: [{ sku: 'MULTI-A', quantity: 2 }] });
  await Promise.all([inventory.commit(r.id), inventory.commit(r.id), inventory.commit(r.id)]);
  assert.equal((await inventory.getReservation(r.id)).status, 'committed');
  assert.equal(await count(db, `SELECT count(*) FROM inventory_movements WHERE reservation_id = $1 AND kind = 'sale'`, [r.id]), 1);
  await assert.rejects(inventory.release(r.id), (err) => isAppError(err) && err.code === 'reservation_committed');

  const s = await inventory.reserve({ lines: [{ sku: 'MULTI-A', quantity: 1 }] });
  await Promise.all([inventory.release(s.id, 'payment rejected'), inventory.release(s.id)]);
  assert.equal(await count(db, `SELECT count(*) FROM inventory_movements WHERE reservation_id = $1 AND kind = 'release'`, [s.id]), 1);
  await assert.rejects(inventory.commit(s.id), (err) => isAppError(err) && err.code === 'reservation_released');
  const stock = await inventory.stock('MULTI-A');
  assert.deepEqual([stock.onHand, stock.reserved], [3, 0]);
  assert.ok((await inventory.checkInvariants()).ok);
});

test('the ledger refuses UPDATE, DELETE and TRUNCATE', async () => {
  for (const sql of ['UPDATE inventory_movements SET on_hand_delta = 0', 'DELETE FROM inventory_movements', 'TRUNCATE inventory_movements']) {
    await assert.rejects(db.query(sql), /append-only/);
  }
});

test('drift between levels and ledger is reported', async () => {
  await db.query(`UPDATE inventory_stock SET on_hand = on_hand + 1 WHERE sku = 'MULTI-B'`);
  const report = await inventory.checkInvariants();
  assert.equal(report.ok, false);
  assert.deepEqual(report.drift.map((d) => [d.sku, d.locationId, d.problems]), [['MULTI-B', 'bodega', ['on_hand differs from the ledger']]]);
  await db.query(`UPDATE inventory_stock SET on_hand = on_hand - 1 WHERE sku = 'MULTI-B'`);
});

test('two processes planning on stale levels: the late-lock check replans, never oversells, never under-sells', async () => {
  // A second inventory (its own batcher and plan cache) on the same database: another process.
  const other = buildInventory(db).inventory;
  await createSkus(catalog, ['STALE-1']);
  await inventory.receive({ sku: 'STALE-1', locationId: 'bodega', quantity: 10 });
  await inventory.reserve({ lines: [{ sku: 'STALE-1', quantity: 1 }] }); // `inventory` now plans from 9 available
  await other.reserve({ lines: [{ sku: 'STALE-1', quantity: 8 }] }); // really 1 left
  await assert.rejects(inventory.reserve({ lines: [{ sku: 'STALE-1', quantity: 2 }] }), (err: unknown) => {
    assert.ok(isAppError(err));
    assert.equal(err.code, 'insufficient_stock');
    assert.deepEqual(err.details, { sku: 'STALE-1', requested: 2, available: 1 });
    return true;
  });
  // A receipt elsewhere: the stale plan would say "not enough"; the check sees the new stock.
  await other.receive({ sku: 'STALE-1', locationId: 'tienda', quantity: 5 });
  const r = await inventory.reserve({ lines: [{ sku: 'STALE-1', quantity: 6 }] });
  assert.deepEqual(r.allocations, [{ sku: 'STALE-1', locationId: 'bodega', quantity: 1 }, { sku: 'STALE-1', locationId: 'tienda', quantity: 5 }]);
  // Both processes race for the last units.
  await other.receive({ sku: 'STALE-1', locationId: 'tienda', quantity: 20 });
  const raced = await Promise.allSettled(
    Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? inventory : other).reserve({ lines: [{ sku: 'STALE-1', quantity: 1 }] })),
  );
  assert.equal(raced.filter((x) => x.status === 'fulfilled').length, 20);
  const stock = await inventory.stock('STALE-1');
  assert.deepEqual([stock.onHand, stock.reserved, stock.available], [35, 35, 0]);
  assert.deepEqual((await inventory.checkInvariants()).drift, []);
  await other.close();
});
