import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { appendEvents } from '../../src/events/index.js';
import { createAnalytics, QualityCheckFailed, type Analytics } from '../../src/analytics/index.js';
import type { Database } from '../../src/platform/db.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { systemClock } from '../../src/platform/clock.js';
import { freshDatabase } from '../support/db.js';
import { testBus, waitFor } from '../events/support.js';
import { generateMonth, shuffled } from './generate.js';

const MARTS = ['fact_order_line', 'fact_payment_attempt', 'fact_refund', 'fact_ledger_posting', 'fact_stock_movement', 'stock_on_hand', 'dim_customer', 'dim_product', 'dim_geography', 'dim_date', 'reconciliation',
  // The BI marts derived from the facts (src/analytics/aggregates.ts): as reproducible as the facts.
  'fact_order', 'fact_order_member', 'agg_sales_daily', 'agg_payment_daily', 'agg_decline_minute', 'agg_refund_daily', 'agg_ledger_daily', 'agg_reconciliation_daily', 'agg_fraud_daily'];

async function tableHash(a: Analytics, t: string): Promise<string> {
  const r = await a.query(`SELECT * FROM ${t} ORDER BY ALL`, { rowLimit: 1_000_000 });
  return JSON.stringify(r);
}

async function allHashes(a: Analytics): Promise<string> {
  const out: string[] = [];
  for (const t of MARTS) out.push(await tableHash(a, t));
  return out.join('\n');
}

function analyticsFor(db: Database, dataDir: string, events?: ReturnType<typeof testBus>) {
  return createAnalytics({ db, logger: createLogger('silent'), metrics: createMetrics(), clock: systemClock, dataDir, events, streamIntervalMs: 50 });
}

const { db } = await freshDatabase();

