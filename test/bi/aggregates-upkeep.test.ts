// The BI marts kept up incrementally by each load (src/analytics/aggregates-upkeep.ts) against
// the same marts rebuilt whole from the facts: equal after loads in shuffled order (late payment
// notices, fraud decisions after midnight, refunds and chargebacks weeks later, a customer's
// earlier order arriving after their later ones, a SKU recategorised), settlement imports (one
// repeated, one before the payments it reports), and a changed definition rebuilds them whole.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createAnalytics, type Analytics } from '../../src/analytics/index.js';
import { AGGREGATES } from '../../src/analytics/aggregates.js';
import { openWarehouse } from '../../src/analytics/warehouse.js';
import type { EventEnvelope } from '../../src/events/index.js';
import { manualClock } from '../../src/platform/clock.js';
import type { Database } from '../../src/platform/db.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { generateVaried, shuffled } from '../analytics/generate.js';

// The upkeep reads only the warehouse: nothing here reaches PostgreSQL.
const noDatabase = {} as Database;

function open(dataDir: string): Analytics {
  return createAnalytics({ db: noDatabase, logger: createLogger('silent'), metrics: createMetrics(), clock: manualClock(new Date('2026-11-30T12:00:00Z')), dataDir });
}

/** Rows of each BI mart not in its whole rebuild, and the other way round (0 each when equal). */
async function drift(a: Analytics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of AGGREGATES) {
    const [r] = await a.query(`SELECT (SELECT count(*) FROM (SELECT * FROM ${m.table} EXCEPT ALL SELECT * FROM (${m.sql})))
      + (SELECT count(*) FROM (SELECT * FROM (${m.sql}) EXCEPT ALL SELECT * FROM ${m.table})) AS n`);
    out[m.table] = Number(r?.n);
  }
  return out;
}

const zero = Object.fromEntries(AGGREGATES.map((m) => [m.table, 0]));

/** The BI marts' table oids: a whole rebuild (CREATE OR REPLACE) gives each a new one. */
async function oids(a: Analytics): Promise<string> {
  const r = await a.query(`SELECT string_agg(table_name || ':' || table_oid, ',' ORDER BY table_name) AS o FROM duckdb_tables()
    WHERE table_name IN (${AGGREGATES.map((m) => `'${m.table}'`).join(', ')})`);
  return String(r[0]?.o);
}

describe('bi: incremental upkeep of the aggregate marts', () => {
  it('equals a whole rebuild after loads with late events, refunds, recategorisation and settlement imports', async () => {
    const a = open(mkdtempSync(path.join(tmpdir(), 'embudo-bi-upkeep-')));
    try {
      const { events, settlement } = generateVaried(240, 13);
      const byTime = [...events].sort((x, y) => x.occurredAt.getTime() - y.occurredAt.getTime());
      // The first load: the first week's orders (whole build), without some of their payment
      // notices, fraud decisions and the SKU recategorisation (they come late).
      const cut = Date.parse('2026-11-08T00:00:00Z');
      const late = (e: EventEnvelope, i: number) => (e.type.startsWith('payments.payment_') || e.type.startsWith('fraud.')) && i % 5 === 0;
      const first = byTime.filter((e, i) => e.occurredAt.getTime() < cut && !late(e, i) && !(e.type === 'catalog.sku_changed' && e.occurredAt.getTime() > Date.parse('2026-11-01')));
      const rest = shuffled(byTime.filter((e) => !first.includes(e)), 21);
      const initial = await a.ingest(first);
      assert.equal(initial.inserted, first.length);
      assert.deepEqual(await drift(a), zero, 'after the first (whole) load');
      const before = await oids(a);

      // Later loads in shuffled order: days out of order, customers' earlier orders late.
      const [fo] = await a.query(`SELECT count(*) AS n, count(*) FILTER (WHERE customer_kind = 'new') AS new FROM fact_order`);
      let loads = 0;
      for (let i = 0; i < rest.length; i += 60) {
        await a.ingest(rest.slice(i, i + 60));
        loads++;
        if (loads === 4) {
          // Part of the settlement report, before some of the payments it reports are loaded.
          await a.importSettlement(settlement.slice(0, Math.floor(settlement.length / 2)));
          assert.deepEqual(await drift(a), zero, 'after a settlement import between loads');
        }
        if (loads % 5 === 0) assert.deepEqual(await drift(a), zero, `after load ${loads}`);
      }
      assert.ok(loads >= 10, `${loads} incremental loads`);
      await a.importSettlement(settlement);
      // The same report again: nothing changes.
      await a.importSettlement(settlement.slice(0, 10));
      assert.deepEqual(await drift(a), zero, 'after every load and the settlement imports');
      assert.equal(await oids(a), before, 'the loads kept the marts up in place (no whole rebuild)');

      // What the loads had to get right actually happened.
      const [after] = await a.query(`SELECT count(*) AS n, count(*) FILTER (WHERE customer_kind = 'new') AS new FROM fact_order`);
      assert.ok(Number(after?.n) > Number(fo?.n));
      const [moved] = await a.query(`SELECT count(*) AS n FROM fact_order o JOIN dim_customer d USING (customer_id) WHERE d.first_order_at < TIMESTAMPTZ '2026-11-08 00:00:00+00'
        AND o.customer_kind = 'returning' AND o.date_key < DATE '2026-11-08'`);
      assert.ok(Number(moved?.n) > 0, 'orders of the first week turned returning');
      const [ropa] = await a.query(`SELECT count(*) AS n FROM fact_order_line l JOIN fact_order o USING (order_id) WHERE l.sku = 'V-2' AND list_contains(o.categories, 'ropa')`);
      assert.ok(Number(ropa?.n) > 0, 'V-2 was recategorised to ropa after its orders were loaded');
      const [recon] = await a.query(`SELECT count(*) FILTER (WHERE status = 'matched') AS matched, count(*) FILTER (WHERE status = 'missing_here') AS here FROM reconciliation`);
      assert.ok(Number(recon?.matched) > 0 && Number(recon?.here) > 0, JSON.stringify(recon));
      const [refunds] = await a.query(`SELECT sum(amount) AS n FROM agg_refund_daily WHERE category = '*' AND method = '*'`);
      const [facts] = await a.query(`SELECT sum(amount) AS n FROM fact_refund`);
      assert.equal(Number(refunds?.n), Number(facts?.n));
      assert.ok(Number(facts?.n) > 0);
    } finally {
      await a.close();
    }
  });

  it('a warehouse whose marts were built by other definitions has them rebuilt whole when it opens', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'embudo-bi-upkeep-def-'));
    const a = open(dir);
    const { events } = generateVaried(60, 5);
    await a.ingest(events);
    await a.close();
    const w = await openWarehouse(path.join(dir, 'warehouse.duckdb'));
    await w.conn.run(`UPDATE agg_state SET value = 'older' WHERE name = 'definition'; DELETE FROM agg_sales_daily WHERE date_key < DATE '2026-11-10'`);
    w.close();
    const b = open(dir);
    try {
      assert.deepEqual(await drift(b), zero);
      const [d] = await b.query(`SELECT value FROM agg_state WHERE name = 'definition'`);
      assert.notEqual(d?.value, 'older');
    } finally {
      await b.close();
    }
  });
});
