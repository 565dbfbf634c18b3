// The BI's dashboards over a big warehouse: 10 million SYNTHETIC order lines (generated with
// DuckDB SQL from range(), not by the traffic simulator, which would take hours here), with
// payments, refunds, ledger, fraud decisions, reconciliation and stock in proportion. Each
// dashboard is opened with every global filter set (30-day window, category, región, payment
// method, location) through the same service the HTTP API uses; p95 of the whole dashboard
// (all its panels) per dashboard. The generated file is cached under .bench-data/.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { createAnalytics } from '../src/analytics/index.js';
import { accessOf, createBi, type DashboardId } from '../src/bi/index.js';
import { systemClock } from '../src/platform/clock.js';
import type { Database } from '../src/platform/db.js';
import { createLogger } from '../src/platform/log.js';
import { createMetrics } from '../src/platform/metrics.js';

const LINES = Number(process.env.BENCH_BI_LINES ?? 10_000_000);
const ROUNDS = Number(process.env.BENCH_BI_ROUNDS ?? 20);
const DIR = path.resolve(import.meta.dirname, '..', '.bench-data');
// v2: dim_product carries categories and order lines their payment method, as the real marts do;
// the BI marts (src/analytics/aggregates.ts) are built into the file by the analytics context.
const FILE = path.join(DIR, `bi-v2-${LINES}.duckdb`);
const SKUS = 2000;
const CATEGORIES = 20;
const REGIONS = ['Arica y Parinacota', 'Tarapacá', 'Antofagasta', 'Atacama', 'Coquimbo', 'Valparaíso', 'Metropolitana', "O'Higgins", 'Maule', 'Ñuble', 'Biobío', 'Araucanía', 'Los Ríos', 'Los Lagos', 'Aysén', 'Magallanes'];
const METHODS = ['webpay', 'oneclick', 'mercadopago_card', 'mercadopago_cash'];
const LOCATIONS = ['bodega-central', 'bodega-sur', 'tienda-providencia', 'tienda-nunoa', 'tienda-vina', 'tienda-conce', 'tienda-temuco', 'tienda-pmontt'];

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

const list = (xs: string[]) => `[${xs.map((x) => `'${x.replaceAll("'", "''")}'`).join(', ')}]`;

