// The BI's dashboards over a big warehouse: 10 million order lines written by the traffic
// simulator's bulk generator (src/simulate/warehouse.ts: the simulator's catalogue, customers,
// regions, payment-method mix, daily/weekly cycles, peaks, outcomes, refunds and fraud episodes,
// drawn set-based in DuckDB from a seed), with payments, refunds, ledger, fraud decisions,
// settlement reports and stock from the same model. Each dashboard is opened with every global
// filter set (30-day window, category, región, payment method, location) through the same
// service the HTTP API uses; p95 of the whole dashboard (all its panels) per dashboard. Then a
// small streaming load on top of the 10M-line warehouse (new orders with their payments, fraud
// decisions and postings, late refunds, cash vouchers paid days later, chargebacks, a settlement
// import) and the time the BI marts' incremental upkeep takes for it (rolled back: the cached
// file stays as generated). The generated file is cached under .bench-data/.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { prepareAggregateUpkeep, markSettlement, upkeepAggregates } from '../src/analytics/aggregates-upkeep.js';
import { rebuildAggregates } from '../src/analytics/aggregates.js';
import { RECONCILIATION_SQL } from '../src/analytics/etl.js';
import { openWarehouse, rows } from '../src/analytics/warehouse.js';
import { createAnalytics } from '../src/analytics/index.js';
import { accessOf, createBi, type DashboardId } from '../src/bi/index.js';
import { CHILE_REGIONS } from '../src/customers/index.js';
import { systemClock } from '../src/platform/clock.js';
import type { Database } from '../src/platform/db.js';
import { createLogger } from '../src/platform/log.js';
import { createMetrics } from '../src/platform/metrics.js';
import { generateWarehouse, SIM_LOCATION, type BulkResult } from '../src/simulate/index.js';

const LINES = Number(process.env.BENCH_BI_LINES ?? 10_000_000);
const ROUNDS = Number(process.env.BENCH_BI_ROUNDS ?? 20);
/** New orders in the small load (about a quarter of an hour of this warehouse's traffic at 10M lines a year). */
const LOAD_ORDERS = Number(process.env.BENCH_BI_LOAD_ORDERS ?? 100);
// BENCH_BI_WHOLE=1 also times a whole rebuild of the BI marts on the same warehouse (what every load did before).
const SEED = 'bench-bi';
const FROM = new Date('2025-12-01T00:00:00Z');
const TO = new Date('2026-12-01T00:00:00Z');
const DIR = path.resolve(import.meta.dirname, '..', '.bench-data');
// v3: written by the simulator's bulk generator.
const FILE = path.join(DIR, `bi-v3-${SEED}-${LINES}.duckdb`);
const REGIONS = CHILE_REGIONS.map((r) => r.name);
const METHODS = ['webpay', 'oneclick', 'mercadopago_card', 'mercadopago_cash'];

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

interface Generated { bulk: BulkResult; generatedMs: number; martsMs: number }

/** Writes the simulator's warehouse, then opens it through the analytics context (which derives reconciliation and the BI marts). */
async function generate(file: string): Promise<Generated> {
  const started = performance.now();
  const tmp = `${file}.tmp`;
  rmSync(tmp, { force: true });
  const inst = await DuckDBInstance.create(tmp);
  const c = await inst.connect();
  const bulk = await generateWarehouse(c, { seed: SEED, lines: LINES, from: FROM, to: TO });
  await c.run('CHECKPOINT');
  c.closeSync();
  inst.closeSync();
  // Opening the warehouse through the analytics context builds the BI marts whole from the facts.
  const martsStarted = performance.now();
  const a = createAnalytics({ db: {} as Database, logger: createLogger('silent'), metrics: createMetrics(), clock: systemClock, dataDir: DIR, warehouseFile: tmp });
  await a.query('SELECT 1 AS ok');
  await a.close();
  const martsMs = performance.now() - martsStarted;
  renameSync(tmp, file);
  return { bulk, generatedMs: performance.now() - started, martsMs };
}

/** Generates the cached warehouse when missing (run alone before timing anything). */
export async function ensureData(): Promise<Generated | undefined> {
  mkdirSync(DIR, { recursive: true });
  if (existsSync(FILE)) return undefined;
  process.stderr.write(`generating ${LINES.toLocaleString('en')} simulated order lines into ${FILE} (cached for later runs)…\n`);
  return generate(FILE);
}

