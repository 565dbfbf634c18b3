import type { DuckDBConnection } from '@duckdb/node-api';
import type { MartSpec } from './mapping.js';

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
 */

/** The member of an exploded dimension that stands for "every value" (no filter). */
export const ALL = '*';

const CATEGORY = `coalesce(nullif(p.category, ''), 'uncategorised')`;

/**
 * Aggregates an order-scoped fact: grouped first (so the category/method lists are expanded
 * on a few rows, not on every fact row), then exploded and summed again. `from` must expose
 * `order_id` and `date_key`; `methods` is the method list a fact row counts under.
 */
function scoped(from: string, dims: string[], measures: [string, string][], methods = `coalesce(o.methods, []::VARCHAR[])`, sorted = true): string {
  const d = dims.map((x) => `f.${x}`);
  return `
    WITH g AS (
      SELECT f.date_key, ${[...d, ''].join(', ')}o.region, coalesce(o.categories, []::VARCHAR[]) AS cats, ${methods} AS ms,
             ${measures.map(([n, e]) => `${e} AS ${n}`).join(', ')}
      FROM (${from}) f LEFT JOIN fact_order o ON o.order_id = f.order_id GROUP BY ALL),
    c AS (SELECT * EXCLUDE (cats), unnest(list_prepend('${ALL}', cats)) AS category FROM g),
    m AS (SELECT * EXCLUDE (ms), unnest(list_prepend('${ALL}', ms)) AS method FROM c)
    SELECT date_key, category, region, method, ${[...dims, ''].join(', ')}${measures.map(([n]) => `coalesce(sum(${n}), 0)::BIGINT AS ${n}`).join(', ')}
    FROM m GROUP BY ALL${sorted ? ' ORDER BY category, method, date_key' : ''}`;
}

