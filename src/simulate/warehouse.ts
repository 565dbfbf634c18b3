import type { DuckDBConnection } from '@duckdb/node-api';
import { CHILE_REGIONS } from '../customers/index.js';
import { momentAt } from './calendar.js';
import { SIM_LOCATION } from './history.js';
import { generatePlan, type Plan } from './plan.js';

/**
 * The simulator's traffic written straight into a warehouse, at a scale the services cannot
 * play in useful time (10 million order lines): the same seed gives the same catalogue,
 * customers (regions, comunas, payment habits, activity) and fraud episodes as `generatePlan`,
 * and the orders follow the plan's model — hours drawn by the calendar's daily, weekly and
 * peak intensity, customers by activity, baskets of 1–4 picks by SKU popularity (units capped
 * per category), outcomes by payment habit (Webpay 7 % and Mercado Pago card 8 % declined, cash
 * paid within 1–48 h in 75 % of vouchers, else expired), refunds of 5 % of approved orders 2–20
 * days after delivery. Rows are drawn set-based in DuckDB: every random choice is a hash of
 * the seed, the order number and what is drawn, so a seed always writes the same warehouse.
 *
 * What the plan does not model is stated here: fraud scores (ordinary orders skewed low, fraud
 * episodes high; review from 60, block from 85), settlement reports (Transbank next day, Mercado
 * Pago two days later, fees 1.49 % / 3.19 %, 0.3 % of captures missing and 0.3 % short by $100),
 * and stock (weekly receipts covering the SKU's demand at the simulator's one location).
 *
 * Writes the fact and dimension tables with the analytics marts' columns, and `settlement_report`;
 * the analytics context derives reconciliation and the BI marts when it opens the file.
 *
 * @example
 * await generateWarehouse(conn, { seed: 7, lines: 1_000_000, from: new Date('2025-12-01'), to: new Date('2026-12-01') });
 */
export interface BulkOptions {
  seed: number | string;
  /** Order lines to write (approximately: baskets are drawn, then merged per SKU). */
  lines: number;
  from: Date;
  /** Exclusive. */
  to: Date;
  skuCount?: number;
  /** Default: one customer per six orders. */
  customerCount?: number;
  /** Average days between fraud episodes of each pattern (default 20). */
  fraudEveryDays?: number;
}

export interface BulkResult {
  orders: number;
  lines: number;
  customers: number;
  skus: number;
  ms: number;
}

const HOUR = 3_600_000;
/** Distinct SKUs per basket: 1–4 picks, a few merged when the same SKU is drawn twice. */
const LINES_PER_ORDER = 2.45;
const REFUND_RATE = 0.05;