/** Builds the synthetic warehouse with the analytics marts' column shapes. */
async function generate(file: string): Promise<{ generatedMs: number; martsMs: number }> {
  const started = performance.now();
  const tmp = `${file}.tmp`;
  rmSync(tmp, { force: true });
  const inst = await DuckDBInstance.create(tmp);
  const c = await inst.connect();
  const orders = Math.ceil(LINES / 3);
  const step = (sql: string) => c.run(sql);
  // hash() is UINT64: a signed macro keeps the arithmetic below from overflowing.
  await step(`CREATE TEMP MACRO hh(x) AS CAST(hash(x) % 2147483647 AS BIGINT)`);
  // Orders spread over 365 days with a daily cycle; customers re-buy (Zipf-ish via hash).
  await step(`CREATE TEMP TABLE o AS SELECT i AS oi, 'o' || i AS order_id,
      'c' || (hh(i * 31) % ${Math.max(1, Math.floor(orders / 6))}) AS customer_id,
      TIMESTAMPTZ '2025-12-01 00:00:00+00' + to_seconds((i * 31536000) // ${orders}) + to_seconds(((hh(i) % 50400) - 25200) // 2) AS occurred_at
    FROM range(${orders}) t(i)`);
  await step(`CREATE TABLE fact_order_line AS
    SELECT o.order_id, (j % 3)::INTEGER AS line_no, NULL::UUID AS event_id, o.customer_id,
           'SKU-' || lpad(CAST(hh(j) % ${SKUS} AS VARCHAR), 4, '0') AS sku,
           (1 + hh(j * 7) % 4)::BIGINT AS quantity,
           (990 + (hh(j) % ${SKUS}) % 100 * 1000)::BIGINT AS unit_price,
           ((1 + hh(j * 7) % 4) * (990 + (hh(j) % ${SKUS}) % 100 * 1000))::BIGINT AS amount,
           'comuna-' || (hh(o.customer_id) % 60) AS comuna,
           ${list(REGIONS)}[1 + hh(o.customer_id) % ${REGIONS.length}] AS region, 'XX' AS region_code,
           ${list(METHODS)}[1 + (hh(o.order_id) // 7) % 4] AS payment_method,
           CAST(o.occurred_at AS DATE) AS date_key, o.occurred_at
    FROM range(${LINES}) t(j) JOIN o ON o.oi = j // 3
    ORDER BY o.occurred_at`);
  await step(`CREATE TEMP TABLE totals AS SELECT order_id, any_value(customer_id) AS customer_id, sum(amount) AS amount,
      min(occurred_at) AS occurred_at, hh(order_id) AS h FROM fact_order_line GROUP BY order_id`);
  await step(`CREATE TABLE fact_payment_attempt AS
    SELECT 'a' || order_id AS attempt_id, order_id,
           CASE WHEN h % 100 < 85 THEN 'approved' WHEN h % 100 < 97 THEN 'rejected' WHEN h % 100 < 99 THEN 'pending' ELSE 'expired' END AS status,
           NULL::UUID AS event_id, amount, ${list(METHODS)}[1 + (h // 7) % 4] AS method,
           CASE WHEN (h // 7) % 4 < 2 THEN 'transbank' ELSE 'mercadopago' END AS processor, 'ref-' || order_id AS processor_ref,
           CASE WHEN h % 100 BETWEEN 85 AND 96 THEN ${list(['insufficient_funds', 'do_not_honor', 'card_expired', 'fraud_block'])}[1 + (h // 13) % 4] END AS reason,
           CAST(occurred_at + INTERVAL 2 SECOND AS DATE) AS date_key, occurred_at + INTERVAL 2 SECOND AS occurred_at
    FROM totals ORDER BY occurred_at`);
  await step(`CREATE TABLE fact_refund AS SELECT 'r' || order_id AS refund_id, NULL::UUID AS event_id, order_id, 'a' || order_id AS attempt_id,
      amount // 2 AS amount, CAST(occurred_at + INTERVAL 3 DAY AS DATE) AS date_key, occurred_at + INTERVAL 3 DAY AS occurred_at
    FROM totals WHERE h % 100 < 3 ORDER BY occurred_at`);
  await step(`CREATE TABLE fact_ledger_posting AS
    SELECT 'p' || order_id AS posting_id, NULL::UUID AS event_id, 'processor_receivable' AS account, order_id, 'a' || order_id AS attempt_id,
           'ref-' || order_id AS processor_ref, amount, CAST(occurred_at AS DATE) AS date_key, occurred_at FROM totals WHERE h % 100 < 85
    UNION ALL
    SELECT 'cb' || order_id, NULL, 'chargebacks', order_id, 'a' || order_id, NULL, amount, CAST(occurred_at + INTERVAL 20 DAY AS DATE), occurred_at + INTERVAL 20 DAY
    FROM totals WHERE h % 1000 = 7
    ORDER BY occurred_at`);
  await step(`CREATE TABLE fact_fraud_decision AS
    SELECT order_id, NULL::UUID AS event_id,
           CASE WHEN (h // 3) % 100 < 93 THEN 'allow' WHEN (h // 3) % 100 < 98 THEN 'review' ELSE 'block' END AS decision,
           CAST((h // 3) % 100 AS DOUBLE) AS score, CAST(occurred_at AS DATE) AS date_key, occurred_at FROM totals ORDER BY occurred_at`);
  await step(`CREATE TABLE reconciliation AS
    SELECT CAST(occurred_at + INTERVAL 2 DAY AS DATE) AS date_key, 'payout-' || strftime(occurred_at + INTERVAL 2 DAY, '%Y-%m-%d') AS payout_id,
           'ref-' || order_id AS processor_ref, amount AS ledger_amount,
           CASE WHEN (h // 11) % 200 = 0 THEN NULL WHEN (h // 11) % 200 = 1 THEN amount - 100 ELSE amount END AS processor_amount,
           amount * 2 // 100 AS fee,
           CASE WHEN (h // 11) % 200 = 0 THEN 'missing_at_processor' WHEN (h // 11) % 200 = 1 THEN 'amount_mismatch' ELSE 'matched' END AS status
    FROM totals WHERE h % 100 < 85 ORDER BY date_key`);
  await step(`CREATE TABLE fact_stock_movement AS
    SELECT NULL::UUID AS event_id, 'SKU-' || lpad(CAST(s AS VARCHAR), 4, '0') AS sku, ${list(LOCATIONS)}[1 + l] AS location_id,
           (hh(s * 8 + l + k) % 300)::BIGINT AS on_hand, (hh(s + k) % 5)::BIGINT AS reserved,
           greatest(0, hh(s * 8 + l + k) % 300 - hh(s + k) % 5)::BIGINT AS available, (s * 8 + l) * 100 + k AS seq,
           CAST(TIMESTAMPTZ '2025-12-01 00:00:00+00' + to_days(k::INTEGER * 6) AS DATE) AS date_key,
           TIMESTAMPTZ '2025-12-01 00:00:00+00' + to_days(k::INTEGER * 6) AS occurred_at
    FROM range(${SKUS}) a(s), range(${LOCATIONS.length}) b(l), range(60) c(k)`);
  await step(`CREATE TABLE stock_on_hand AS SELECT sku, location_id, on_hand, reserved, available, occurred_at AS as_of FROM fact_stock_movement
      QUALIFY row_number() OVER (PARTITION BY sku, location_id ORDER BY occurred_at DESC, seq DESC) = 1`);
  await step(`UPDATE stock_on_hand SET on_hand = 0, available = 0 WHERE hh(sku || location_id) % 40 = 0`);
  await step(`CREATE TABLE dim_customer AS SELECT customer_id, min(occurred_at) AS first_order_at, count(DISTINCT order_id) AS orders FROM totals GROUP BY customer_id`);
  // Categories as the catalogue's events would give them (the same map the BI's port returns).
  await step(`CREATE TABLE dim_product AS SELECT sku, NULL::VARCHAR AS product_id, sku AS name, 'cat-' || (CAST(substr(sku, 5) AS INTEGER) % ${CATEGORIES}) AS category,
      NULL::BIGINT AS price, true AS active FROM (SELECT DISTINCT sku FROM fact_stock_movement)`);
  await step(`CREATE TABLE dim_location AS SELECT DISTINCT location_id FROM fact_stock_movement`);
  await step(`CREATE TABLE dim_geography AS SELECT DISTINCT comuna, region FROM fact_order_line`);
  await step(`CREATE TABLE dim_date AS SELECT CAST(d AS DATE) AS date_key, year(d) AS year, month(d) AS month, day(d) AS day, isodow(d) AS iso_dow
      FROM (SELECT unnest(generate_series(DATE '2025-12-01', DATE '2026-12-31', INTERVAL 1 DAY)) AS d)`);
  await step('CHECKPOINT');
  c.closeSync();
  inst.closeSync();
  // Opening the warehouse through the analytics context builds the BI marts from the facts.
  const martsStarted = performance.now();
  const a = createAnalytics({ db: {} as Database, logger: createLogger('silent'), metrics: createMetrics(), clock: systemClock, dataDir: DIR, warehouseFile: tmp });
  await a.query('SELECT 1 AS ok');
  await a.close();
  const martsMs = performance.now() - martsStarted;
  renameSync(tmp, file);
  return { generatedMs: performance.now() - started, martsMs };
}

