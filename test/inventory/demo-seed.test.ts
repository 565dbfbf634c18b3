// The demo stock a first start seeds goes through the ledger in one set of statements: it must
// leave what receiving each SKU one by one leaves (levels equal to their movements, one
// receipt and one stock_changed event per level, the last SKU sold out), and run only once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_LOCATIONS } from '../../src/inventory/demo.js';
import { freshDatabase } from '../support/db.js';
import { buildInventory, count } from './support.js';

const { db } = await freshDatabase();
const { inventory, catalog } = buildInventory(db);

test('the demo stock: one receipt and one event per level, the last SKU sold out, once', async () => {
  await catalog.seedDemo();
  const skus = await catalog.listSkuCodes();
  assert.ok(skus.length > 5);
  await inventory.seedDemo(skus);

  const locations = DEMO_LOCATIONS.length;
  const levels = await count(db, 'SELECT count(*) FROM inventory_stock');
  // Each SKU but the last at every location where its spread gives a quantity.
  assert.ok(levels >= skus.length - 1 && levels <= (skus.length - 1) * locations, `${levels} levels`);
  assert.equal(await count(db, `SELECT count(*) FROM inventory_movements WHERE kind = 'receipt' AND reference = 'demo-seed'`), levels);
  assert.equal(await count(db, `SELECT count(*) FROM events_outbox WHERE type = 'inventory.stock_changed'`), levels);
  // Every event carries its level as written.
  assert.equal(await count(db, `SELECT count(*) FROM events_outbox e JOIN inventory_stock s
    ON e.aggregate_id = s.sku || '@' || s.location_id AND (e.payload->>'onHand')::int = s.on_hand AND s.version = 1
    WHERE e.type = 'inventory.stock_changed'`), levels);
  const first = await inventory.stock(skus[0] as string);
  assert.equal(first.onHand, 20 + 13 + 26, 'the spread ((i*7 + j*13) % 40, +20 at the warehouse) for the first SKU');
  assert.equal(first.safetyThreshold, 10);
  assert.deepEqual(await inventory.availability([skus.at(-1) as string]), [{ sku: skus.at(-1), available: 0 }], 'the last SKU stays sold out');
  assert.deepEqual((await inventory.checkInvariants()).drift, []);

  // A second run changes nothing.
  await inventory.seedDemo(skus);
  assert.equal(await count(db, 'SELECT count(*) FROM inventory_movements'), levels);
});