const q = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Appends rows to a new table through DuckDB's appender (values as text, cast by the reader). */
async function table(conn: DuckDBConnection, name: string, columns: string[], rows: Iterable<(string | number | null)[]>): Promise<void> {
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${name} (${columns.map((c) => `${c} VARCHAR`).join(', ')})`);
  const app = await conn.createAppender(name, 'main', 'temp');
  try {
    for (const r of rows) {
      for (const v of r) {
        if (v === null) app.appendNull();
        else app.appendVarchar(String(v));
      }
      app.endRow();
    }
  } finally {
    app.closeSync();
  }
}

/** Writes the model's tables the SQL draws from: hours, SKUs, customers (cumulative weights in [0, 1)). */
async function modelTables(conn: DuckDBConnection, plan: Plan, from: Date, to: Date): Promise<void> {
  const hours: [number, number][] = [];
  for (let t = Math.floor(from.getTime() / HOUR) * HOUR; t < to.getTime(); t += HOUR) hours.push([t, momentAt(new Date(t + HOUR / 2)).intensity]);
  const cum = <T>(items: T[], weight: (x: T) => number) => {
    const total = items.reduce((s, x) => s + weight(x), 0);
    let acc = 0;
    return items.map((x) => {
      const lo = acc / total;
      acc += weight(x);
      return lo;
    });
  };
  const hourLo = cum(hours, (h) => h[1]);
  await table(conn, 'sim_hour', ['start_ms', 'lo'], hours.map((h, i) => [h[0], hourLo[i] ?? 0]));
  const skus = plan.catalogue.skus;
  const skuLo = cum(skus, (s) => s.weight);
  await table(conn, 'sim_sku', ['sku', 'category', 'price', 'max_units', 'lo'], skus.map((s, i) => [s.sku, s.category, s.price, s.maxUnits, skuLo[i] ?? 0]));
  const codes = new Map(CHILE_REGIONS.map((r) => [r.name, r.iso]));
  // Ordinary orders come from the plan's ordinary customers (activity > 0); fraud accounts act only in their episodes.
  const ordinary = plan.customers.filter((c) => c.activity > 0);
  const customerLo = cum(ordinary, (c) => c.activity);
  await table(conn, 'sim_customer', ['customer_id', 'comuna', 'region', 'region_code', 'habit', 'lo'],
    ordinary.map((c, i) => [`sim-${plan.seed}-c${c.no}`, c.address.comuna, c.address.region, codes.get(c.address.region) ?? null, c.habit, customerLo[i] ?? 0]));
  // The fraud episodes as the plan has them, with their own accounts.
  const fraud = plan.sessions.filter((s) => s.fraud !== null);
  await table(conn, 'sim_fraud', ['n', 'at_ms', 'customer_id', 'comuna', 'region', 'region_code', 'sku', 'quantity', 'outcome', 'pattern', 'chargeback_ms'],
    fraud.map((s, n) => {
      const c = plan.customers[s.customer];
      const line = s.lines[0];
      return [n, s.at.getTime(), `sim-${plan.seed}-c${s.customer}`, c?.address.comuna ?? null, c?.address.region ?? null, codes.get(c?.address.region ?? '') ?? null,
        line?.sku ?? null, line?.quantity ?? 1, s.outcome, s.fraud, s.after.chargebackMs ?? null];
    }));
}

/** Generates the warehouse's facts and dimensions into `conn` (tables replaced). */
export async function generateWarehouse(conn: DuckDBConnection, options: BulkOptions): Promise<BulkResult> {
  const started = performance.now();
  const orders = Math.max(1, Math.round(options.lines / LINES_PER_ORDER));
  const skuCount = options.skuCount ?? 2000;
  const customerCount = options.customerCount ?? Math.max(10, Math.round(orders / 6));
  // The plan's catalogue, customers and fraud episodes for this seed; ordinary sessions are drawn below, in bulk.
  const plan = generatePlan({ seed: options.seed, from: options.from, to: options.to, ordersPerDay: 0, skuCount, customerCount, fraudEveryDays: options.fraudEveryDays ?? 20 });
  await modelTables(conn, plan, options.from, options.to);
  const seed = q(plan.seed);
  const run = (sql: string) => conn.run(sql);
  // u(n, what): the uniform in [0, 1) drawn for order n and `what`.
  await run(`CREATE OR REPLACE TEMP MACRO u(n, what) AS (hash(${seed}, what, n) >> 11)::DOUBLE / 9007199254740992.0`);
  await run(`CREATE OR REPLACE TEMP MACRO sim_uuid(x) AS CAST(substr(md5(x), 1, 8) || '-' || substr(md5(x), 9, 4) || '-4' || substr(md5(x), 14, 3) || '-8' || substr(md5(x), 18, 3) || '-' || substr(md5(x), 21, 12) AS VARCHAR)`);
  await run(`CREATE OR REPLACE TEMP TABLE sim_h AS SELECT to_timestamp(CAST(start_ms AS BIGINT) / 1000.0) AS start, CAST(lo AS DOUBLE) AS lo FROM sim_hour`);
  await run(`CREATE OR REPLACE TEMP TABLE sim_s AS SELECT sku, category, CAST(price AS BIGINT) AS price, CAST(max_units AS INTEGER) AS max_units, CAST(lo AS DOUBLE) AS lo FROM sim_sku`);
  await run(`CREATE OR REPLACE TEMP TABLE sim_c AS SELECT * REPLACE (CAST(lo AS DOUBLE) AS lo) FROM sim_customer`);

  // Ordinary orders: an hour by the calendar's intensity, a minute inside it, a customer by activity.
  await run(`CREATE OR REPLACE TEMP TABLE sim_o AS
    WITH o AS (SELECT n, u(n, 'hour') AS uh, u(n, 'customer') AS uc FROM range(${orders}) t(n)),
    h AS (SELECT o.*, h.start + to_microseconds(CAST(u(n, 'second') * 3600000000 AS BIGINT)) AS ts FROM o ASOF JOIN sim_h h ON o.uh >= h.lo)
    SELECT h.n, sim_uuid(${seed} || ':order:' || h.n) AS order_id, h.ts, c.customer_id, c.comuna, c.region, c.region_code, c.habit
    FROM h ASOF JOIN sim_c c ON h.uc >= c.lo`);
  // Baskets: 1–4 picks by popularity; a SKU picked twice is one line (units added, capped).
  await run(`CREATE OR REPLACE TEMP TABLE sim_l AS
    WITH picks AS (SELECT n, k, u(n * 4 + k, 'sku') AS us, u(n * 4 + k, 'units') AS uu FROM sim_o, range(4) r(k) WHERE k < 1 + floor(u(n, 'picks') * 4)),
    p AS (SELECT picks.n, picks.k, s.sku, s.price, s.max_units, 1 + floor(uu * greatest(1, ceil(s.max_units / 2)))::INTEGER AS units
          FROM picks ASOF JOIN sim_s s ON picks.us >= s.lo)
    SELECT n, sku, any_value(price) AS price, least(any_value(max_units), sum(units))::BIGINT AS quantity, min(k) AS first_pick FROM p GROUP BY n, sku`);
  // Fraud episodes' orders join the ordinary ones (numbered after them).
  await run(`INSERT INTO sim_o SELECT ${orders} + CAST(n AS BIGINT), sim_uuid(${seed} || ':fraud:' || n), to_timestamp(CAST(at_ms AS BIGINT) / 1000.0),
      customer_id, comuna, region, region_code, 'mercadopago_card' FROM sim_fraud`);
  await run(`INSERT INTO sim_l SELECT ${orders} + CAST(f.n AS BIGINT), f.sku, s.price, CAST(f.quantity AS BIGINT), 0 FROM sim_fraud f JOIN sim_s s USING (sku)`);

  await run(`CREATE OR REPLACE TABLE fact_order_line AS
    SELECT o.order_id, (row_number() OVER (PARTITION BY l.n ORDER BY l.first_pick) - 1)::INTEGER AS line_no, NULL::UUID AS event_id, o.customer_id, l.sku,
           l.quantity, l.price AS unit_price, l.quantity * l.price AS amount, o.comuna, o.region, o.region_code, o.habit AS payment_method,
           CAST(o.ts AS DATE) AS date_key, o.ts AS occurred_at
    FROM sim_l l JOIN sim_o o USING (n) ORDER BY o.ts, o.order_id, line_no`);

  // One payment attempt per order, by the customer's habit (fraud episodes: as planned).
  await run(`CREATE OR REPLACE TEMP TABLE sim_p AS
    WITH t AS (SELECT n, sum(quantity * price)::BIGINT AS total FROM sim_l GROUP BY n),
    o AS (
      SELECT o.*, t.total, f.outcome AS planned, f.pattern, f.chargeback_ms, u(o.n, 'outcome') AS uo FROM sim_o o JOIN t USING (n)
      LEFT JOIN sim_fraud f ON CAST(f.n AS BIGINT) = o.n - ${orders})
    SELECT *, CASE
        WHEN planned IS NOT NULL THEN planned
        WHEN habit = 'mercadopago_cash' THEN CASE WHEN uo < 0.75 THEN 'cash_paid' ELSE 'cash_expired' END
        WHEN habit = 'webpay' AND uo < 0.07 THEN 'decline'
        WHEN habit = 'mercadopago_card' AND uo < 0.08 THEN 'decline'
        ELSE 'approve' END AS outcome,
      CASE WHEN habit IN ('webpay', 'oneclick') THEN 'transbank' ELSE 'mercadopago' END AS processor
    FROM o`);
  await run(`CREATE OR REPLACE TEMP TABLE sim_a AS
    SELECT *, CASE outcome WHEN 'approve' THEN 'approved' WHEN 'cash_paid' THEN 'approved' WHEN 'decline' THEN 'rejected' ELSE 'expired' END AS status,
      ts + CASE outcome WHEN 'cash_paid' THEN to_hours(1 + floor(u(n, 'paid') * 48)::BIGINT) WHEN 'cash_expired' THEN INTERVAL 3 DAY
        ELSE to_seconds(20 + floor(u(n, 'pay') * 100)::BIGINT) END AS settled_at,
      CASE WHEN processor = 'transbank' THEN 'tbk-' ELSE 'mp-' END || substr(md5(${seed} || ':ref:' || n), 1, 16) AS processor_ref
    FROM sim_p`);
  // A rejected attempt's latest event (payments.payment_rejected) carries no method, as in the warehouse.
  await run(`CREATE OR REPLACE TABLE fact_payment_attempt AS
    SELECT 'att-' || order_id AS attempt_id, order_id, status, NULL::UUID AS event_id, total AS amount,
           CASE WHEN status = 'rejected' THEN NULL ELSE habit END AS method, processor, processor_ref,
           CASE WHEN status = 'rejected' THEN CASE WHEN processor = 'transbank' THEN 'response_code_-1' ELSE 'cc_rejected_other_reason' END
                WHEN status = 'expired' THEN 'expired' END AS reason,
           CAST(settled_at AS DATE) AS date_key, settled_at AS occurred_at
    FROM sim_a ORDER BY settled_at, order_id`);

  // Refunds: 5 % of approved ordinary orders, 2–20 days after delivery (12–72 h after payment); whole when returned.
  await run(`CREATE OR REPLACE TEMP TABLE sim_r AS
    SELECT n, order_id, 'att-' || order_id AS attempt_id, processor,
           settled_at + to_hours(12 + floor(u(n, 'fulfil') * 61)::BIGINT) + to_days(2 + floor(u(n, 'refund_day') * 19)::INTEGER) AS ts,
           CASE WHEN u(n, 'returned') < 0.6 OR u(n, 'whole') < 0.5 THEN total ELSE floor(total * (0.3 + u(n, 'fraction') * 0.5))::BIGINT END AS amount,
           u(n, 'returned') < 0.6 AS returned
    FROM sim_a WHERE status = 'approved' AND pattern IS NULL AND u(n, 'refund') < ${REFUND_RATE}`);
  await run(`DELETE FROM sim_r WHERE ts >= TIMESTAMPTZ '${options.to.toISOString()}'`);
  await run(`CREATE OR REPLACE TABLE fact_refund AS
    SELECT 'rf-' || order_id AS refund_id, NULL::UUID AS event_id, order_id, attempt_id, amount,
           CASE WHEN returned THEN 'return' ELSE 'partial' END AS refund_type, CAST(ts AS DATE) AS date_key, ts AS occurred_at
    FROM sim_r ORDER BY ts`);

  // Ledger: captures, refunds and stolen-card chargebacks, each a balanced transaction.
  await run(`CREATE OR REPLACE TABLE fact_ledger_posting AS
    WITH tx AS (
      SELECT 'cap-' || order_id AS transaction_id, 'payment_captured' AS kind, 'att-' || order_id AS attempt_id, NULL AS refund_id, order_id, processor_ref,
             [{'account': 'processor_clearing:' || processor, 'amount': total}, {'account': 'sales_revenue', 'amount': -total}] AS entries, settled_at AS ts
      FROM sim_a WHERE status = 'approved'
      UNION ALL
      SELECT 'rtx-' || r.order_id, 'refund', r.attempt_id, 'rf-' || r.order_id, r.order_id, a.processor_ref,
             [{'account': 'refunds', 'amount': r.amount}, {'account': 'processor_clearing:' || r.processor, 'amount': -r.amount}], r.ts
      FROM sim_r r JOIN sim_a a USING (n)
      UNION ALL
      SELECT 'cb-' || order_id, 'chargeback', 'att-' || order_id, NULL, order_id, processor_ref,
             [{'account': 'chargebacks', 'amount': total}, {'account': 'processor_clearing:' || processor, 'amount': -total}],
             settled_at + to_milliseconds(CAST(chargeback_ms AS BIGINT))
      FROM sim_a WHERE status = 'approved' AND chargeback_ms IS NOT NULL AND settled_at + to_milliseconds(CAST(chargeback_ms AS BIGINT)) < TIMESTAMPTZ '${options.to.toISOString()}')
    SELECT transaction_id || ':' || i AS posting_id, transaction_id, i::INTEGER AS entry_no, NULL::UUID AS event_id, kind,
           entries[i].account AS account, entries[i].amount::BIGINT AS amount, attempt_id, refund_id, order_id, processor_ref,
           CAST(ts AS DATE) AS date_key, ts AS occurred_at
    FROM tx, range(1, 3) r(i) ORDER BY ts, transaction_id, i`);

  // Fraud decisions 100 ms after each order: ordinary orders mostly low, the episodes' high.
  await run(`CREATE OR REPLACE TABLE fact_fraud_decision AS
    WITH s AS (SELECT order_id, ts, CASE WHEN pattern IS NULL THEN floor(pow(u(n, 'score'), 4) * 100) ELSE 70 + floor(u(n, 'score') * 30) END AS score FROM sim_p)
    SELECT order_id, NULL::UUID AS event_id, CASE WHEN score >= 85 THEN 'block' WHEN score >= 60 THEN 'review' ELSE 'allow' END AS decision,
           CAST(score AS DOUBLE) AS score, CAST(ts + INTERVAL 100 MILLISECOND AS DATE) AS date_key, ts + INTERVAL 100 MILLISECOND AS occurred_at
    FROM s ORDER BY occurred_at`);

  // Settlement reports of the captures.
  await run(`CREATE TABLE IF NOT EXISTS settlement_report (report_date DATE NOT NULL, payout_id VARCHAR NOT NULL,
    processor_ref VARCHAR NOT NULL, amount BIGINT NOT NULL, fee BIGINT NOT NULL, PRIMARY KEY (processor_ref, payout_id))`);
  await run(`DELETE FROM settlement_report`);
  await run(`INSERT INTO settlement_report
    SELECT d AS report_date, processor || '-' || strftime(d, '%Y-%m-%d') AS payout_id, processor_ref,
           CASE WHEN u(n, 'settle') < 0.006 THEN total - 100 ELSE total END AS amount,
           round(total * CASE WHEN processor = 'transbank' THEN 0.0149 ELSE 0.0319 END)::BIGINT AS fee
    FROM (SELECT *, CAST(settled_at AS DATE) + CASE WHEN processor = 'transbank' THEN 1 ELSE 2 END AS d FROM sim_a WHERE status = 'approved')
    WHERE u(n, 'settle') >= 0.003 AND d < DATE '${options.to.toISOString().slice(0, 10)}'`);

  // Stock at the simulator's location: weekly receipts cover the week's demand plus a margin
  // drawn per SKU (some run short: stockouts), one movement per SKU and week.
  await run(`CREATE OR REPLACE TABLE fact_stock_movement AS
    WITH weeks AS (SELECT unnest(generate_series(date_trunc('week', TIMESTAMPTZ '${options.from.toISOString()}'), TIMESTAMPTZ '${options.to.toISOString()}', INTERVAL 7 DAY)) AS w),
    sold AS (SELECT sku, date_trunc('week', occurred_at) AS w, sum(quantity) AS units FROM fact_order_line GROUP BY ALL),
    grid AS (SELECT s.sku, weeks.w, coalesce(sold.units, 0) AS units, hash(${seed}, 'margin', s.sku) % 40 AS margin
             FROM sim_s s CROSS JOIN weeks LEFT JOIN sold ON sold.sku = s.sku AND sold.w = weeks.w),
    running AS (SELECT *, sum(ceil(units * (0.9 + margin / 100.0))) OVER (PARTITION BY sku ORDER BY w) - sum(units) OVER (PARTITION BY sku ORDER BY w) AS left_over FROM grid)
    SELECT NULL::UUID AS event_id, sku, ${q(SIM_LOCATION.id)} AS location_id, greatest(0, left_over)::BIGINT AS on_hand,
           (hash(${seed}, 'reserved', sku, w) % 3)::BIGINT AS reserved, greatest(0, left_over - hash(${seed}, 'reserved', sku, w) % 3)::BIGINT AS available,
           row_number() OVER (ORDER BY w, sku) AS seq, CAST(w + INTERVAL 7 DAY - INTERVAL 1 SECOND AS DATE) AS date_key,
           w + INTERVAL 7 DAY - INTERVAL 1 SECOND AS occurred_at
    FROM running WHERE w + INTERVAL 7 DAY - INTERVAL 1 SECOND < TIMESTAMPTZ '${options.to.toISOString()}' ORDER BY occurred_at, sku`);
  await run(`CREATE OR REPLACE TABLE stock_on_hand AS SELECT sku, location_id, on_hand, reserved, available, occurred_at AS as_of FROM fact_stock_movement
    QUALIFY row_number() OVER (PARTITION BY sku, location_id ORDER BY occurred_at DESC, seq DESC) = 1`);

  // Dimensions, as the analytics marts derive them (guests register with their first order).
  await run(`CREATE OR REPLACE TABLE dim_customer AS SELECT customer_id, 'guest' AS kind, min(occurred_at) AS registered_at,
      min(occurred_at) AS first_order_at, count(DISTINCT order_id) AS orders FROM fact_order_line GROUP BY customer_id`);
  const products = new Map(plan.catalogue.products.flatMap((p) => p.skus.map((s) => [s.sku, { name: s.name, category: p.category }] as const)));
  await table(conn, 'sim_product', ['sku', 'name', 'category'], plan.catalogue.skus.map((s) => [s.sku, products.get(s.sku)?.name ?? s.sku, s.category]));
  await run(`CREATE OR REPLACE TABLE dim_product AS SELECT p.sku, NULL::VARCHAR AS product_id, p.name, p.category, s.price, true AS active
    FROM sim_product p JOIN sim_s s USING (sku) ORDER BY p.sku`);
  await run(`CREATE OR REPLACE TABLE dim_location AS SELECT DISTINCT location_id FROM fact_stock_movement`);
  await run(`CREATE OR REPLACE TABLE dim_geography AS SELECT comuna, any_value(region) AS region, any_value(region_code) AS region_code FROM fact_order_line GROUP BY comuna`);
  await run(`CREATE OR REPLACE TABLE dim_date AS SELECT CAST(d AS DATE) AS date_key, year(d) AS year, month(d) AS month, day(d) AS day, isodow(d) AS iso_dow
    FROM (SELECT unnest(generate_series(min(date_key), max(date_key), INTERVAL 1 DAY)) AS d FROM (SELECT date_key FROM fact_order_line UNION ALL SELECT date_key FROM fact_refund UNION ALL SELECT date_key FROM fact_ledger_posting))`);
  for (const t of ['sim_hour', 'sim_sku', 'sim_customer', 'sim_fraud', 'sim_product', 'sim_h', 'sim_s', 'sim_c', 'sim_o', 'sim_l', 'sim_p', 'sim_a', 'sim_r']) await run(`DROP TABLE IF EXISTS temp.${t}`);
  const [counts] = (await conn.runAndReadAll(`SELECT (SELECT count(*) FROM fact_order_line) AS lines, (SELECT count(DISTINCT order_id) FROM fact_order_line) AS orders,
    (SELECT count(*) FROM dim_customer) AS customers`)).getRowObjectsJson();
  return { orders: Number(counts?.orders), lines: Number(counts?.lines), customers: Number(counts?.customers), skus: plan.catalogue.skus.length, ms: Math.round(performance.now() - started) };
}
