import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Reservation } from '../../src/inventory/index.js';
import { isAppError } from '../../src/platform/errors.js';
import { freshDatabase } from '../support/db.js';
import { buildInventory, createLocations, createSkus } from './support.js';

const { db } = await freshDatabase();
const { inventory, catalog, clock } = buildInventory(db, { reservationTtlSeconds: 900 });
const LOCS = ['loc-a', 'loc-b', 'loc-c'];
await createLocations(inventory, LOCS);

const sku = fc.integer({ min: 0, max: 1 });
const loc = fc.integer({ min: 0, max: 2 });
const Op = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('receive' as const), sku, loc, q: fc.integer({ min: 1, max: 20 }) }), weight: 3 },
  { arbitrary: fc.record({
    op: fc.constant('reserve' as const),
    lines: fc.array(fc.record({ sku, q: fc.integer({ min: 1, max: 12 }), loc: fc.option(loc, { nil: undefined }) }), { minLength: 1, maxLength: 3 }),
    ttl: fc.integer({ min: 1, max: 1800 }),
  }), weight: 5 },
  { arbitrary: fc.record({ op: fc.constant('commit' as const), i: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('release' as const), i: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 1200 }), sweep: fc.boolean() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('adjust' as const), sku, loc, delta: fc.integer({ min: -15, max: 15 }).filter((d) => d !== 0) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('transfer' as const), sku, from: loc, to: loc, q: fc.integer({ min: 1, max: 15 }) }), weight: 1 },
);

const code = (err: unknown) => (isAppError(err) ? err.code : String(err));

