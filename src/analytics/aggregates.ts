import type { DuckDBConnection } from '@duckdb/node-api';
import { createHash } from 'node:crypto';
import type { MartSpec } from './mapping.js';
import { rows } from './warehouse.js';

/**
 * BI serving marts, derived from the facts (never from staging), rebuilt in the same load
 * transaction as the facts they read: readers see them at the same high-water mark.
 *
 * `fact_order` is one row per order with what the global filters need about it (región, the
 * categories of its lines, the payment methods of its attempts), so no dashboard query joins
 * the order lines to payments. The `agg_*_daily` marts sum each fact per day × category ×
 * región × payment method (× the fact's own dimensions). Category and method are "exploded":
 * a row is counted once under every category (method) its order has AND once under `'*'`
 * (all), so a figure under one category/method filter is a plain sum of the rows carrying
 * that value, and with no filter the sum of the `'*'` rows: exact, never double counted.
 * Rows are stored sorted by (category, method, day): a dashboard's filters then select a few
 * contiguous row groups, and DuckDB's min/max zone maps skip the rest.
 *
 * Each mart is keyed: `fact_order` by order, every other one by the day of the rows it sums
 * (the fact's `date_key`, or the order's for `fact_order_member` and `agg_sales_daily`). Its
 * SQL takes a scope, a predicate on that key column, so a load can rebuild only the orders and
 * days it affected (src/analytics/aggregates-upkeep.ts); the whole mart is the scope `true`.
 */

/** The member of an exploded dimension that stands for "every value" (no filter). */
export const ALL = '*';

/** A predicate over the key column named (a day, or an order id) that picks the rows to build. */
export type Scope = (column: string) => string;
/** Every row: the whole mart. */
export const WHOLE: Scope = () => 'true';

export interface Aggregate extends MartSpec {
  /** What a row is keyed by: an order (`fact_order`) or a day. */
  key: 'order_id' | 'date_key';
  /** The mart's rows whose key the scope selects (sorted as stored); `sql` is `build(WHOLE)`. */
  build(scope: Scope): string;
}

const CATEGORY = `coalesce(nullif(p.category, ''), 'uncategorised')`;

/**
 * `fact_order`, or for part of a mart only the orders `ids` selects: joined whole, the join
 * would hash every order to build a few days; filtered first, the order scan skips the rest.
 */
function ordersOf(ids: string, scope: Scope): string {
  return scope === WHOLE ? 'fact_order' : `(SELECT * FROM fact_order WHERE order_id IN (${ids}))`;
}

/**
 * Aggregates an order-scoped fact: grouped first (so the category/method lists are expanded
 * on a few rows, not on every fact row), then exploded and summed again. `from` must expose
 * `order_id` and `date_key`; `methods` is the method list a fact row counts under.
 */
function scoped(from: string, scope: Scope, dims: string[], measures: [string, string][], methods = `coalesce(o.methods, []::VARCHAR[])`, sorted = true): string {
  const d = dims.map((x) => `f.${x}`);
  return `
    WITH g AS (
      SELECT f.date_key, ${[...d, ''].join(', ')}o.region, coalesce(o.categories, []::VARCHAR[]) AS cats, ${methods} AS ms,
             ${measures.map(([n, e]) => `${e} AS ${n}`).join(', ')}
      FROM (SELECT * FROM (${from}) WHERE ${scope('date_key')}) f LEFT JOIN ${ordersOf(`SELECT order_id FROM (${from}) WHERE ${scope('date_key')}`, scope)} o ON o.order_id = f.order_id GROUP BY ALL),
    c AS (SELECT * EXCLUDE (cats), unnest(list_prepend('${ALL}', cats)) AS category FROM g),
    m AS (SELECT * EXCLUDE (ms), unnest(list_prepend('${ALL}', ms)) AS method FROM c)
    SELECT date_key, category, region, method, ${[...dims, ''].join(', ')}${measures.map(([n]) => `coalesce(sum(${n}), 0)::BIGINT AS ${n}`).join(', ')}
    FROM m GROUP BY ALL${sorted ? ' ORDER BY category, method, date_key' : ''}`;
}