/** Generates the cached warehouse when missing (run alone before timing anything). */
export async function ensureData(): Promise<{ generatedMs: number; martsMs: number } | undefined> {
  mkdirSync(DIR, { recursive: true });
  if (existsSync(FILE)) return undefined;
  process.stderr.write(`generating ${LINES.toLocaleString('en')} synthetic order lines into ${FILE} (cached for later runs)…\n`);
  return generate(FILE);
}

export async function run(): Promise<Record<string, unknown>> {
  const generated = await ensureData();
  const logger = createLogger('silent');
  const metrics = createMetrics();
  // The bench reads only the warehouse; nothing reaches PostgreSQL (lagMs is not asked for).
  const noDatabase = {} as Database;
  const analytics = createAnalytics({ db: noDatabase, logger, metrics, clock: systemClock, dataDir: DIR, warehouseFile: FILE });
  const categories = new Map(Array.from({ length: SKUS }, (_, i) => [`SKU-${String(i).padStart(4, '0')}`, `cat-${i % CATEGORIES}`] as [string, string]));
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
      category: `cat-${rand(CATEGORIES)}`, region: REGIONS[rand(REGIONS.length)] ?? 'Metropolitana',
      method: METHODS[rand(METHODS.length)] ?? 'webpay', location: LOCATIONS[rand(LOCATIONS.length)] ?? 'bodega-central',
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
  return {
    data: 'synthetic (DuckDB range()), not simulator traffic',
    order_lines: lines,
    rounds_per_dashboard: ROUNDS,
    filters: 'all: 30-day window, category, región, payment method, location',
    generated_ms: generated ? Math.round(generated.generatedMs) : 'cached',
    bi_marts_build_ms: generated ? Math.round(generated.martsMs) : 'cached',
    load_average: os.loadavg().map((l) => Math.round(l * 10) / 10),
    cores: os.availableParallelism(),
    p50_ms: p50,
    slowest_panel_p95: slowestPanel,
    p95_ms: p95,
    worst_p95_ms: Math.max(...Object.values(p95)),
  };
}