let run = 0;
const seen = new Map<string, number>();
const saw = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);
test('random receive/reserve/commit/release/expire/adjust/transfer sequences keep every stock invariant', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(Op, { minLength: 1, maxLength: 30 }), async (ops) => {
      run += 1;
      const skus = [`P${run}-A`, `P${run}-B`];
      await createSkus(catalog, skus);
      // The model: on hand and reserved per SKU-location, and every reservation made.
      const onHand = new Map<string, number>();
      const reserved = new Map<string, number>();
      const k = (s: string, l: string) => `${s}@${l}`;
      const get = (m: Map<string, number>, key: string) => m.get(key) ?? 0;
      const add = (m: Map<string, number>, key: string, d: number) => m.set(key, get(m, key) + d);
      const avail = (s: string) => LOCS.reduce((n, l) => n + get(onHand, k(s, l)) - get(reserved, k(s, l)), 0);
      const made: { r: Reservation; status: Reservation['status'] }[] = [];
      const stocked = new Set<string>();
      for (const s of skus) {
        await inventory.receive({ sku: s, locationId: 'loc-b', quantity: 8 });
        add(onHand, k(s, 'loc-b'), 8);
        stocked.add(s);
      }

      for (const o of ops) {
        switch (o.op) {
          case 'receive': {
            const [s, l] = [skus[o.sku]!, LOCS[o.loc]!];
            await inventory.receive({ sku: s, locationId: l, quantity: o.q });
            add(onHand, k(s, l), o.q);
            stocked.add(s);
            break;
          }
          case 'reserve': {
            const lines = o.lines.map((l) => ({ sku: skus[l.sku]!, quantity: l.q, ...(l.loc !== undefined ? { locationId: LOCS[l.loc]! } : {}) }));
            const need = new Map<string, number>();
            for (const l of lines) need.set(l.sku, (need.get(l.sku) ?? 0) + l.quantity);
            const enough = [...need].every(([s, q]) => avail(s) >= q);
            try {
              const r = await inventory.reserve({ lines, ttlSeconds: o.ttl });
              assert.ok(enough, 'a reservation succeeded beyond what was available');
              for (const a of r.allocations) add(reserved, k(a.sku, a.locationId), a.quantity);
              saw(r.allocations.length > lines.length ? 'split' : 'reserved');
              made.push({ r, status: 'active' });
            } catch (err) {
              const c = code(err);
              saw(c);
              assert.ok(['insufficient_stock', 'unknown_sku'].includes(c), c);
              if (c === 'insufficient_stock') assert.ok(!enough, 'refused although enough was available');
              if (c === 'unknown_sku') assert.ok(lines.some((l) => !stocked.has(l.sku)));
            }
            break;
          }
          case 'commit':
          case 'release': {
            if (made.length === 0) break;
            const m = made[o.i % made.length]!;
            const due = m.r.expiresAt.getTime() <= clock.now().getTime();
            const settle = (status: Reservation['status'], sale: boolean) => {
              for (const a of m.r.allocations) {
                add(reserved, k(a.sku, a.locationId), -a.quantity);
                if (sale) add(onHand, k(a.sku, a.locationId), -a.quantity);
              }
              m.status = status;
            };
            try {
              const r = o.op === 'commit' ? await inventory.commit(m.r.id) : await inventory.release(m.r.id);
              if (m.status === 'active') settle(r.status, r.status === 'committed');
              saw(r.status);
              assert.equal(r.status, m.status);
            } catch (err) {
              const c = code(err);
              if (c === 'reservation_expired' && m.status === 'active') {
                assert.ok(due);
                settle('expired', false);
                saw('late commit');
              } else {
                const expected: Record<string, string> =
                  o.op === 'commit' ? { released: 'reservation_released', expired: 'reservation_expired' } : { committed: 'reservation_committed' };
                assert.equal(c, expected[m.status]);
              }
            }
            break;
          }
          case 'tick': {
            clock.advance(o.seconds * 1000);
            if (!o.sweep) break;
            while ((await inventory.expireDue(50)) > 0);
            for (const m of made) {
              if (m.status === 'active' && m.r.expiresAt.getTime() <= clock.now().getTime()) {
                for (const a of m.r.allocations) add(reserved, k(a.sku, a.locationId), -a.quantity);
                m.status = 'expired';
                saw('swept');
              }
            }
            break;
          }
          case 'adjust': {
            const [s, l] = [skus[o.sku]!, LOCS[o.loc]!];
            const ok = stocked.has(s) && get(onHand, k(s, l)) + o.delta >= get(reserved, k(s, l));
            try {
              await inventory.adjust({ sku: s, locationId: l, delta: o.delta, reason: 'conteo' });
              assert.ok(ok, 'an adjustment took on hand below reserved');
              add(onHand, k(s, l), o.delta);
            } catch (err) {
              assert.ok(!ok, code(err));
              assert.ok(['stock_below_reserved', 'unknown_sku'].includes(code(err)), code(err));
            }
            break;
          }
          case 'transfer': {
            if (o.from === o.to) break;
            const [s, from, to] = [skus[o.sku]!, LOCS[o.from]!, LOCS[o.to]!];
            const ok = stocked.has(s) && get(onHand, k(s, from)) - get(reserved, k(s, from)) >= o.q;
            try {
              await inventory.transfer({ sku: s, fromLocationId: from, toLocationId: to, quantity: o.q });
              assert.ok(ok, 'a transfer moved more than was available');
              add(onHand, k(s, from), -o.q);
              add(onHand, k(s, to), o.q);
            } catch (err) {
              assert.ok(!ok, code(err));
            }
            break;
          }
        }
      }

      // The database agrees with the model, and the ledger with the levels.
      for (const s of skus) {
        if (!stocked.has(s)) continue;
        const view = await inventory.stock(s);
        for (const l of LOCS) {
          const level = view.locations.find((x) => x.locationId === l) ?? { onHand: 0, reserved: 0, available: 0 };
          assert.equal(level.onHand, get(onHand, k(s, l)), `${s}@${l} on hand`);
          assert.equal(level.reserved, get(reserved, k(s, l)), `${s}@${l} reserved`);
          assert.ok(level.available >= 0 && level.reserved >= 0);
        }
      }
      const report = await inventory.checkInvariants();
      assert.deepEqual(report.drift, []);
    }),
    {
      numRuns: 60,
      // One fixed sequence that surely walks the rare paths (split, late commit, sweep), on
      // top of the random ones.
      examples: [
        [
          [
            { op: 'receive', sku: 0, loc: 0, q: 5 },
            { op: 'reserve', lines: [{ sku: 0, q: 10, loc: undefined }], ttl: 60 },
            { op: 'tick', seconds: 100, sweep: false },
            { op: 'commit', i: 0 },
            { op: 'reserve', lines: [{ sku: 1, q: 1, loc: 2 }], ttl: 60 },
            { op: 'tick', seconds: 100, sweep: true },
            { op: 'reserve', lines: [{ sku: 0, q: 1, loc: undefined }], ttl: 1800 },
            { op: 'commit', i: 2 },
            { op: 'reserve', lines: [{ sku: 1, q: 2, loc: undefined }], ttl: 1800 },
            { op: 'release', i: 3 },
            { op: 'adjust', sku: 1, loc: 1, delta: -3 },
            { op: 'transfer', sku: 0, from: 1, to: 2, q: 2 },
          ],
        ],
      ],
    },
  );
  // The generator reaches every path the invariants are about.
  for (const what of ['reserved', 'split', 'committed', 'released', 'swept', 'late commit']) {
    assert.ok((seen.get(what) ?? 0) > 0, `no ${what} in the generated runs: ${JSON.stringify([...seen])}`);
  }
});