const DEFINITIONS: Omit<Aggregate, 'sql'>[] = [
  {
    table: 'fact_order',
    key: 'order_id',
    description: 'One row per order: totals, región, customer (first order, new or returning), the categories of its lines (with the amount and units of each) and the payment methods of its attempts (also as `|a|b|` strings for fast pre-filtering).',
    sources: ['fact_order_line', 'dim_product', 'fact_payment_attempt', 'dim_customer'],
    build: (scope) => `
      WITH oc AS (
        SELECT l.order_id, ${CATEGORY} AS category, any_value(l.customer_id) AS customer_id, any_value(l.region) AS region,
               min(l.date_key) AS date_key, min(l.occurred_at) AS occurred_at, sum(l.amount) AS amount, sum(l.quantity) AS units
        FROM fact_order_line l LEFT JOIN dim_product p ON p.sku = l.sku WHERE ${scope('l.order_id')} GROUP BY ALL),
      o AS (
        SELECT order_id, any_value(customer_id) AS customer_id, any_value(region) AS region, min(date_key) AS date_key,
               min(occurred_at) AS occurred_at, sum(amount)::BIGINT AS amount, sum(units)::BIGINT AS units,
               -- Sorted by category (structs compare field by field) so the row never depends on load order.
               list_sort(list({'category': category, 'amount': amount::BIGINT, 'units': units::BIGINT})) AS per_category
        FROM oc GROUP BY order_id),
      m AS (
        SELECT order_id, list_sort(list(DISTINCT method)) AS methods FROM fact_payment_attempt
        WHERE method IS NOT NULL AND order_id IS NOT NULL AND ${scope('order_id')} GROUP BY order_id)
      SELECT o.order_id, o.customer_id, o.region, o.date_key, o.occurred_at, o.amount, o.units,
             list_transform(o.per_category, x -> x.category) AS categories, list_transform(o.per_category, x -> x.amount) AS category_amounts,
             list_transform(o.per_category, x -> x.units) AS category_units, coalesce(m.methods, []::VARCHAR[]) AS methods,
             -- '|a|b|' strings: a substring test is a cheap pre-filter before list_contains on wide scans.
             '|' || array_to_string(list_transform(o.per_category, x -> x.category), '|') || '|' AS category_set,
             '|' || array_to_string(coalesce(m.methods, []::VARCHAR[]), '|') || '|' AS method_set, d.first_order_at,
             CASE WHEN d.customer_id IS NULL THEN NULL WHEN o.occurred_at <= d.first_order_at THEN 'new' ELSE 'returning' END AS customer_kind
      FROM o LEFT JOIN m ON m.order_id = o.order_id LEFT JOIN ${scope === WHOLE ? 'dim_customer' : '(SELECT * FROM dim_customer WHERE customer_id IN (SELECT customer_id FROM o))'} d ON d.customer_id = o.customer_id
      ORDER BY o.date_key, o.occurred_at`,
  },
  {
    table: 'fact_order_member',
    key: 'date_key',
    description: `fact_order exploded for filtering: one row per order × each of its categories and '${ALL}' × each of its methods and '${ALL}' (amount and units those of the category), sorted by (category, method, day). Customers, hour of day, cohorts and RFM read a few contiguous rows of it.`,
    sources: ['fact_order'],
    build: (scope) => `
      SELECT * EXCLUDE (ms), unnest(list_prepend('${ALL}', ms)) AS method FROM (
        SELECT date_key, region, customer_id, occurred_at, first_order_at, methods AS ms,
               unnest(list_prepend('${ALL}', categories)) AS category, unnest(list_prepend(amount, category_amounts)) AS amount,
               unnest(list_prepend(units, category_units)) AS units
        FROM fact_order WHERE ${scope('date_key')})
      ORDER BY category, method, date_key`,
  },
  {
    table: 'agg_sales_daily',
    key: 'date_key',
    description: `Order lines per day × category × región × payment method ('${ALL}' = all): GMV, units, orders, new and returning orders.`,
    sources: ['fact_order'],
    build: (scope) => `
      WITH fo AS (SELECT * FROM fact_order WHERE ${scope('date_key')}),
      oc AS (
        -- unnest() calls in one SELECT list advance together: one row per (order, category).
        SELECT date_key, region, methods, customer_kind, unnest(categories) AS category, unnest(category_amounts) AS amount,
               unnest(category_units) AS units FROM fo
        UNION ALL
        SELECT date_key, region, methods, customer_kind, '${ALL}', amount, units FROM fo),
      g AS (
        SELECT date_key, category, region, methods, sum(amount) AS gmv, sum(units) AS units, count(*) AS orders,
               count(*) FILTER (WHERE customer_kind = 'new') AS new_orders, sum(amount) FILTER (WHERE customer_kind = 'new') AS new_gmv,
               count(*) FILTER (WHERE customer_kind = 'returning') AS returning_orders,
               sum(amount) FILTER (WHERE customer_kind = 'returning') AS returning_gmv
        FROM oc GROUP BY ALL),
      m AS (SELECT * EXCLUDE (methods), unnest(list_prepend('${ALL}', methods)) AS method FROM g)
      SELECT date_key, category, region, method, coalesce(sum(gmv), 0)::BIGINT AS gmv, coalesce(sum(units), 0)::BIGINT AS units,
             sum(orders)::BIGINT AS orders, sum(new_orders)::BIGINT AS new_orders, coalesce(sum(new_gmv), 0)::BIGINT AS new_gmv,
             sum(returning_orders)::BIGINT AS returning_orders, coalesce(sum(returning_gmv), 0)::BIGINT AS returning_gmv
      FROM m GROUP BY ALL ORDER BY category, method, date_key`,
  },
  {
    table: 'agg_payment_daily',
    key: 'date_key',
    description: `Payment attempts per day × category and región of the order × the attempt's method ('${ALL}' = all) × status × decline reason: attempts and amount.`,
    sources: ['fact_payment_attempt', 'fact_order'],
    build: (scope) => scoped('SELECT order_id, date_key, method, status, reason, amount FROM fact_payment_attempt', scope, ['status', 'reason'],
      [['attempts', 'count(*)'], ['amount', 'sum(f.amount)']], `CASE WHEN f.method IS NULL THEN []::VARCHAR[] ELSE [f.method] END`),
  },
  {
    table: 'agg_decline_minute',
    key: 'date_key',
    description: `Declined payment attempts per minute × category and región of the order × the attempt's method ('${ALL}' = all): card-testing bursts.`,
    sources: ['fact_payment_attempt', 'fact_order'],
    build: (scope) => scoped(`SELECT order_id, date_key, method, strftime(date_trunc('minute', occurred_at), '%Y-%m-%d %H:%M') AS minute FROM fact_payment_attempt
        WHERE status = 'rejected'`, scope, ['minute'], [['declines', 'count(*)']], `CASE WHEN f.method IS NULL THEN []::VARCHAR[] ELSE [f.method] END`),
  },
  {
    table: 'agg_refund_daily',
    key: 'date_key',
    description: `Refunds per day × category, región and payment method of the order ('${ALL}' = all).`,
    sources: ['fact_refund', 'fact_order'],
    build: (scope) => scoped('SELECT order_id, date_key, amount FROM fact_refund', scope, [], [['refunds', 'count(*)'], ['amount', 'sum(f.amount)']]),
  },
  {
    table: 'agg_ledger_daily',
    key: 'date_key',
    description: `Ledger postings per day × account × category, región and payment method of the order ('${ALL}' = all).`,
    sources: ['fact_ledger_posting', 'fact_order'],
    build: (scope) => scoped('SELECT order_id, date_key, account, amount FROM fact_ledger_posting', scope, ['account'],
      [['postings', 'count(*)'], ['amount', 'sum(f.amount)']]),
  },
  {
    table: 'agg_reconciliation_daily',
    key: 'date_key',
    description: `Reconciliation per day × payout × status × category, región and payment method of the order behind the processor reference ('${ALL}' = all).`,
    sources: ['reconciliation', 'fact_payment_attempt', 'fact_order'],
    // The attempt behind each reference is looked up only for the references of the days built.
    build: (scope) => scoped(`WITH r AS (SELECT * FROM reconciliation WHERE ${scope('date_key')})
        SELECT r.date_key, r.payout_id, r.status, r.ledger_amount, r.processor_amount, r.fee, a.order_id FROM r
        LEFT JOIN (SELECT processor_ref, any_value(order_id) AS order_id FROM fact_payment_attempt WHERE processor_ref IS NOT NULL
          ${scope === WHOLE ? '' : 'AND processor_ref IN (SELECT processor_ref FROM r)'} GROUP BY 1) a
        ON a.processor_ref = r.processor_ref`, scope, ['payout_id', 'status'],
    [['items', 'count(*)'], ['ledger_amount', 'sum(f.ledger_amount)'], ['processor_amount', 'sum(f.processor_amount)'], ['fee', 'sum(f.fee)'],
      ['difference', 'sum(abs(coalesce(f.ledger_amount, 0) - coalesce(f.processor_amount, 0)))']]),
  },
  {
    table: 'agg_fraud_daily',
    key: 'date_key',
    description: `Fraud decisions per day × decision × score band (0, 10, … 90) × category, región and payment method of the order ('${ALL}' = all): decisions and the blocked amount (the order's amount in the category).`,
    sources: ['fact_fraud_decision', 'fact_order'],
    build: (scope) => `
      WITH f AS (SELECT order_id, date_key, decision, CAST(least(90, floor(score / 10) * 10) AS INTEGER) AS score_band FROM fact_fraud_decision
                 WHERE ${scope('date_key')}),
      counted AS (${scoped('SELECT * FROM f', WHOLE, ['decision', 'score_band'], [['decisions', 'count(*)']], undefined, false)}),
      blocked AS (
        SELECT date_key, category, region, method, decision, score_band, sum(amount) AS blocked_amount FROM (
          SELECT * EXCLUDE (ms), unnest(list_prepend('${ALL}', ms)) AS method FROM (
            SELECT f.date_key, f.decision, f.score_band, o.region, o.methods AS ms,
                   unnest(list_prepend('${ALL}', o.categories)) AS category, unnest(list_prepend(o.amount, o.category_amounts)) AS amount
            FROM f JOIN ${ordersOf(`SELECT order_id FROM f WHERE decision = 'block'`, scope)} o ON o.order_id = f.order_id
            WHERE f.decision = 'block'))
        GROUP BY ALL)
      SELECT date_key, category, region, method, decision, score_band, sum(decisions)::BIGINT AS decisions,
             coalesce(sum(blocked_amount), 0)::BIGINT AS blocked_amount
      FROM (SELECT *, 0 AS blocked_amount FROM counted UNION ALL BY NAME SELECT *, 0 AS decisions FROM blocked)
      GROUP BY ALL ORDER BY category, method, date_key`,
  },
];