describe('analytics warehouse', () => {

  it('a generated month: totals equal OLTP totals to the peso and unit; duplicates, reordering and re-runs change nothing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'embudo-wh-'));
    const a = analyticsFor(db, dir);
    try {
      const { events, totals } = generateMonth(600);
      // Out of order, in uneven batches, with a third duplicated.
      const mixed = shuffled([...events, ...events.filter((_, i) => i % 3 === 0)]);
      for (let i = 0; i < mixed.length; i += 1777) await a.ingest(mixed.slice(i, i + 1777));
      const [sum] = await a.query(`SELECT sum(amount) AS gmv, sum(quantity) AS units FROM fact_order_line`);
      assert.equal(Number(sum?.gmv), totals.gmv);
      assert.equal(Number(sum?.units), totals.units);
      const [ref] = await a.query(`SELECT coalesce(sum(amount), 0) AS refunds FROM fact_refund`);
      assert.equal(Number(ref?.refunds), totals.refunds);
      const [pay] = await a.query(`SELECT sum(amount) AS approved, count(*) FILTER (WHERE status <> 'approved') AS other FROM fact_payment_attempt`);
      assert.equal(Number(pay?.approved), totals.approved);
      assert.equal(Number(pay?.other), 0, 'pending arriving after approved does not win');
      const stock = await a.query(`SELECT sku, on_hand FROM stock_on_hand`, { rowLimit: 1000 });
      assert.equal(stock.length, totals.stock.size);
      for (const s of stock) assert.equal(Number(s.on_hand), totals.stock.get(String(s.sku)), `stock of ${String(s.sku)}`);

      const first = await allHashes(a);
      await a.ingest(shuffled(events, 11)); // the whole window again, another order
      await a.ingest([]);
      assert.equal(await allHashes(a), first);

      // A second warehouse loading the events in order builds the same tables.
      const b = analyticsFor(db, mkdtempSync(path.join(tmpdir(), 'embudo-wh-')));
      await b.ingest(events);
      assert.equal(await allHashes(b), first);
      await b.close();
    } finally {
      await a.close();
    }
  });

  it('a failing blocking check stops the load and keeps the previous state', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'embudo-wh-'));
    const a = analyticsFor(db, dir);
    try {
      const { events } = generateMonth(50, 9);
      await a.ingest(events);
      const before = await allHashes(a);
      const bad = { ...events.find((e) => e.type === 'checkout.order_placed')!, id: '00000000-0000-4000-8000-000000000001', payload: { orderId: 'bad', customerId: 'c', lines: [{ sku: null, quantity: 1, unitPrice: 10 }] } };
      await assert.rejects(a.ingest([bad, ...generateMonth(5, 10).events]), QualityCheckFailed);
      assert.equal(await allHashes(a), before);
      const [stg] = await a.query(`SELECT count(*) AS n FROM stg_events`);
      assert.equal(Number(stg?.n), events.length, 'staging rolled back too');
      const failed = await a.query(`SELECT name FROM dq_result WHERE blocking AND NOT passed`);
      assert.deepEqual(failed.map((r) => r.name), ['order_line_sku_not_null']);
    } finally {
      await a.close();
    }
  });

  it('the market-research silo holds pseudonyms and comuna/región only', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'embudo-wh-'));
    const a = analyticsFor(db, dir);
    try {
      const { events } = generateMonth(200, 5);
      await a.ingest(events);
      assert.ok((await a.refreshSilo()) > 0);
    } finally {
      await a.close();
    }
    const inst = await DuckDBInstance.create(path.join(dir, 'market_research.duckdb'));
    const conn = await inst.connect();
    const cols = (await conn.runAndReadAll(`SELECT column_name FROM information_schema.columns`)).getRows().map((r) => String(r[0]));
    assert.deepEqual(cols.sort(), ['comuna', 'first_month', 'gmv', 'last_month', 'orders', 'pseudonym', 'region', 'segment', 'units']);
    const dump = JSON.stringify((await conn.runAndReadAll(`SELECT * FROM customer_geography`)).getRowObjectsJson());
    assert.doesNotMatch(dump, /@|Juana|Pérez|\+569|Av\.|-0000-4000-8000-/);
    conn.closeSync();
    inst.closeSync();
  });

  it('the durable consumer lands bus events and the streaming worker loads them; lake in Hive layout', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'embudo-wh-'));
    const bus = testBus(db);
    const a = analyticsFor(db, dir, bus);
    for (const w of a.workers) w.start();
    try {
      const { events, totals } = generateMonth(40, 21);
      await db.transaction((tx) => appendEvents(tx, events.map((e) => ({ type: e.type, version: 1, aggregateType: 'x', aggregateId: e.aggregateId, payload: e.payload }))));
      await waitFor(async () => Number((await a.query(`SELECT coalesce(sum(amount),0) AS g FROM fact_order_line`))[0]?.g) === totals.gmv, 15_000, 'warehouse to catch up');
      assert.equal(await a.readiness['analytics-freshness'](), undefined);
      const r = await a.backfill(new Date('2026-01-01'), new Date('2030-01-01'));
      assert.equal(r.inserted, 0);
      const today = new Date().toISOString().slice(0, 10);
      assert.ok(readdirSync(path.join(dir, 'lake', 'fact_order_line')).includes(`date=${today}`));
      const cat = await a.catalog();
      assert.ok(cat.some((c) => c.table_name === 'fact_order_line' && c.column_name === 'customer_id' && c.pii === 'pseudonymous'));
    } finally {
      for (const w of a.workers) await w.stop();
      await a.close();
      await bus.close();
    }
  });


  it('reconciles ledger postings with the settlement report: matched, missing on either side, amount mismatch, fees', async () => {
    const a = analyticsFor(db, mkdtempSync(path.join(tmpdir(), 'embudo-wh-')));
    try {
      const { events } = generateMonth(4, 13, new Date('2026-11-01T00:00:00Z'));
      await a.ingest(events);
      const posted = await a.query(`SELECT processor_ref, amount FROM fact_ledger_posting WHERE kind = 'payment_captured' AND amount > 0 ORDER BY processor_ref`);
      assert.equal(posted.length, 4);
      const [p0, p1, p2] = posted.map((p) => ({ ref: String(p.processor_ref), amount: Number(p.amount) }));
      await a.importSettlement([
        { reportDate: '2026-11-02', payoutId: 'po-1', processorRef: p0!.ref, amount: p0!.amount, fee: 120 },
        { reportDate: '2026-11-02', payoutId: 'po-1', processorRef: p1!.ref, amount: p1!.amount - 1, fee: 80 },
        { reportDate: '2026-11-02', payoutId: 'po-1', processorRef: 'tbk-unknown', amount: 5000, fee: 10 },
      ]);
      const rec = await a.query(`SELECT processor_ref, status, fee FROM reconciliation ORDER BY processor_ref`);
      const status = Object.fromEntries(rec.map((r) => [String(r.processor_ref), String(r.status)]));
      assert.equal(status[p0!.ref], 'matched');
      assert.equal(status[p1!.ref], 'amount_mismatch');
      assert.equal(status[p2!.ref], 'missing_at_processor');
      assert.equal(status['tbk-unknown'], 'missing_here');
      assert.equal(rec.reduce((s, r) => s + Number(r.fee), 0), 210);
    } finally {
      await a.close();
    }
  });
});
