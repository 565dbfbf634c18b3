import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createDatabase } from '../../src/platform/db.js';
import { isAppError } from '../../src/platform/errors.js';
import { freshDatabase } from '../support/db.js';
import { buildInventory, count, createLocations, createSkus } from './support.js';

const { db, url } = await freshDatabase();
const { inventory, catalog, clock } = buildInventory(db, { reservationTtlSeconds: 600 });
await createLocations(inventory, ['bodega']);
await createSkus(catalog, ['EXP-1', 'SWEEP-1']);
await inventory.receive({ sku: 'EXP-1', locationId: 'bodega', quantity: 10 });
await inventory.receive({ sku: 'SWEEP-1', locationId: 'bodega', quantity: 1000 });

test('a reservation expires after its TTL; a late commit is reservation_expired, never a sale', async () => {
  const r = await inventory.reserve({ lines: [{ sku: 'EXP-1', quantity: 4 }], reference: 'order-1' });
  assert.equal(r.expiresAt.getTime(), clock.now().getTime() + 600_000, 'the configured TTL applies');
  const custom = await inventory.reserve({ lines: [{ sku: 'EXP-1', quantity: 1 }], ttlSeconds: 30 });
  assert.equal(custom.expiresAt.getTime(), clock.now().getTime() + 30_000);

  clock.advance(599_000);
  assert.equal(await inventory.expireDue(), 1, 'only the 30-second one is due');
  assert.equal((await inventory.getReservation(r.id)).status, 'active');
  clock.advance(1_000);
  // The sweeper has not run: commit itself notices and expires the reservation.
  await assert.rejects(inventory.commit(r.id), (err) => isAppError(err) && err.code === 'reservation_expired');
  await assert.rejects(inventory.commit(r.id), (err) => isAppError(err) && err.code === 'reservation_expired');
  assert.equal((await inventory.getReservation(r.id)).status, 'expired');
  assert.equal(await inventory.expireDue(), 0, 'already expired: nothing more to do');
  assert.equal((await inventory.release(r.id)).status, 'expired', 'release of an expired one is a no-op');
  const stock = await inventory.stock('EXP-1');
  assert.deepEqual([stock.onHand, stock.reserved, stock.available], [10, 0, 10]);
  assert.equal(await count(db, `SELECT count(*) FROM inventory_movements WHERE sku = 'EXP-1' AND kind = 'sale'`), 0);
  assert.equal(await count(db, `SELECT count(*) FROM inventory_movements WHERE sku = 'EXP-1' AND kind = 'expiry'`), 2);
});

test('two sweepers on separate connection pools expire each reservation exactly once', async () => {
  const created = await Promise.all(
    Array.from({ length: 300 }, (_, i) => inventory.reserve({ lines: [{ sku: 'SWEEP-1', quantity: 1 + (i % 3) }], ttlSeconds: 60 })),
  );
  const reserved = created.reduce((n, r) => n + (r.allocations[0]?.quantity ?? 0), 0);
  assert.equal((await inventory.stock('SWEEP-1')).reserved, reserved);
  clock.advance(61_000);

  // A second "process": its own pool and its own inventory instance on the same database.
  const otherDb = createDatabase({ connectionString: url, max: 4 });
  try {
    const other = buildInventory(otherDb, { clock });
    const sweep = async (inv: typeof inventory) => {
      let total = 0;
      for (;;) {
        const n = await inv.expireDue(7);
        total += n;
        if (n === 0) return total;
      }
    };
    const [a, b] = await Promise.all([sweep(inventory), sweep(other.inventory)]);
    assert.equal(a + b, 300);
    assert.ok(a > 0 && b > 0, `both sweepers worked (${a} + ${b})`);
  } finally {
    await otherDb.close();
  }
  assert.equal(
    await count(db, `SELECT count(*) FROM (SELECT reservation_id FROM inventory_movements WHERE kind = 'expiry' AND sku = 'SWEEP-1' GROUP BY 1 HAVING count(*) <> 1) d`),
    0,
  );
  assert.equal(await count(db, `SELECT count(*) FROM inventory_movements WHERE kind = 'expiry' AND sku = 'SWEEP-1'`), 300);
  assert.equal((await inventory.stock('SWEEP-1')).reserved, 0);
  assert.ok((await inventory.checkInvariants()).ok);
});

test('the sweeper worker expires due reservations in the background', async () => {
  const r = await inventory.reserve({ lines: [{ sku: 'EXP-1', quantity: 1 }], ttlSeconds: 5 });
  clock.advance(5_000);
  const [worker] = inventory.workers;
  assert.ok(worker);
  worker.start();
  try {
    for (let i = 0; i < 100 && (await inventory.getReservation(r.id)).status === 'active'; i++) await new Promise((res) => setTimeout(res, 20));
  } finally {
    await worker.stop();
  }
  assert.equal((await inventory.getReservation(r.id)).status, 'expired');
});

test('two sweeper processes expire each reservation exactly once', async () => {
  await Promise.all(Array.from({ length: 200 }, () => inventory.reserve({ lines: [{ sku: 'SWEEP-1', quantity: 2 }], ttlSeconds: 60 })));
  clock.advance(61_000);
  const script = path.join(import.meta.dirname, 'sweeper-process.ts');
  const children = [0, 1].map(() => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, SWEEP_DATABASE_URL: url, SWEEP_NOW: clock.now().toISOString() },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    const ready = new Promise<void>((resolve) => child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready')) resolve();
    }));
    const done = new Promise<number>((resolve, reject) => child.on('exit', (code) => {
      const m = /expired (\d+)/.exec(out);
      if (code === 0 && m) resolve(Number(m[1]));
      else reject(new Error(`sweeper exited ${code}: ${out}`));
    }));
    return { child, ready, done };
  });
  await Promise.all(children.map((c) => c.ready));
  for (const c of children) c.child.stdin.end('go\n');
  const counts = await Promise.all(children.map((c) => c.done));
  assert.equal(counts[0]! + counts[1]!, 200);
  assert.equal(
    await count(db, `SELECT count(*) FROM (SELECT reservation_id FROM inventory_movements WHERE kind = 'expiry' GROUP BY 1 HAVING count(*) <> 1) d`),
    0,
  );
  assert.equal((await inventory.stock('SWEEP-1')).reserved, 0);
  assert.ok((await inventory.checkInvariants()).ok);
});