/** The BI marts in build order (later ones read `fact_order`), each with its whole SQL. */
export const AGGREGATES: readonly Aggregate[] = DEFINITIONS.map((a) => ({ ...a, sql: a.build(WHOLE) }));

/** What the BI marts are built from: a change (a new deploy, a migration) makes the next upkeep rebuild them whole. */
export const AGGREGATES_DEFINITION = createHash('sha256').update(JSON.stringify(AGGREGATES.map((a) => [a.table, a.sql]))).digest('hex');

const STATE_DDL = `
CREATE TABLE IF NOT EXISTS agg_state (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS agg_pending_recon (processor_ref VARCHAR, date_key DATE)`;

/**
 * Creates the BI marts missing from the warehouse (older warehouses, or written by other tools)
 * from the facts, and their upkeep state; marts built with other definitions (a deploy that
 * changed one) are all rebuilt whole. Own transaction (called when the warehouse opens).
 */
export async function ensureAggregates(conn: DuckDBConnection): Promise<void> {
  await conn.run(STATE_DDL);
  const existing = new Set((await rows(conn, `SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary`)).map((r) => String(r.table_name)));
  const [built] = await rows(conn, `SELECT value FROM agg_state WHERE name = 'definition'`);
  const missing = AGGREGATES.filter((a) => !existing.has(a.table));
  if (missing.length === 0 && built?.value === AGGREGATES_DEFINITION) return;
  await conn.run('BEGIN TRANSACTION');
  try {
    if (built !== undefined && built.value !== AGGREGATES_DEFINITION) await rebuildAggregates(conn);
    else {
      // Warehouses from before upkeep was recorded had every mart rebuilt by each load: current.
      for (const a of missing) await conn.run(`CREATE TABLE ${a.table} AS ${a.sql}`);
      await conn.run(`INSERT OR REPLACE INTO agg_state VALUES ('definition', $1)`, [AGGREGATES_DEFINITION]);
    }
    await conn.run('COMMIT');
  } catch (err) {
    await conn.run('ROLLBACK');
    throw err;
  }
}

/**
 * Rebuilds every BI mart whole from the facts (inside the caller's transaction) and records
 * the definitions they were built with. The full path: first loads, facts rebuilt whole,
 * definition changes; loads otherwise go through `upkeepAggregates`.
 */
export async function rebuildAggregates(conn: DuckDBConnection): Promise<void> {
  await conn.run(STATE_DDL);
  for (const a of AGGREGATES) await conn.run(`CREATE OR REPLACE TABLE ${a.table} AS ${a.sql}`);
  await conn.run(`DELETE FROM agg_pending_recon`);
  await conn.run(`INSERT OR REPLACE INTO agg_state VALUES ('definition', $1)`, [AGGREGATES_DEFINITION]);
}
