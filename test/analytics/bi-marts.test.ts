// The BI marts (fact_order and the agg_*_daily tables) are rebuilt from the facts in each load's
// transaction: loads split in any order give the same marts as one load, a warehouse made before
// them gets them when opened, and their sums add up to the facts.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { createAnalytics, type Analytics } from '../../src/analytics/index.js';
import { systemClock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { freshDatabase } from '../support/db.js';
import { generateVaried, shuffled, VARIED } from './generate.js';

const { db } = await freshDatabase();
const BI_MARTS = ['fact_order', 'fact_order_member', 'agg_sales_daily', 'agg_payment_daily', 'agg_decline_minute', 'agg_refund_daily', 'agg_ledger_daily', 'agg_reconciliation_daily', 'agg_fraud_daily'];

const open = (dir: string): Analytics => createAnalytics({ db, logger: createLogger('silent'), metrics: createMetrics(), clock: systemClock, dataDir: dir });

async function marts(a: Analytics): Promise<string> {
  const out: string[] = [];
  for (const t of BI_MARTS) out.push(JSON.stringify(await a.query(`SELECT * FROM ${t} ORDER BY ALL`, { rowLimit: 1_000_000 })));
  return out.join('\n');
}

const n = (v: unknown) => Number(v ?? 0);

describe('analytics: BI marts', () => {
  it('loads in any split and order give the marts of one load; re-running a load changes nothing', async () => {
    const { events, settlement } = generateVaried(120, 5);
    const one = open(mkdtempSync(path.join(tmpdir(), 'embudo-bim-')));
    const split = open(mkdtempSync(path.join(tmpdir(), 'embudo-bim-')));
    try {
      await one.ingest(events);
      await one.importSettlement(settlement);
      const mixed = shuffled(events, 9);
      for (let i = 0; i < 4; i++) await split.ingest(mixed.slice(i * Math.ceil(mixed.length / 4), (i + 1) * Math.ceil(mixed.length / 4)));
      await split.importSettlement(settlement);
      const expected = await marts(one);
      assert.equal(await marts(split), expected);
      await split.ingest(events);
      assert.equal(await marts(split), expected, 'a re-run is idempotent');
    } finally {
      await one.close();
      await split.close();
    }
  });

  it('sums: every category and method member adds up to the facts; "*" is the whole', async () => {
    const a = open(mkdtempSync(path.join(tmpdir(), 'embudo-bim-')));
    try {
      const { events, settlement } = generateVaried(150, 8);
      await a.ingest(events);
      await a.importSettlement(settlement);
      const [all] = await a.query(`SELECT sum(gmv) AS gmv, sum(orders) AS orders, sum(units) AS units FROM agg_sales_daily WHERE category = '*' AND method = '*'`);
      const [facts] = await a.query(`SELECT sum(amount) AS gmv, count(DISTINCT order_id) AS orders, sum(quantity) AS units FROM fact_order_line`);
      assert.deepEqual([n(all?.gmv), n(all?.orders), n(all?.units)], [n(facts?.gmv), n(facts?.orders), n(facts?.units)]);
      const byCategory = await a.query(`SELECT category, sum(gmv) AS gmv FROM agg_sales_daily WHERE category <> '*' AND method = '*' GROUP BY 1 ORDER BY 1`);
      const factsByCategory = await a.query(`SELECT coalesce(nullif(p.category, ''), 'uncategorised') AS category, sum(l.amount) AS gmv
        FROM fact_order_line l LEFT JOIN dim_product p USING (sku) GROUP BY 1 ORDER BY 1`);
      assert.deepEqual(byCategory.map((r) => [r.category, n(r.gmv)]), factsByCategory.map((r) => [r.category, n(r.gmv)]));
      for (const m of VARIED.methods) {
        const [agg] = await a.query(`SELECT sum(gmv) AS gmv FROM agg_sales_daily WHERE category = '*' AND method = $1`, { params: [m] });
        const [ref] = await a.query(`SELECT sum(amount) AS gmv FROM fact_order_line WHERE order_id IN (SELECT order_id FROM fact_payment_attempt WHERE method = $1)`, { params: [m] });
        assert.equal(n(agg?.gmv), n(ref?.gmv), m);
        const [pay] = await a.query(`SELECT sum(attempts) AS attempts FROM agg_payment_daily WHERE category = '*' AND method = $1`, { params: [m] });
        const [payRef] = await a.query(`SELECT count(*) AS attempts FROM fact_payment_attempt WHERE method = $1`, { params: [m] });
        assert.equal(n(pay?.attempts), n(payRef?.attempts), m);
      }
      const [recon] = await a.query(`SELECT sum(items) AS items, sum(fee) AS fee FROM agg_reconciliation_daily WHERE category = '*' AND method = '*'`);
      const [reconRef] = await a.query(`SELECT count(*) AS items, sum(fee) AS fee FROM reconciliation`);
      assert.deepEqual([n(recon?.items), n(recon?.fee)], [n(reconRef?.items), n(reconRef?.fee)]);
      const [fraud] = await a.query(`SELECT sum(decisions) AS d FROM agg_fraud_daily WHERE category = '*' AND method = '*'`);
      const [fraudRef] = await a.query(`SELECT count(*) AS d FROM fact_fraud_decision`);
      assert.equal(n(fraud?.d), n(fraudRef?.d));
      const catalogued = await a.query(`SELECT table_name, lineage FROM catalog_table WHERE table_name LIKE 'agg_%' OR table_name IN ('fact_order', 'fact_order_member') ORDER BY 1`);
      assert.deepEqual(catalogued.map((r) => r.table_name), [...BI_MARTS].sort());
    } finally {
      await a.close();
    }
  });

  it('a warehouse made before the BI marts gets them, from its facts, when opened', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'embudo-bim-'));
    const a = open(dir);
    const { events } = generateVaried(60, 3);
    await a.ingest(events);
    const expected = await marts(a);
    await a.close();
    const inst = await DuckDBInstance.create(path.join(dir, 'warehouse.duckdb'));
    const c = await inst.connect();
    for (const t of BI_MARTS) await c.run(`DROP TABLE ${t}`);
    c.closeSync();
    inst.closeSync();
    const b = open(dir);
    try {
      assert.equal(await marts(b), expected);
    } finally {
      await b.close();
    }
  });
});