export const AGGREGATES: MartSpec[] = [
  {
    table: 'fact_order',
    description: 'One row per order: totals, región, customer (first order, new or returning), the categories of its lines (with the amount and units of each) and the payment methods of its attempts (also as `|a|b|` strings for fast pre-filtering).',
    sources: ['fact_order_line', 'dim_product', 'fact_payment_attempt', 'dim_customer'],
    sql: `
      WITH oc AS (
        SELECT l.order_id, ${CATEGORY} AS category, any_value(l.customer_id) AS customer_id, any_value(l.region) AS region,
               min(l.date_key) AS date_key, min(l.occurred_at) AS occurred_at, sum(l.amount) AS amount, sum(l.quantity) AS units
        FROM fact_order_line l LEFT JOIN dim_product p ON p.sku = l.sku GROUP BY ALL),
      o AS (
        SELECT order_id, any_value(customer_id) AS customer_id, any_value(region) AS region, min(date_key) AS date_key,
               min(occurred_at) AS occurred_at, sum(amount)::BIGINT AS amount, sum(units)::BIGINT AS units,
               -- Sorted by category (structs compare field by field) so the row never depends on load order.
               list_sort(list({'category': category, 'amount': amount::BIGINT, 'units': units::BIGINT})) AS per_category
        FROM oc GROUP BY order_id),
      m AS (
        SELECT order_id, list_sort(list(DISTINCT method)) AS methods FROM fact_payment_attempt
        WHERE method IS NOT NULL AND order_id IS NOT NULL GROUP BY order_id)
      SELECT o.order_id, o.customer_id, o.region, o.date_key, o.occurred_at, o.amount, o.units,
             list_transform(o.per_category, x -> x.category) AS categories, list_transform(o.per_category, x -> x.amount) AS category_amounts,
             list_transform(o.per_category, x -> x.units) AS category_units, coalesce(m.methods, []::VARCHAR[]) AS methods,
             -- '|a|b|' strings: a substring test is a cheap pre-filter before list_contains on wide scans.
             '|' || array_to_string(list_transform(o.per_category, x -> x.category), '|') || '|' AS category_set,
             '|' || array_to_string(coalesce(m.methods, []::VARCHAR[]), '|') || '|' AS method_set, d.first_order_at,
             CASE WHEN d.customer_id IS NULL THEN NULL WHEN o.occurred_at <= d.first_order_at THEN 'new' ELSE 'returning' END AS customer_kind
      FROM o LEFT JOIN m ON m.order_id = o.order_id LEFT JOIN dim_customer d ON d.customer_id = o.customer_id
      ORDER BY o.date_key, o.occurred_at`,
  },
  {
    table: 'fact_order_member',
    description: `fact_order exploded for filtering: one row per order × each of its categories and '${ALL}' × each of its methods and '${ALL}' (amount and units those of the category), sorted by (category, method, day). Customers, hour of day, cohorts and RFM read a few contiguous rows of it.`,
    sources: ['fact_order'],
    sql: `
      SELECT * EXCLUDE (ms), unnest(list_prepend('${ALL}', ms)) AS method FROM (
        SELECT date_key, region, customer_id, occurred_at, first_order_at, methods AS ms,
               unnest(list_prepend('${ALL}', categories)) AS category, unnest(list_prepend(amount, category_amounts)) AS amount,
               unnest(list_prepend(units, category_units)) AS units
        FROM fact_order)
      ORDER BY category, method, date_key`,
  },
  {
    table: 'agg_sales_daily',
    description: `Order lines per day × category × región × payment method ('${ALL}' = all): GMV, units, orders, new and returning orders.`,
    sources: ['fact_order'],
    sql: `
      WITH oc AS (
        -- unnest() calls in one SELECT list advance together: one row per (order, category).
        SELECT date_key, region, methods, customer_kind, unnest(categories) AS category, unnest(category_amounts) AS amount,
               unnest(category_units) AS units FROM fact_order
        UNION ALL
        SELECT date_key, region, methods, customer_kind, '${ALL}', amount, units FROM fact_order),
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
    description: `Payment attempts per day × category and región of the order × the attempt's method ('${ALL}' = all) × status × decline reason: attempts and amount.`,
    sources: ['fact_payment_attempt', 'fact_order'],
    sql: scoped('SELECT order_id, date_key, method, status, reason, amount FROM fact_payment_attempt', ['status', 'reason'],
      [['attempts', 'count(*)'], ['amount', 'sum(f.amount)']], `CASE WHEN f.method IS NULL THEN []::VARCHAR[] ELSE [f.method] END`),
  },
  {
    table: 'agg_decline_minute',
    description: `Declined payment attempts per minute × category and región of the order × the attempt's method ('${ALL}' = all): card-testing bursts.`,
    sources: ['fact_payment_attempt', 'fact_order'],
    sql: scoped(`SELECT order_id, date_key, method, strftime(date_trunc('minute', occurred_at), '%Y-%m-%d %H:%M') AS minute FROM fact_payment_attempt
        WHERE status = 'rejected'`, ['minute'], [['declines', 'count(*)']], `CASE WHEN f.method IS NULL THEN []::VARCHAR[] ELSE [f.method] END`),
  },
  {
    table: 'agg_refund_daily',
    description: `Refunds per day × category, región and payment method of the order ('${ALL}' = all).`,
    sources: ['fact_refund', 'fact_order'],
    sql: scoped('SELECT order_id, date_key, amount FROM fact_refund', [], [['refunds', 'count(*)'], ['amount', 'sum(f.amount)']]),
  },
  {
    table: 'agg_ledger_daily',
    description: `Ledger postings per day × account × category, región and payment method of the order ('${ALL}' = all).`,
    sources: ['fact_ledger_posting', 'fact_order'],
    sql: scoped('SELECT order_id, date_key, account, amount FROM fact_ledger_posting', ['account'], [['postings', 'count(*)'], ['amount', 'sum(f.amount)']]),
  },
  {
    table: 'agg_reconciliation_daily',
    description: `Reconciliation per day × payout × status × category, región and payment method of the order behind the processor reference ('${ALL}' = all).`,
    sources: ['reconciliation', 'fact_payment_attempt', 'fact_order'],
    sql: scoped(`SELECT r.date_key, r.payout_id, r.status, r.ledger_amount, r.processor_amount, r.fee, a.order_id FROM reconciliation r
        LEFT JOIN (SELECT processor_ref, any_value(order_id) AS order_id FROM fact_payment_attempt WHERE processor_ref IS NOT NULL GROUP BY 1) a
        ON a.processor_ref = r.processor_ref`, ['payout_id', 'status'],
    [['items', 'count(*)'], ['ledger_amount', 'sum(f.ledger_amount)'], ['processor_amount', 'sum(f.processor_amount)'], ['fee', 'sum(f.fee)'],
      ['difference', 'sum(abs(coalesce(f.ledger_amount, 0) - coalesce(f.processor_amount, 0)))']]),
  },
  {
    table: 'agg_fraud_daily',
    description: `Fraud decisions per day × decision × score band (0, 10, … 90) × category, región and payment method of the order ('${ALL}' = all): decisions and the blocked amount (the order's amount in the category).`,
    sources: ['fact_fraud_decision', 'fact_order'],
    sql: `
      WITH f AS (SELECT order_id, date_key, decision, CAST(least(90, floor(score / 10) * 10) AS INTEGER) AS score_band FROM fact_fraud_decision),
      counted AS (${scoped('SELECT * FROM f', ['decision', 'score_band'], [['decisions', 'count(*)']], undefined, false)}),
      blocked AS (
        SELECT date_key, category, region, method, decision, score_band, sum(amount) AS blocked_amount FROM (
          SELECT * EXCLUDE (ms), unnest(list_prepend('${ALL}', ms)) AS method FROM (
            SELECT f.date_key, f.decision, f.score_band, o.region, o.methods AS ms,
                   unnest(list_prepend('${ALL}', o.categories)) AS category, unnest(list_prepend(o.amount, o.category_amounts)) AS amount
            FROM f JOIN fact_order o ON o.order_id = f.order_id
            WHERE f.decision = 'block'))
        GROUP BY ALL)
      SELECT date_key, category, region, method, decision, score_band, sum(decisions)::BIGINT AS decisions,
             coalesce(sum(blocked_amount), 0)::BIGINT AS blocked_amount
      FROM (SELECT *, 0 AS blocked_amount FROM counted UNION ALL BY NAME SELECT *, 0 AS decisions FROM blocked)
      GROUP BY ALL ORDER BY category, method, date_key`,
  },
];

/** Rebuilds every BI mart from the facts (inside the caller's transaction). */
export async function rebuildAggregates(conn: DuckDBConnection): Promise<void> {
  for (const a of AGGREGATES) await conn.run(`CREATE OR REPLACE TABLE ${a.table} AS ${a.sql}`);
}
