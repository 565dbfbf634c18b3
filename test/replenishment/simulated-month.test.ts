// A simulated month: shoppers buy every day (seeded random demand with a weekly pattern)
// through real inventory reservations on PostgreSQL; each morning the day's events go to the
// DuckDB warehouse, the replenishment job reads daily demand from it and orders; suppliers
// deliver after their lead time (receiving posts the stock). Stated target: fewer than 2 % of
// the units asked for go unserved, although the month's demand is ~3× the opening stock.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createAnalytics } from '../../src/analytics/index.js';
import type { EventEnvelope } from '../../src/events/index.js';
import { manualClock } from '../../src/platform/clock.js';
import { isAppError } from '../../src/platform/errors.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { buildInventory, createLocations, createSkus } from '../inventory/support.js';
import { freshDatabase } from '../support/db.js';

const STOCKOUT_TARGET = 0.02;
const DAYS = Number(process.env.SIM_DAYS ?? 30);

const { db } = await freshDatabase({ poolSize: 10 });
const clock = manualClock(new Date('2026-11-02T08:00:00Z')); // a Monday
const analytics = createAnalytics({ db, logger: createLogger('silent'), metrics: createMetrics(), clock, dataDir: mkdtempSync(path.join(tmpdir(), 'embudo-repl-')) });
const { inventory, catalog } = buildInventory(db, { clock, demand: (q) => analytics.demandSeries(q) });
after(async () => {
  await inventory.close();
  await analytics.close();
});

/** Mulberry32: the month is the same on every run. */
function prng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(20261201);
/** Poisson by inversion (means here are small). */
function poisson(mean: number): number {
  const l = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= random();
  } while (p > l);
  return k - 1;
}
// Weekly pattern (Sunday = 0): busy weekends.
const WEEK = [1.5, 0.8, 0.8, 0.9, 1.0, 1.2, 1.8];
const SKUS = [
  { sku: 'ARROZ-1KG', mean: 24, supplier: 'dist-central', policy: { method: 'eoq' as const, packSize: 10, minOrderQty: 50, unitCost: 1_200, sendMode: 'auto' as const } },
  { sku: 'ACEITE-1L', mean: 8, supplier: 'dist-central', policy: { method: 'minmax' as const, maxQty: 120, packSize: 12, minOrderQty: 12, unitCost: 3_500, sendMode: 'auto' as const } },
  { sku: 'CAFE-250G', mean: 5, supplier: 'cafe-sur', policy: { method: 'eoq' as const, packSize: 6, minOrderQty: 6, unitCost: 4_800, sendMode: 'draft' as const } },
];
const OPENING_DAYS = 10;

async function toWarehouse(afterId: number): Promise<number> {
  const { rows } = await db.query<{ id: string; event_id: string; type: string; version: number; context: string; aggregate_type: string; aggregate_id: string; payload: unknown; occurred_at: Date }>(
    'SELECT id, event_id, type, version, context, aggregate_type, aggregate_id, payload, occurred_at FROM events_outbox WHERE id > $1 ORDER BY id', [afterId]);
  const envelopes: EventEnvelope[] = rows.map((r) => ({
    seq: Number(r.id), id: r.event_id, type: r.type, version: r.version, context: r.context, aggregateType: r.aggregate_type,
    aggregateId: r.aggregate_id, payload: r.payload, occurredAt: r.occurred_at,
  }));
  if (envelopes.length > 0) await analytics.ingest(envelopes);
  return Number(rows.at(-1)?.id ?? afterId);
}