/**
 * A small load on top of the warehouse, applied to the facts the way the ETL's merge leaves
 * them, with its window of events (the keys upkeep reads): LOAD_ORDERS new orders just after
 * the last one (baskets, customers and outcomes resampled from the simulated orders, so a few
 * are returning customers), their attempts, captures and fraud decisions; late refunds of
 * orders weeks old; cash vouchers paid days after their order; chargebacks; and a settlement
 * import. Times the BI marts' upkeep (before + after the facts change) and, for comparison,
 * the reconciliation rebuild the ETL does on every load and a whole rebuild of the BI marts.
 */
async function smallLoad(file: string): Promise<Record<string, number>> {
  const w = await openWarehouse(file);
  const c = w.conn;
  const one = async (sql: string) => Number(Object.values((await rows(c, sql))[0] ?? {})[0]);
  try {
    await c.run('BEGIN TRANSACTION');
    const [last] = await rows(c, `SELECT max(occurred_at) AS t FROM fact_order_line`);
    const t0 = `TIMESTAMPTZ '${String(last?.t)}'`;
    // The load's orders: resampled from the simulated ones, moved to just after the last.
    await c.run(`CREATE TEMP TABLE bl_src AS SELECT order_id AS src, 'bl-' || row_number() OVER () AS order_id, row_number() OVER () AS k
      FROM (SELECT DISTINCT order_id FROM fact_order_line USING SAMPLE reservoir(${LOAD_ORDERS} ROWS) REPEATABLE (7))`);
    await c.run(`INSERT INTO fact_order_line SELECT s.order_id, l.line_no, l.event_id, l.customer_id, l.sku, l.quantity, l.unit_price, l.amount, l.comuna, l.region,
        l.region_code, l.payment_method, CAST(${t0} + to_seconds(s.k * 6) AS DATE), ${t0} + to_seconds(s.k * 6) FROM fact_order_line l JOIN bl_src s ON s.src = l.order_id`);
    await c.run(`CREATE TEMP TABLE bl_new AS SELECT order_id, any_value(customer_id) AS customer_id, any_value(payment_method) AS method, sum(amount) AS total,
        min(occurred_at) AS ts FROM fact_order_line WHERE order_id LIKE 'bl-%' GROUP BY order_id`);
    // Late events on older orders: refunds (weeks), cash vouchers paid (days), chargebacks.
    await c.run(`CREATE TEMP TABLE bl_late AS SELECT a.*, row_number() OVER () AS k FROM (SELECT * FROM fact_payment_attempt
      WHERE status = 'approved' AND date_key < CAST(${t0} AS DATE) - 10 USING SAMPLE reservoir(30 ROWS) REPEATABLE (11)) a`);
    await c.run(`CREATE TEMP TABLE bl_cash AS SELECT * FROM fact_payment_attempt WHERE method = 'mercadopago_cash' AND status = 'approved'
      AND date_key >= CAST(${t0} AS DATE) - 3 LIMIT 10`);
    // The window: the events behind these changes (only the keys matter to upkeep).
    await c.run(`CREATE TEMP TABLE stg_window AS SELECT * FROM stg_events LIMIT 0`);
    const ev = (type: string, payload: string, from: string) => `INSERT INTO temp.stg_window SELECT uuid(), 0, '${type}', 1, NULL, ${t0}, CAST(${payload} AS JSON), now() FROM ${from}`;
    await c.run(ev('checkout.order_placed', `json_object('orderId', order_id)`, 'bl_new'));
    await c.run(ev('payments.payment_approved', `json_object('attemptId', 'att-' || order_id, 'orderId', order_id)`, 'bl_new'));
    await c.run(ev('payments.ledger_posted', `json_object('attemptId', 'att-' || order_id)`, 'bl_new'));
    await c.run(ev('fraud.decision_made', `json_object('orderId', order_id)`, 'bl_new'));
    await c.run(ev('payments.refund_succeeded', `json_object('refundId', 'bl-rf-' || k, 'orderId', order_id, 'attemptId', attempt_id)`, 'bl_late WHERE k <= 20'));
    await c.run(ev('payments.ledger_posted', `json_object('attemptId', attempt_id)`, 'bl_late'));
    await c.run(ev('payments.payment_approved', `json_object('attemptId', attempt_id, 'orderId', order_id)`, 'bl_cash'));
    const timings: Record<string, number> = {};
    let t = performance.now();
    const plan = await prepareAggregateUpkeep(c, true);
    timings.prepare = performance.now() - t;
    // The facts as the ETL's merge leaves them.
    await c.run(`INSERT INTO fact_payment_attempt SELECT 'att-' || order_id, order_id, 'approved', NULL, total, method,
        CASE WHEN method IN ('webpay', 'oneclick') THEN 'transbank' ELSE 'mercadopago' END, 'bl-ref-' || order_id, NULL, CAST(ts + INTERVAL 30 SECOND AS DATE), ts + INTERVAL 30 SECOND FROM bl_new`);
    await c.run(`INSERT INTO fact_ledger_posting BY NAME SELECT 'cap-' || order_id || ':' || i AS posting_id, 'cap-' || order_id AS transaction_id, i::INTEGER AS entry_no,
        'payment_captured' AS kind, CASE WHEN i = 1 THEN 'processor_clearing:transbank' ELSE 'sales_revenue' END AS account, CASE WHEN i = 1 THEN total ELSE -total END AS amount,
        'att-' || order_id AS attempt_id, order_id, 'bl-ref-' || order_id AS processor_ref, CAST(ts AS DATE) AS date_key, ts AS occurred_at FROM bl_new, range(1, 3) r(i)`);
    await c.run(`INSERT INTO fact_fraud_decision BY NAME SELECT order_id, 'allow' AS decision, 12.0 AS score, CAST(ts AS DATE) AS date_key, ts AS occurred_at FROM bl_new`);
    await c.run(`INSERT INTO fact_refund BY NAME SELECT 'bl-rf-' || k AS refund_id, order_id, attempt_id, amount // 2 AS amount, 'partial' AS refund_type,
        CAST(${t0} AS DATE) AS date_key, ${t0} AS occurred_at FROM bl_late WHERE k <= 20`);
    await c.run(`INSERT INTO fact_ledger_posting BY NAME SELECT 'bl-cb-' || k || ':' || i AS posting_id, 'bl-cb-' || k AS transaction_id, i::INTEGER AS entry_no, 'chargeback' AS kind,
        CASE WHEN i = 1 THEN 'chargebacks' ELSE 'processor_clearing:' || processor END AS account, CASE WHEN i = 1 THEN amount ELSE -amount END AS amount,
        attempt_id, order_id, processor_ref, CAST(${t0} AS DATE) AS date_key, ${t0} AS occurred_at FROM bl_late, range(1, 3) r(i) WHERE k > 20`);
    await c.run(`UPDATE fact_payment_attempt SET occurred_at = ${t0}, date_key = CAST(${t0} AS DATE) WHERE attempt_id IN (SELECT attempt_id FROM bl_cash)`);
    // The ETL rebuilds these two whole on every load (outside the BI marts).
    t = performance.now();
    await c.run(`CREATE OR REPLACE TABLE dim_customer AS SELECT customer_id, any_value(kind) AS kind, min(registered_at) AS registered_at, min(first_order_at) AS first_order_at, sum(orders) AS orders FROM (
        SELECT * FROM dim_customer UNION ALL SELECT customer_id, 'guest', ts, ts, 1 FROM bl_new) GROUP BY customer_id`);
    timings.dim_customer = performance.now() - t;
    // A settlement import (yesterday's payout) on top.
    const refs = (await rows(c, `SELECT processor_ref FROM fact_payment_attempt WHERE status = 'approved' AND processor_ref IS NOT NULL
      AND processor_ref NOT IN (SELECT processor_ref FROM settlement_report) ORDER BY occurred_at DESC LIMIT 50`)).map((r) => String(r.processor_ref));
    t = performance.now();
    await markSettlement(c, refs);
    timings.mark = performance.now() - t;
    await c.run(`INSERT INTO settlement_report SELECT CAST(${t0} AS DATE), 'bench-payout', processor_ref, amount, amount // 100 FROM fact_payment_attempt
      WHERE processor_ref IN (SELECT unnest(string_split('${refs.join(',')}', ',')))`);
    t = performance.now();
    await c.run(`CREATE OR REPLACE TABLE reconciliation AS ${RECONCILIATION_SQL}`);
    timings.reconciliation = performance.now() - t;
    t = performance.now();
    const done = await upkeepAggregates(c, plan);
    timings.upkeep = performance.now() - t;
    if (done.mode !== 'incremental') throw new Error(`upkeep went ${done.mode}`);
    process.stderr.write(`upkeep: prepare ${Math.round(timings.prepare)} ms, mark ${Math.round(timings.mark)} ms, then ${JSON.stringify(done.timings)}\n`);
    const orders = await one(`SELECT count(*) FROM fact_order WHERE order_id LIKE 'bl-%'`);
    if (orders !== LOAD_ORDERS) throw new Error(`${orders} of the load's ${LOAD_ORDERS} orders in fact_order`);
    // The whole rebuild every load did before (minutes at 10M lines): only when asked.
    if (process.env.BENCH_BI_WHOLE === '1') {
      t = performance.now();
      await rebuildAggregates(c);
      timings.whole = performance.now() - t;
    }
    return {
      incremental_upkeep_ms: Math.round(timings.prepare + timings.mark + timings.upkeep),
      upkeep_orders: done.orders,
      upkeep_days: done.days,
      ...(timings.whole !== undefined ? { whole_rebuild_ms: Math.round(timings.whole) } : {}),
      etl_reconciliation_rebuild_ms: Math.round(timings.reconciliation),
    };
  } finally {
    await c.run('ROLLBACK').catch(() => undefined);
    w.close();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const generated = await ensureData();
  const logger = createLogger('silent');
  const metrics = createMetrics();
  // The bench reads only the warehouse; nothing reaches PostgreSQL (lagMs is not asked for).
  const noDatabase = {} as Database;
  const analytics = createAnalytics({ db: noDatabase, logger, metrics, clock: systemClock, dataDir: DIR, warehouseFile: FILE });
  const catalogue = await analytics.query(`SELECT sku, category FROM dim_product`, { rowLimit: 1_000_000 });
  const categories = new Map(catalogue.map((r) => [String(r.sku), String(r.category)] as [string, string]));
  const categoryList = [...new Set(categories.values())].sort();
  const bi = createBi({
    db: noDatabase, logger, metrics, clock: systemClock,
    ports: { warehouse: { query: analytics.query, queryParquet: analytics.queryParquet, lagMs: async () => 0 }, skuCategories: async () => categories },
    panelTimeoutMs: 30_000,
  });
  const access = accessOf(['cdo']);
  const [count] = await analytics.query(`SELECT count(*) AS n FROM fact_order_line`);
  const lines = Number(count?.n);

  // Every filter set: a 30-day window somewhere in the year, one category, one región, one method, one location.
  let seed = 1;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const filters = () => {
    const start = new Date(Date.UTC(2025, 11, 1) + rand(330) * 86_400_000);
    const end = new Date(start.getTime() + 29 * 86_400_000);
    return {
      from: start.toISOString().slice(0, 10), to: end.toISOString().slice(0, 10),
      category: categoryList[rand(categoryList.length)] ?? 'sim-despensa', region: REGIONS[rand(REGIONS.length)] ?? 'Metropolitana de Santiago',
      method: METHODS[rand(METHODS.length)] ?? 'webpay', location: SIM_LOCATION.id,
    };
  };

  const dashboards: DashboardId[] = ['earnings', 'fraud', 'trends', 'stock', 'operations'];
  const p95: Record<string, number> = {};
  const p50: Record<string, number> = {};
  const slowestPanel: Record<string, string> = {};
  for (const id of dashboards) {
    for (let i = 0; i < 2; i++) await bi.dashboards.open(id, filters(), access); // warm-up
    const times: number[] = [];
    const panelTimes = new Map<string, number[]>();
    for (let i = 0; i < ROUNDS; i++) {
      const t = performance.now();
      const r = await bi.dashboards.open(id, filters(), access);
      times.push(performance.now() - t);
      for (const p of r.panels) {
        if (p.error && p.drillable !== false && p.measures.length + (p.chart === 'table' ? 1 : 0) > 0) throw new Error(`${id}/${p.id} ${p.error}`);
        panelTimes.set(p.id, [...(panelTimes.get(p.id) ?? []), p.ms]);
      }
    }
    p95[id] = Math.round(percentile(times, 95));
    p50[id] = Math.round(percentile(times, 50));
    const worst = [...panelTimes].map(([k, v]) => [k, percentile(v, 95)] as const).sort((a, b) => b[1] - a[1])[0];
    slowestPanel[id] = worst ? `${worst[0]} ${Math.round(worst[1])} ms` : '';
    process.stderr.write(`${id}: p50 ${p50[id]} ms, p95 ${p95[id]} ms (slowest panel p95: ${slowestPanel[id]})\n`);
  }
  await analytics.close();
  const load = await smallLoad(FILE);
  process.stderr.write(`small load (${LOAD_ORDERS} orders, late refunds, payments and chargebacks, a settlement import): ${JSON.stringify(load)}\n`);
  return {
    data: `traffic simulator bulk generator (seed ${SEED})`,
    order_lines: lines,
    rounds_per_dashboard: ROUNDS,
    filters: 'all: 30-day window, category, región, payment method, location',
    generated_ms: generated ? Math.round(generated.generatedMs) : 'cached',
    simulated: generated ? generated.bulk : 'cached',
    bi_marts_build_ms: generated ? Math.round(generated.martsMs) : 'cached',
    small_load_orders: LOAD_ORDERS,
    ...load,
    load_average: os.loadavg().map((l) => Math.round(l * 10) / 10),
    cores: os.availableParallelism(),
    p50_ms: p50,
    slowest_panel_p95: slowestPanel,
    p95_ms: p95,
    worst_p95_ms: Math.max(...Object.values(p95)),
  };
}
