// The dashboards read the `agg_*_daily` marts and `fact_order`; every figure must equal the
// same figure computed straight from the facts (order lines, payment attempts, refunds, ledger,
// fraud decisions, reconciliation) under every combination of the global filters: dates,
// región, category (including SKUs never catalogued), payment method (including orders whose
// first attempt used another method) and location (which orders do not have).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAnalytics, type Analytics } from '../../src/analytics/index.js';
import { accessOf, createBi, type Bi } from '../../src/bi/index.js';
import { systemClock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { freshDatabase } from '../support/db.js';
import { generateVaried, VARIED } from '../analytics/generate.js';

const { db } = await freshDatabase();
const access = accessOf(['cdo']);
let analytics: Analytics;
let bi: Bi;

before(async () => {
  const logger = createLogger('silent');
  const metrics = createMetrics();
  analytics = createAnalytics({ db, logger, metrics, clock: systemClock, dataDir: mkdtempSync(path.join(tmpdir(), 'embudo-bi-agg-')) });
  const { events, settlement } = generateVaried();
  // Two loads, the second with late events: the marts must be the same as from one load.
  await analytics.ingest(events.filter((_, i) => i % 3 !== 0));
  await analytics.ingest(events);
  await analytics.importSettlement(settlement);
  bi = createBi({ db, logger, metrics, clock: systemClock, ports: { warehouse: analytics } });
});
after(async () => analytics.close());

interface F { from: string; to: string; region?: string; category?: string; method?: string; location?: string }

const lit = (v: string) => `'${v.replaceAll("'", "''")}'`;

/** The figures of the earnings, fraud and trends dashboards, computed from the facts only. */
function reference(f: F) {
  const dates = (c: string) => `${c} BETWEEN DATE ${lit(f.from)} AND DATE ${lit(f.to)}`;
  const cat = `(SELECT sku, coalesce(nullif(category, ''), 'uncategorised') AS category FROM dim_product)`;
  const withMethod = (alias = '') => (f.method ? `${alias}order_id IN (SELECT order_id FROM fact_payment_attempt WHERE method = ${lit(f.method)})` : 'true');
  const lineConds = [f.region ? `l.region = ${lit(f.region)}` : 'true', f.category ? `c.category = ${lit(f.category)}` : 'true'];
  const lines = `SELECT l.*, c.category FROM fact_order_line l LEFT JOIN ${cat} c ON c.sku = l.sku
    WHERE ${dates('l.date_key')} AND ${lineConds.join(' AND ')} AND ${withMethod('l.')}`;
  // An order is in scope when one of its lines matches región and category and one of its attempts the method.
  const byLines = `order_id IN (SELECT l.order_id FROM fact_order_line l LEFT JOIN ${cat} c ON c.sku = l.sku WHERE ${lineConds.join(' AND ')})`;
  const scope = `${byLines} AND ${withMethod()}`;
  const payments = `SELECT * FROM fact_payment_attempt WHERE ${dates('date_key')} AND ${f.method ? `method = ${lit(f.method)}` : 'true'} AND ${byLines}`;
  const recon = `SELECT * FROM reconciliation WHERE ${dates('date_key')} AND ${f.region || f.category || f.method
    ? `processor_ref IN (SELECT processor_ref FROM fact_payment_attempt WHERE processor_ref IS NOT NULL AND ${scope})` : 'true'}`;
  const fraud = `SELECT * FROM fact_fraud_decision WHERE ${dates('date_key')} AND ${scope}`;
  const band = `CAST(least(90, CAST(floor(score / 10) * 10 AS INTEGER)) AS VARCHAR) || '–' || CAST(least(90, CAST(floor(score / 10) * 10 AS INTEGER)) + 9 + CASE WHEN score >= 90 THEN 1 ELSE 0 END AS VARCHAR)`;
  const kpi = (sql: string) => ({ kind: 'kpi' as const, sql });
  const chart = (sql: string) => ({ kind: 'chart' as const, sql });
  return {
    earnings: {
      gmv: kpi(`SELECT coalesce(sum(amount), 0) AS value FROM (${lines})`),
      refunds: kpi(`SELECT coalesce(sum(amount), 0) AS value FROM fact_refund WHERE ${dates('date_key')} AND ${scope}`),
      fees: kpi(`SELECT coalesce(sum(fee), 0) AS value FROM (${recon})`),
      chargebacks: kpi(`SELECT coalesce(sum(amount), 0) AS value FROM fact_ledger_posting WHERE account = 'chargebacks' AND ${dates('date_key')} AND ${scope}`),
      net_revenue: kpi(`SELECT (SELECT coalesce(sum(amount), 0) FROM (${payments}) WHERE status = 'approved')
        - (SELECT coalesce(sum(amount), 0) FROM fact_refund WHERE ${dates('date_key')} AND ${scope})
        - (SELECT coalesce(sum(fee), 0) FROM (${recon}))
        - (SELECT coalesce(sum(amount), 0) FROM fact_ledger_posting WHERE account = 'chargebacks' AND ${dates('date_key')} AND ${scope}) AS value`),
      gmv_by_day: chart(`SELECT d AS label, coalesce(sum(a) FILTER (WHERE k = 'gmv'), 0) AS "GMV", coalesce(sum(a) FILTER (WHERE k = 'approved'), 0) AS "Approved" FROM (
        SELECT strftime(date_key, '%Y-%m-%d') AS d, amount AS a, 'gmv' AS k FROM (${lines})
        UNION ALL SELECT strftime(date_key, '%Y-%m-%d'), amount, 'approved' FROM (${payments}) WHERE status = 'approved') GROUP BY 1`),
      ledger_vs_processor: chart(`SELECT strftime(date_key, '%Y-%m-%d') AS label, coalesce(sum(ledger_amount), 0) AS "Ledger", coalesce(sum(processor_amount), 0) AS "Processor" FROM (${recon}) GROUP BY 1`),
      by_payout: chart(`SELECT coalesce(payout_id, '(not paid out)') AS label, coalesce(sum(ledger_amount), 0) AS "Ledger", coalesce(sum(processor_amount), 0) AS "Processor", sum(fee) AS "Fees" FROM (${recon}) GROUP BY 1`),
      breaks: chart(`SELECT status AS label, count(*) AS "Breaks", sum(abs(coalesce(ledger_amount, 0) - coalesce(processor_amount, 0))) AS "Difference" FROM (${recon}) WHERE status <> 'matched' GROUP BY 1`),
    },
    fraud: {
      approval_rate: kpi(`SELECT coalesce(count(*) FILTER (WHERE status = 'approved') / nullif(count(*) FILTER (WHERE status IN ('approved', 'rejected')), 0), 0) AS value FROM (${payments})`),
      declined: kpi(`SELECT count(*) AS value FROM (${payments}) WHERE status = 'rejected'`),
      under_review: kpi(`SELECT count(*) AS value FROM (${fraud}) WHERE decision = 'review'`),
      blocked_amount: kpi(`SELECT coalesce(sum(l.amount), 0) AS value FROM fact_order_line l LEFT JOIN ${cat} c ON c.sku = l.sku
        WHERE ${lineConds.join(' AND ')} AND ${withMethod('l.')} AND l.order_id IN (SELECT order_id FROM (${fraud}) WHERE decision = 'block')`),
      declines_by_reason: chart(`SELECT coalesce(reason, 'unknown') AS label, count(*) AS "Declines" FROM (${payments}) WHERE status = 'rejected' GROUP BY 1`),
      decisions: chart(`SELECT decision AS label, count(*) AS "Orders" FROM (${fraud}) GROUP BY 1`),
      score_distribution: chart(`SELECT ${band} AS label, count(*) AS "Orders" FROM (${fraud}) GROUP BY 1`),
      card_testing: chart(`SELECT strftime(date_trunc('minute', occurred_at), '%Y-%m-%d %H:%M') AS label, count(*) AS "Declines" FROM (${payments})
        WHERE status = 'rejected' GROUP BY 1 HAVING count(*) >= 5`),
    },
    trends: {
      orders: kpi(`SELECT count(DISTINCT order_id) AS value FROM (${lines})`),
      aov: kpi(`SELECT coalesce(round(sum(amount) / nullif(count(DISTINCT order_id), 0)), 0) AS value FROM (${lines})`),
      units: kpi(`SELECT coalesce(sum(quantity), 0) AS value FROM (${lines})`),
      customers: kpi(`SELECT count(DISTINCT customer_id) AS value FROM (${lines})`),
      by_week: chart(`SELECT strftime(date_trunc('week', date_key), '%Y-%m-%d') AS label, sum(amount) AS "GMV" FROM (${lines}) GROUP BY 1`),
      by_hour: chart(`SELECT lpad(CAST(hour(occurred_at) AS VARCHAR), 2, '0') AS label, sum(amount) AS "GMV" FROM (${lines}) GROUP BY 1`),
      by_weekday: chart(`SELECT CAST(isodow(date_key) AS VARCHAR) || ' ' || dayname(date_key) AS label, sum(amount) AS "GMV" FROM (${lines}) GROUP BY 1`),
      by_category: chart(`SELECT category AS label, sum(amount) AS "GMV" FROM (${lines}) GROUP BY 1`),
      by_region: chart(`SELECT coalesce(region, 'unknown') AS label, sum(amount) AS "GMV" FROM (${lines}) GROUP BY 1`),
      new_vs_returning: chart(`SELECT CASE WHEN l.occurred_at <= d.first_order_at THEN 'new' ELSE 'returning' END AS label,
          count(DISTINCT l.order_id) AS "Orders", sum(l.amount) AS "GMV" FROM (${lines}) l JOIN dim_customer d USING (customer_id) GROUP BY 1`),
    },
  };
}

/** A panel's figures as label → measure → number (KPIs under the label `value`). */
function figures(rows: Record<string, unknown>[], kind: 'kpi' | 'chart'): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const r of rows) {
    const label = kind === 'kpi' ? 'value' : String(r.label);
    out[label] = Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'label').map(([k, v]) => [k, Math.round(Number(v) * 1e9) / 1e9]));
  }
  return out;
}

