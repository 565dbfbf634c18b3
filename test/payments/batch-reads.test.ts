import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lockOrdersAndRead } from '../../src/payments/batch-store.js';
import { freshDatabase } from '../support/db.js';

// The fraud features read rides the attempt batch's first round trip; what it adds to that
// round trip (the decision's cost on the payment path) is timed by the server around it.
const { db } = await freshDatabase();

test('a read riding the batch round trip is answered with its server time; without one there is none', async () => {
  const withRead = await db.transaction((tx) => lockOrdersAndRead(tx, ['order-a', 'order-b'], [], 'SELECT 7 AS x FROM pg_sleep(0.05)'));
  assert.deepEqual(withRead.also, { x: 7 });
  assert.ok((withRead.alsoMs ?? 0) >= 50, `alsoMs ${String(withRead.alsoMs)}`);
  assert.ok((withRead.alsoMs ?? 0) < 5_000);
  assert.deepEqual(withRead.attempts, []);
  const without = await db.transaction((tx) => lockOrdersAndRead(tx, ['order-a'], []));
  assert.equal(without.also, undefined);
  assert.equal(without.alsoMs, undefined);
});
