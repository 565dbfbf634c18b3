import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AvailabilityUpdate } from '../../src/inventory/index.js';
import { freshDatabase } from '../support/db.js';
import { buildInventory, createLocations, createSkus } from './support.js';

const { db } = await freshDatabase();
const { inventory, catalog } = buildInventory(db);
await createLocations(inventory, ['bodega', 'tienda']);
await createSkus(catalog, ['FEED-1', 'FEED-2']);
await inventory.receive({ sku: 'FEED-1', locationId: 'bodega', quantity: 5 });

const until = async (pred: () => boolean, what: string, seen: unknown) => {
  const deadline = Date.now() + 8000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; saw ${JSON.stringify(seen)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

test('subscribers get current totals over all locations, then committed changes only', async () => {
  const a: AvailabilityUpdate[] = [];
  const b: AvailabilityUpdate[] = [];
  const stopA = await inventory.feed.subscribe(['FEED-1', 'FEED-2'], (u) => a.push(u));
  const stopB = await inventory.feed.subscribe(['FEED-1'], (u) => b.push(u));
  assert.deepEqual(a.filter((u) => u.sku === 'FEED-2').at(-1), { sku: 'FEED-2', available: 0 });
  assert.deepEqual(b.at(-1), { sku: 'FEED-1', available: 5 });

  await inventory.receive({ sku: 'FEED-1', locationId: 'tienda', quantity: 3 });
  await until(() => b.at(-1)?.available === 8, 'the receipt at a second location', b);
  // A failed change (rolled back) notifies nobody.
  await assert.rejects(inventory.adjust({ sku: 'FEED-1', locationId: 'bodega', delta: -50, reason: 'x' }));
  await inventory.reserve({ lines: [{ sku: 'FEED-1', quantity: 8 }] });
  await until(() => a.some((u) => u.sku === 'FEED-1' && u.available === 0), 'sold out', a);
  assert.ok(b.every((u) => u.available >= 0 && u.available <= 8));
  stopA();
  stopB();
  assert.equal(inventory.feed.subscribers(), 0);
});

test('the LISTEN connection is re-established after it drops, and missed changes are recovered', async () => {
  const seen: AvailabilityUpdate[] = [];
  const stop = await inventory.feed.subscribe(['FEED-2'], (u) => seen.push(u));
  await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`);
  await inventory.receive({ sku: 'FEED-2', locationId: 'bodega', quantity: 4 });
  await until(() => seen.at(-1)?.available === 4, 'the change made while disconnected', seen);
  await inventory.receive({ sku: 'FEED-2', locationId: 'bodega', quantity: 1 });
  await until(() => seen.at(-1)?.available === 5, 'a change after reconnecting', seen);
  stop();
  await inventory.close();
});