const RANGES = [{ from: '2026-11-01', to: '2026-11-30' }, { from: '2026-11-05', to: '2026-11-11' }];
const COMBOS: F[] = RANGES.flatMap((r) => [undefined, 'Biobío'].flatMap((region) => [undefined, 'tecno', 'ropa', 'uncategorised'].flatMap((category) =>
  [undefined, ...VARIED.methods.slice(0, 2)].map((method) => ({ ...r, ...(region ? { region } : {}), ...(category ? { category } : {}), ...(method ? { method } : {}) })))));

describe('bi: aggregate-backed panels equal the facts', () => {
  it('the fixture exercises what the filters must get right', async () => {
    const [o] = await analytics.query(`SELECT count(*) FILTER (WHERE len(methods) = 0) AS no_method, count(*) FILTER (WHERE len(categories) > 1) AS multi_category,
        count(*) FILTER (WHERE list_contains(categories, 'uncategorised')) AS uncategorised FROM fact_order`);
    assert.ok(Number(o?.no_method) > 0 && Number(o?.multi_category) > 10 && Number(o?.uncategorised) > 0, JSON.stringify(o));
    const [two] = await analytics.query(`SELECT count(*) AS n FROM (SELECT order_id FROM fact_payment_attempt GROUP BY 1 HAVING count(DISTINCT status) > 1)`);
    assert.ok(Number(two?.n) > 0, 'some orders were declined before being approved');
    const [late] = await analytics.query(`SELECT count(*) AS n FROM fact_fraud_decision f JOIN fact_order o USING (order_id) WHERE f.date_key > o.date_key`);
    assert.ok(Number(late?.n) > 0, 'some fraud decisions fall on the day after the order');
  });

  for (const f of COMBOS) {
    it(`${f.from}..${f.to} ${f.region ?? '*'} / ${f.category ?? '*'} / ${f.method ?? '*'}`, async () => {
      const ref = reference(f);
      for (const [dashboard, panels] of Object.entries(ref)) {
        // Location does not apply to order, payment and fraud panels: setting it changes nothing.
        const [plain, located] = await Promise.all([bi.dashboards.open(dashboard, f, access), bi.dashboards.open(dashboard, { ...f, location: 'tienda-2' }, access)]);
        for (const [id, spec] of Object.entries(panels)) {
          const panel = plain.panels.find((p) => p.id === id);
          assert.ok(panel, `${dashboard}/${id} exists`);
          assert.equal(panel.error, undefined, `${dashboard}/${id} failed`);
          const expected = figures(await analytics.query(spec.sql), spec.kind);
          assert.deepEqual(figures(panel.rows, spec.kind), expected, `${dashboard}/${id} under ${JSON.stringify(f)}`);
          assert.deepEqual(figures(located.panels.find((p) => p.id === id)?.rows ?? [], spec.kind), expected, `${dashboard}/${id}: location does not apply`);
        }
        assert.match(plain.dashboard.filterNotes?.location ?? '', /no fulfilment location/);
        assert.ok(!plain.dashboard.filters.includes('location'));
      }
    });
  }

  it('drilling into an aggregate-backed element returns the fact rows that add up to it', async () => {
    const f = { from: '2026-11-01', to: '2026-11-30', category: 'tecno', method: 'webpay' };
    const opened = await bi.dashboards.open('trends', f, access);
    for (const r of opened.panels.find((p) => p.id === 'by_region')?.rows ?? []) {
      const drill = await bi.dashboards.drill('trends', 'by_region', String(r.label), f, access);
      assert.equal(drill.rows.reduce((n, x) => n + Number(x.amount), 0), Number(r.GMV), `región ${String(r.label)}`);
    }
    const orders = opened.panels.find((p) => p.id === 'orders')?.rows[0]?.value;
    assert.ok(Number(orders) > 0);
    assert.equal((await bi.dashboards.drill('trends', 'orders', undefined, f, access)).rows.length, Number(orders));
  });

  it('location filters every stock panel, and the category there is the warehouse catalogue\'s', async () => {
    for (const location of [undefined, ...VARIED.locations]) {
      for (const category of [undefined, 'ropa', 'uncategorised']) {
        const f = { from: '2026-11-01', to: '2026-11-30', ...(location ? { location } : {}), ...(category ? { category } : {}) };
        const opened = await bi.dashboards.open('stock', f, access);
        const where = [location ? `location_id = ${lit(location)}` : 'true',
          category ? `sku IN (SELECT sku FROM dim_product WHERE coalesce(nullif(category, ''), 'uncategorised') = ${lit(category)})` : 'true'].join(' AND ');
        const [ref] = await analytics.query(`SELECT count(*) AS n, sum(on_hand) AS units, count(*) FILTER (WHERE available <= 0) AS out FROM stock_on_hand WHERE ${where}`);
        const kpi = (id: string) => Number(opened.panels.find((p) => p.id === id)?.rows[0]?.value);
        assert.deepEqual([kpi('sku_locations'), kpi('units_on_hand'), kpi('stockouts')], [Number(ref?.n), Number(ref?.units ?? 0), Number(ref?.out)], JSON.stringify(f));
        const table = opened.panels.find((p) => p.id === 'stock_table')?.rows ?? [];
        assert.ok(table.every((r) => !location || r.location_id === location));
      }
    }
  });
});
