// Reorder arithmetic against values worked out by hand.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { demandOverLeadTime, demandStats, normalQuantile, planReorder, type ReplenishmentPolicy } from '../../src/inventory/domain/replenishment.js';

const close = (actual: number, expected: number, eps = 1e-3) => assert.ok(Math.abs(actual - expected) < eps, `${actual} ≉ ${expected}`);
const days = (from: string, n: number) => Array.from({ length: n }, (_, i) => new Date(Date.parse(`${from}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10));
const eoq: ReplenishmentPolicy = { method: 'eoq', serviceLevel: 0.95, leadTimeDays: 4, orderCost: 20_000, unitCost: 4_000, holdingRate: 0.25, maxQty: null, minOrderQty: 100, packSize: 24 };

describe('reorder computations', () => {
  it('z for the service level', () => {
    close(normalQuantile(0.95), 1.644854);
    close(normalQuantile(0.99), 2.326348);
    close(normalQuantile(0.5), 0);
    close(normalQuantile(0.8), 0.841621);
  });

  it('moving average and standard deviation of a week', () => {
    // Mean 10; deviations 0, 2, −2, 0, 4, −4, 0 → Σ² = 40 → s² = 40 / 6 → s = 2.58199.
    const s = demandStats([10, 12, 8, 10, 14, 6, 10], days('2026-11-23', 7));
    close(s.mean, 10);
    close(s.stdDev, Math.sqrt(40 / 6));
    assert.deepEqual(s.seasonality.slice(1), [1, 1, 1, 1, 1, 1, 1], 'under two weeks: no seasonality');
    // Only the last `window` days count.
    close(demandStats([100, 100, 10, 12, 8, 10, 14, 6, 10], days('2026-11-21', 9), 7).mean, 10);
  });

  it('reorder point = lead-time demand + z·σ·√LT; EOQ, supplier minimum and pack size', () => {
    const stats = { mean: 10, stdDev: Math.sqrt(40 / 6), seasonality: [] };
    // LT demand 4 × 10 = 40; safety 1.644854 × 2.58199 × 2 = 8.4940; ROP = ⌈48.494⌉ = 49.
    const p = planReorder(stats, '2026-12-01', 30, eoq);
    close(p.leadTimeDemand, 40);
    close(p.safetyStock, 8.4940);
    assert.equal(p.reorderPoint, 49);
    // EOQ = √(2 × 3650 × 20000 / (4000 × 0.25)) = √146000 = 382.10 → 383 ≥ 100 → 16 packs of 24 = 384.
    close(p.eoq ?? 0, 382.0995);
    assert.equal(p.rawQuantity, 383);
    assert.equal(p.orderQuantity, 384);
    assert.equal(planReorder(stats, '2026-12-01', 49, eoq).orderQuantity, 384, 'at the reorder point: order');
    assert.equal(planReorder(stats, '2026-12-01', 50, eoq).orderQuantity, 0, 'above it: nothing');
    // No order cost → no EOQ: enough to lift the position above the reorder point (49 − 45 + 1 = 5), then min 100 → 5 packs = 120.
    const noEoq = planReorder(stats, '2026-12-01', 45, { ...eoq, orderCost: 0 });
    assert.equal(noEoq.rawQuantity, 5);
    assert.equal(noEoq.orderQuantity, 120);
  });

  it('min/max orders up to the maximum, then the supplier minimum and packs', () => {
    const stats = { mean: 10, stdDev: Math.sqrt(40 / 6), seasonality: [] };
    const mm: ReplenishmentPolicy = { ...eoq, method: 'minmax', maxQty: 120, minOrderQty: 1, packSize: 12 };
    assert.equal(planReorder(stats, '2026-12-01', 30, mm).orderQuantity, 96, '120 − 30 = 90 → 8 packs of 12');
    assert.equal(planReorder(stats, '2026-12-01', 30, { ...mm, minOrderQty: 100 }).orderQuantity, 108, '90 → minimum 100 → 9 packs');
    assert.equal(planReorder({ ...stats, mean: 0, stdDev: 0 }, '2026-12-01', 0, mm).orderQuantity, 0, 'no demand, no order');
  });

  it('weekly seasonality shapes the lead-time demand', () => {
    // Four weeks from Monday 2026-11-02: Mon–Fri 10, Sat 20, Sun 0 → mean 10, Sat ×2, Sun ×0, σ 0.
    const units = days('2026-11-02', 28).map((d) => ({ 6: 20, 0: 0 })[new Date(`${d}T00:00:00Z`).getUTCDay()] ?? 10);
    const s = demandStats(units, days('2026-11-02', 28));
    close(s.mean, 10);
    close(s.seasonality[6] ?? 0, 2);
    close(s.seasonality[7] ?? 1, 0);
    close(s.seasonality[1] ?? 0, 1);
    close(s.stdDev, 0);
    close(demandOverLeadTime(s, '2026-12-04', 1), 20, 1e-9); // Friday → Saturday
    close(demandOverLeadTime(s, '2026-12-05', 1), 0, 1e-9); // Saturday → Sunday
    close(demandOverLeadTime(s, '2026-12-03', 2.5), 30, 1e-9); // Thursday → Fri 10 + Sat 20 + ½ Sun 0
    assert.equal(planReorder(s, '2026-12-04', 15, { ...eoq, leadTimeDays: 1 }).reorderPoint, 20);
  });
});