describe('automatic replenishment', () => {
  it(`a simulated month: stockouts stay under ${STOCKOUT_TARGET * 100} % of demanded units`, async () => {
    await createSkus(catalog, SKUS.map((s) => s.sku));
    await createLocations(inventory, ['bodega']);
    for (const s of SKUS) await inventory.receive({ sku: s.sku, locationId: 'bodega', quantity: s.mean * OPENING_DAYS });
    await inventory.replenishment.suppliers.upsert({ id: 'dist-central', name: 'Distribuidora Central', leadTimeDays: 3, orderCost: 3_000 });
    await inventory.replenishment.suppliers.upsert({ id: 'cafe-sur', name: 'Café del Sur', leadTimeDays: 5, orderCost: 2_000 });
    for (const s of SKUS) {
      await inventory.replenishment.policies.set({
        sku: s.sku, locationId: 'bodega', supplierId: s.supplier, leadTimeDays: null, serviceLevel: 0.97, holdingRate: 0.25,
        maxQty: null, ...s.policy,
      });
    }

    let lastEvent = 0;
    let demanded = 0;
    let lost = 0;
    const lostBySku = new Map<string, number>();
    let received = 0;
    let draftsSeen = 0;
    for (let day = 0; day < DAYS; day++) {
      const today = clock.now().toISOString().slice(0, 10);
      const t0 = performance.now();
      // Morning: yesterday's events into the warehouse, then the replenishment job.
      lastEvent = await toWarehouse(lastEvent);
      const t1 = performance.now();
      const run = await inventory.replenishment.run();
      if (process.env.SIM_TRACE) console.log(`# day ${day} etl ${(t1 - t0).toFixed(0)} ms run ${(performance.now() - t1).toFixed(0)} ms`);
      for (const po of run.created) assert.ok(po.status === (po.supplier === 'cafe-sur' ? 'draft' : 'sent'), `${po.supplier}: ${po.status}`);
      // The buyer sends the drafts the job left (café's policy is 'draft'); suppliers deliver what is due.
      for (const po of await inventory.purchaseOrders.list('draft')) {
        draftsSeen++;
        await inventory.purchaseOrders.send(po.id);
      }
      for (const po of await inventory.purchaseOrders.list('sent')) {
        if (po.expectedDate !== null && po.expectedDate <= today) {
          await inventory.purchaseOrders.receive(po.id);
          received++;
        }
      }
      // The day's demand per SKU (Poisson around the weekday's mean), bought in a morning and an
      // afternoon wave; when stock runs short, shoppers take what is left and the rest is lost.
      const dow = clock.now().getUTCDay();
      const wants = SKUS.flatMap((s) => {
        const units = poisson(s.mean * (WEEK[dow] ?? 1));
        const first = Math.round(units * random());
        return [{ sku: s.sku, q: first }, { sku: s.sku, q: units - first }].filter((b) => b.q > 0);
      });
      for (const b of wants.sort(() => random() - 0.5)) {
        clock.advance(3_600_000);
        demanded += b.q;
        let want = b.q;
        for (;;) {
          try {
            const r = await inventory.reserve({ lines: [{ sku: b.sku, quantity: want, locationId: 'bodega' }], ttlSeconds: 600 });
            await inventory.commit(r.id);
            break;
          } catch (err) {
            if (!isAppError(err) || err.code !== 'insufficient_stock') throw err;
            const available = Number(err.details?.available ?? 0);
            lost += want - available;
            lostBySku.set(b.sku, (lostBySku.get(b.sku) ?? 0) + want - available);
            if (available <= 0) break;
            want = available;
          }
        }
      }
      if (process.env.SIM_TRACE) console.log(`# day ${day} total ${(performance.now() - t0).toFixed(0)} ms, ${wants.length} baskets`);
      clock.set(new Date(Date.parse(`${today}T08:00:00Z`) + 86_400_000));
    }

    const opening = SKUS.reduce((n, s) => n + s.mean * OPENING_DAYS, 0);
    const rate = lost / demanded;
    const detail = `demanded ${demanded}, lost ${lost} (${(rate * 100).toFixed(2)} %) ${JSON.stringify(Object.fromEntries(lostBySku))}, POs received ${received}`;
    console.log(`# simulated month: ${detail}`);
    assert.ok(demanded > 3 * opening, `the month needs far more than the opening stock (${demanded} vs ${opening})`);
    assert.ok(received >= 4, `suppliers delivered (${received} receipts)`);
    assert.ok(draftsSeen >= 1, 'café orders were left as drafts for a person');
    assert.ok(rate < STOCKOUT_TARGET, detail);

    // The warehouse's daily demand equals what was sold (units), and the suggestions explain themselves.
    lastEvent = await toWarehouse(lastEvent);
    const series = await analytics.demandSeries({ from: '2026-11-01', to: '2026-12-31' });
    const soldInWarehouse = series.reduce((n, s) => n + s.days.reduce((m, d) => m + d.units, 0), 0);
    assert.equal(soldInWarehouse, demanded - lost);
    const suggestions = await inventory.replenishment.suggestions();
    assert.equal(suggestions.length, SKUS.length);
    for (const s of suggestions) {
      const spec = SKUS.find((x) => x.sku === s.sku);
      assert.ok(spec);
      assert.ok(Math.abs(s.dailyDemand - spec.mean) < spec.mean * 0.35, `${s.sku}: forecast ${s.dailyDemand}/day vs true ${spec.mean}`);
      assert.ok(s.reorderPoint > 0 && s.safetyStock > 0, `${s.sku}: ${s.reason}`);
      assert.match(s.reason, /reorder point \d+/);
      assert.equal(s.supplierId, spec.supplier);
    }
  });
});
