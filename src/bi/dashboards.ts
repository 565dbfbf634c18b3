import type { DashboardId } from './domain/roles.js';
import type { SqlParams, Sources } from './domain/filters.js';

export type ChartKind = 'kpi' | 'line' | 'bar' | 'hbar' | 'pie' | 'table' | 'heatmap';
export type Format = 'clp' | 'int' | 'pct' | 'num' | 'seconds';

/**
 * A panel over a warehouse row set. The panel's query groups `source` by `dim` (or reduces it
 * to one row for a KPI); drill-down returns the rows of `drill.source` whose `drill.dim`
 * equals the clicked label. Every SQL fragment is constant text: filter values are parameters.
 */
export interface WarehousePanel {
  kind: 'warehouse';
  id: string;
  title: string;
  chart: ChartKind;
  format?: Format;
  source: (s: Sources, q: SqlParams) => string;
  /** Grouping expression over the source's columns (absent for KPIs; a column name for tables). */
  dim?: string;
  /** Second grouping (heatmaps). */
  dim2?: string;
  measures: { name: string; expr: string; format?: Format }[];
  orderBy?: string;
  limit?: number;
  /** Where a click leads (default: the panel's own source and dim). */
  drill?: { source: (s: Sources, q: SqlParams) => string; dim?: string };
  note?: string;
}

/** A panel fed by another context's interface (operations) or an optional port. */
export interface PortPanel {
  kind: 'port';
  id: string;
  title: string;
  chart: ChartKind;
  format?: Format;
  port: 'paymentsPending' | 'janitor' | 'webhooks' | 'consumerLag' | 'etlFreshness' | 'errorRates' | 'alerts' | 'fraudRules' | 'reorder' | 'purchaseOrders' | 'reviewQueue';
  note?: string;
}

export type Panel = WarehousePanel | PortPanel;

export interface Dashboard {
  id: DashboardId;
  title: string;
  description: string;
  /** Which global filters apply (the others are shown as not applicable). */
  filters: ('date' | 'category' | 'location' | 'region' | 'method')[];
  panels: Panel[];
}

const day = `strftime(date_key, '%Y-%m-%d')`;
const ORDER_FILTERS: Dashboard['filters'] = ['date', 'category', 'region', 'method'];

const approvedPayments = (s: Sources) => `SELECT * FROM (${s.payments()}) WHERE status = 'approved'`;
const chargebacks = (s: Sources) => `SELECT * FROM (${s.ledger()}) WHERE account = 'chargebacks'`;

const categorised = (s: Sources, q: SqlParams, ctxCategories: () => [string, string][]) =>
  `SELECT l.*, coalesce(c.category, 'uncategorised') AS category FROM (${s.lines()}) l
   LEFT JOIN (SELECT m.sku, m.category FROM (SELECT unnest(from_json(${q.p(JSON.stringify(ctxCategories().map(([sku, category]) => ({ sku, category }))))}::VARCHAR,
     '[{"sku":"VARCHAR","category":"VARCHAR"}]')) AS m)) c ON c.sku = l.sku`;

const newVsReturning = (s: Sources) =>
  `SELECT o.*, CASE WHEN o.occurred_at <= d.first_order_at THEN 'new' ELSE 'returning' END AS customer_kind
   FROM (${s.orders()}) o JOIN dim_customer d USING (customer_id)`;

const cohorts = (s: Sources) =>
  `SELECT o.order_id, o.customer_id, strftime(d.first_order_at, '%Y-%m') AS cohort,
          datediff('month', date_trunc('month', d.first_order_at), date_trunc('month', o.occurred_at)) AS month_offset, o.amount
   FROM (${s.orders()}) o JOIN dim_customer d USING (customer_id)`;

/** RFM: quintile scores over the filtered customers, then the usual segment names. */
const rfm = (s: Sources) =>
  `WITH c AS (SELECT customer_id, datediff('day', max(date_key), ${s.toDate()}) AS recency_days, count(*) AS frequency, sum(amount) AS monetary
              FROM (${s.orders()}) WHERE customer_id IS NOT NULL GROUP BY customer_id),
   scored AS (SELECT *, ntile(5) OVER (ORDER BY recency_days DESC) AS r, ntile(5) OVER (ORDER BY frequency) AS f,
                     ntile(5) OVER (ORDER BY monetary) AS m FROM c)
   SELECT customer_id, recency_days, frequency, monetary, r, f, m,
          CASE WHEN r >= 4 AND f >= 4 THEN 'champions'
               WHEN f >= 4 THEN 'loyal'
               WHEN r >= 4 AND frequency = 1 THEN 'new'
               WHEN r <= 2 AND f >= 3 THEN 'at risk'
               WHEN r <= 2 THEN 'hibernating'
               ELSE 'potential' END AS segment
   FROM scored`;

const stockWithCover = (s: Sources, q: SqlParams) =>
  `SELECT st.sku, st.location_id, st.on_hand, st.reserved, st.available, coalesce(d.units, 0) AS units_sold,
          round(coalesce(d.units, 0) / ${q.p(s.days())}, 2) AS daily_demand,
          CASE WHEN coalesce(d.units, 0) > 0 THEN round(st.available / (d.units / ${q.p(s.days())}), 1) END AS days_of_cover
   FROM (${s.stock()}) st LEFT JOIN (${s.demand()}) d USING (sku)`;

const movements = (s: Sources) => `SELECT sku, location_id, on_hand, reserved, available, occurred_at FROM fact_stock_movement
  WHERE sku IN (SELECT sku FROM (${s.stock()}))`;

/** The dashboards, panel by panel. `categories` reads the catalogue map the request resolved. */
export function dashboards(categories: () => [string, string][]): Dashboard[] {
  return [
    {
      id: 'earnings',
      title: 'Earnings reconciliation',
      description: 'GMV, net revenue, fees, refunds and chargebacks; ledger vs processor settlements and the breaks to fix.',
      filters: ORDER_FILTERS,
      panels: [
        { kind: 'warehouse', id: 'gmv', title: 'GMV', chart: 'kpi', format: 'clp', source: (s) => s.lines(), measures: [{ name: 'value', expr: 'coalesce(sum(amount), 0)' }] },
        {
          kind: 'warehouse', id: 'net_revenue', title: 'Net revenue', chart: 'kpi', format: 'clp',
          source: (s) => `SELECT (SELECT coalesce(sum(amount), 0) FROM (${approvedPayments(s)}))
              - (SELECT coalesce(sum(amount), 0) FROM (${s.refunds()}))
              - (SELECT coalesce(sum(fee), 0) FROM (${s.reconciliation()}))
              - (SELECT coalesce(sum(amount), 0) FROM (${chargebacks(s)})) AS net`,
          measures: [{ name: 'value', expr: 'any_value(net)' }],
          drill: { source: approvedPayments },
          note: 'Approved payments − refunds − processor fees − chargebacks',
        },
        { kind: 'warehouse', id: 'fees', title: 'Processor fees', chart: 'kpi', format: 'clp', source: (s) => s.reconciliation(), measures: [{ name: 'value', expr: 'coalesce(sum(fee), 0)' }] },
        { kind: 'warehouse', id: 'refunds', title: 'Refunds', chart: 'kpi', format: 'clp', source: (s) => s.refunds(), measures: [{ name: 'value', expr: 'coalesce(sum(amount), 0)' }] },
        { kind: 'warehouse', id: 'chargebacks', title: 'Chargebacks', chart: 'kpi', format: 'clp', source: chargebacks, measures: [{ name: 'value', expr: 'coalesce(sum(amount), 0)' }] },
        {
          kind: 'warehouse', id: 'gmv_by_day', title: 'GMV and approved payments per day', chart: 'line', format: 'clp',
          source: (s) => `SELECT date_key, amount, 'gmv' AS kind FROM (${s.lines()}) UNION ALL SELECT date_key, amount, 'approved' FROM (${approvedPayments(s)})`,
          dim: day,
          measures: [{ name: 'GMV', expr: `coalesce(sum(amount) FILTER (WHERE kind = 'gmv'), 0)` }, { name: 'Approved', expr: `coalesce(sum(amount) FILTER (WHERE kind = 'approved'), 0)` }],
          drill: { source: (s) => s.lines(), dim: day },
        },
        {
          kind: 'warehouse', id: 'ledger_vs_processor', title: 'Ledger vs processor settlement per day', chart: 'bar', format: 'clp',
          source: (s) => s.reconciliation(), dim: day,
          measures: [{ name: 'Ledger', expr: 'coalesce(sum(ledger_amount), 0)' }, { name: 'Processor', expr: 'coalesce(sum(processor_amount), 0)' }],
        },
        {
          kind: 'warehouse', id: 'by_payout', title: 'Settlement per payout', chart: 'hbar', format: 'clp',
          source: (s) => s.reconciliation(), dim: `coalesce(payout_id, '(not paid out)')`,
          measures: [{ name: 'Ledger', expr: 'coalesce(sum(ledger_amount), 0)' }, { name: 'Processor', expr: 'coalesce(sum(processor_amount), 0)' }, { name: 'Fees', expr: 'sum(fee)' }],
          limit: 30,
        },
        {
          kind: 'warehouse', id: 'breaks', title: 'Breaks by type (click for the rows to fix)', chart: 'bar', format: 'int',
          source: (s) => `SELECT * FROM (${s.reconciliation()}) WHERE status <> 'matched'`, dim: 'status',
          measures: [{ name: 'Breaks', expr: 'count(*)' }, { name: 'Difference', expr: 'sum(abs(coalesce(ledger_amount, 0) - coalesce(processor_amount, 0)))', format: 'clp' }],
        },
      ],
    },
    {
      id: 'fraud',
      title: 'Fraud',
      description: 'Approval rate, declines, rule hits, reviews, card-testing bursts, risk scores and blocked amount.',
      filters: ORDER_FILTERS,
      panels: [
        {
          kind: 'warehouse', id: 'approval_rate', title: 'Approval rate', chart: 'kpi', format: 'pct', source: (s) => s.payments(),
          measures: [{ name: 'value', expr: `coalesce(count(*) FILTER (WHERE status = 'approved') / nullif(count(*) FILTER (WHERE status IN ('approved', 'rejected')), 0), 0)` }],
        },
        { kind: 'warehouse', id: 'declined', title: 'Declined attempts', chart: 'kpi', format: 'int', source: (s) => `SELECT * FROM (${s.payments()}) WHERE status = 'rejected'`, measures: [{ name: 'value', expr: 'count(*)' }] },
        { kind: 'warehouse', id: 'under_review', title: 'Orders under review', chart: 'kpi', format: 'int', source: (s) => `SELECT * FROM (${s.fraud()}) WHERE decision = 'review'`, measures: [{ name: 'value', expr: 'count(*)' }] },
        {
          kind: 'warehouse', id: 'blocked_amount', title: 'Blocked amount', chart: 'kpi', format: 'clp',
          source: (s) => `SELECT * FROM (${s.orders()}) WHERE order_id IN (SELECT order_id FROM (${s.fraud()}) WHERE decision = 'block')`,
          measures: [{ name: 'value', expr: 'coalesce(sum(amount), 0)' }],
        },
        {
          kind: 'warehouse', id: 'declines_by_reason', title: 'Declines by reason', chart: 'hbar', format: 'int',
          source: (s) => `SELECT * FROM (${s.payments()}) WHERE status = 'rejected'`, dim: `coalesce(reason, 'unknown')`,
          measures: [{ name: 'Declines', expr: 'count(*)' }], orderBy: '2 DESC', limit: 20,
        },
        { kind: 'warehouse', id: 'decisions', title: 'Fraud decisions', chart: 'pie', format: 'int', source: (s) => s.fraud(), dim: 'decision', measures: [{ name: 'Orders', expr: 'count(*)' }] },
        {
          kind: 'warehouse', id: 'score_distribution', title: 'Risk-score distribution', chart: 'bar', format: 'int', source: (s) => s.fraud(),
          dim: `CAST(least(90, CAST(floor(score / 10) * 10 AS INTEGER)) AS VARCHAR) || '–' || CAST(least(90, CAST(floor(score / 10) * 10 AS INTEGER)) + 9 + CASE WHEN score >= 90 THEN 1 ELSE 0 END AS VARCHAR)`,
          measures: [{ name: 'Orders', expr: 'count(*)' }], orderBy: 'min(score)',
        },
        {
          kind: 'warehouse', id: 'card_testing', title: 'Card-testing bursts (minutes with ≥ 5 declines)', chart: 'bar', format: 'int',
          source: (s) => `SELECT strftime(date_trunc('minute', occurred_at), '%Y-%m-%d %H:%M') AS minute, count(*) AS declines
                          FROM (${s.payments()}) WHERE status = 'rejected' GROUP BY 1 HAVING count(*) >= 5`,
          dim: 'minute', measures: [{ name: 'Declines', expr: 'sum(declines)' }], limit: 60,
          drill: { source: (s) => `SELECT * FROM (${s.payments()}) WHERE status = 'rejected'`, dim: `strftime(date_trunc('minute', occurred_at), '%Y-%m-%d %H:%M')` },
        },
        { kind: 'port', id: 'rule_hits', title: 'Rule hits, precision and recall', chart: 'table', port: 'fraudRules' },
      ],
    },
    {
      id: 'trends',
      title: 'Trends & customer profiles',
      description: 'Sales by hour, weekday and week, by category and región; AOV; new vs returning; cohorts; RFM segments.',
      filters: ORDER_FILTERS,
      panels: [
        { kind: 'warehouse', id: 'orders', title: 'Orders', chart: 'kpi', format: 'int', source: (s) => s.orders(), measures: [{ name: 'value', expr: 'count(*)' }] },
        { kind: 'warehouse', id: 'aov', title: 'Average order value', chart: 'kpi', format: 'clp', source: (s) => s.orders(), measures: [{ name: 'value', expr: 'coalesce(round(avg(amount)), 0)' }] },
        { kind: 'warehouse', id: 'units', title: 'Units sold', chart: 'kpi', format: 'int', source: (s) => s.lines(), measures: [{ name: 'value', expr: 'coalesce(sum(quantity), 0)' }] },
        { kind: 'warehouse', id: 'customers', title: 'Customers', chart: 'kpi', format: 'int', source: (s) => s.orders(), measures: [{ name: 'value', expr: 'count(DISTINCT customer_id)' }] },
        { kind: 'warehouse', id: 'by_week', title: 'Sales by week', chart: 'line', format: 'clp', source: (s) => s.lines(), dim: `strftime(date_trunc('week', date_key), '%Y-%m-%d')`, measures: [{ name: 'GMV', expr: 'sum(amount)' }] },
        { kind: 'warehouse', id: 'by_hour', title: 'Sales by hour of day', chart: 'bar', format: 'clp', source: (s) => s.lines(), dim: `lpad(CAST(hour(occurred_at) AS VARCHAR), 2, '0')`, measures: [{ name: 'GMV', expr: 'sum(amount)' }] },
        { kind: 'warehouse', id: 'by_weekday', title: 'Sales by weekday', chart: 'bar', format: 'clp', source: (s) => s.lines(), dim: `CAST(isodow(date_key) AS VARCHAR) || ' ' || dayname(date_key)`, measures: [{ name: 'GMV', expr: 'sum(amount)' }] },
        { kind: 'warehouse', id: 'by_category', title: 'Sales by category', chart: 'pie', format: 'clp', source: (s, q) => categorised(s, q, categories), dim: 'category', measures: [{ name: 'GMV', expr: 'sum(amount)' }] },
        { kind: 'warehouse', id: 'by_region', title: 'Sales by región', chart: 'hbar', format: 'clp', source: (s) => s.lines(), dim: `coalesce(region, 'unknown')`, measures: [{ name: 'GMV', expr: 'sum(amount)' }], orderBy: '2 DESC' },
        {
          kind: 'warehouse', id: 'new_vs_returning', title: 'New vs returning customers', chart: 'pie', format: 'int', source: newVsReturning, dim: 'customer_kind',
          measures: [{ name: 'Orders', expr: 'count(*)' }, { name: 'GMV', expr: 'sum(amount)', format: 'clp' }],
        },
        {
          kind: 'warehouse', id: 'cohorts', title: 'Cohort retention (customers active by months since first order)', chart: 'heatmap', format: 'int', source: cohorts,
          dim: 'cohort', dim2: 'month_offset', measures: [{ name: 'Customers', expr: 'count(DISTINCT customer_id)' }], orderBy: '1, 2', limit: 400,
        },
        {
          kind: 'warehouse', id: 'rfm', title: 'RFM segments: size and value', chart: 'bar', format: 'int', source: rfm, dim: 'segment',
          measures: [{ name: 'Customers', expr: 'count(*)' }, { name: 'Value', expr: 'sum(monetary)', format: 'clp' }], orderBy: '3 DESC',
        },
      ],
    },
    {
      id: 'stock',
      title: 'Stock control',
      description: 'Stock on hand and days of cover per SKU and location, stockouts, slow movers, reorder suggestions, open purchase orders.',
      filters: ['date', 'category', 'location', 'region', 'method'],
      panels: [
        { kind: 'warehouse', id: 'sku_locations', title: 'SKU-locations', chart: 'kpi', format: 'int', source: (s) => s.stock(), measures: [{ name: 'value', expr: 'count(*)' }] },
        { kind: 'warehouse', id: 'stockouts', title: 'Stockouts', chart: 'kpi', format: 'int', source: (s) => `SELECT * FROM (${s.stock()}) WHERE available <= 0`, measures: [{ name: 'value', expr: 'count(*)' }] },
        { kind: 'warehouse', id: 'units_on_hand', title: 'Units on hand', chart: 'kpi', format: 'int', source: (s) => s.stock(), measures: [{ name: 'value', expr: 'coalesce(sum(on_hand), 0)' }] },
        {
          kind: 'warehouse', id: 'low_cover', title: 'Lowest days of cover', chart: 'hbar', format: 'num', source: stockWithCover,
          dim: `sku || ' @ ' || location_id`, measures: [{ name: 'Days of cover', expr: 'min(days_of_cover)' }], orderBy: '2 ASC NULLS LAST', limit: 15,
          drill: { source: movements, dim: `sku || ' @ ' || location_id` },
        },
        {
          kind: 'warehouse', id: 'stock_table', title: 'Stock on hand and days of cover', chart: 'table', source: stockWithCover, dim: 'sku',
          measures: [], orderBy: 'days_of_cover ASC NULLS LAST, sku', limit: 200, drill: { source: movements, dim: 'sku' },
          note: 'Demand is units sold per day over the date range (order filters applied), across locations.',
        },
        {
          kind: 'warehouse', id: 'stockouts_by_location', title: 'Stockouts by location', chart: 'bar', format: 'int',
          source: (s) => `SELECT * FROM (${s.stock()}) WHERE available <= 0`, dim: 'location_id', measures: [{ name: 'SKUs out', expr: 'count(*)' }],
        },
        {
          kind: 'warehouse', id: 'slow_movers', title: 'Slow movers (stock on hand, fewest units sold)', chart: 'table',
          source: (s, q) => `SELECT * FROM (${stockWithCover(s, q)}) WHERE on_hand > 0`, dim: 'sku', measures: [], orderBy: 'units_sold ASC, on_hand DESC', limit: 20,
          drill: { source: movements, dim: 'sku' },
        },
        { kind: 'port', id: 'reorder', title: 'Reorder suggestions', chart: 'table', port: 'reorder' },
        { kind: 'port', id: 'open_pos', title: 'Open purchase orders', chart: 'table', port: 'purchaseOrders' },
      ],
    },
    {
      id: 'operations',
      title: 'Operations',
      description: 'What the on-call engineer opens first: stuck payments, janitor, webhooks, consumer lag, ETL freshness, data quality, errors.',
      filters: [],
      panels: [
        { kind: 'port', id: 'alerts', title: 'Firing alerts', chart: 'table', port: 'alerts' },
        { kind: 'port', id: 'etl_freshness', title: 'Warehouse freshness', chart: 'kpi', format: 'seconds', port: 'etlFreshness' },
        { kind: 'port', id: 'janitor', title: 'Janitor backlog (due)', chart: 'kpi', format: 'int', port: 'janitor' },
        { kind: 'port', id: 'webhook_failures', title: 'Webhooks unprocessed', chart: 'kpi', format: 'int', port: 'webhooks' },
        { kind: 'port', id: 'pending_by_age', title: 'Payments stuck in pending, by age', chart: 'bar', format: 'int', port: 'paymentsPending' },
        { kind: 'port', id: 'consumer_lag', title: 'Consumer lag', chart: 'table', port: 'consumerLag' },
        {
          kind: 'warehouse', id: 'dq_status', title: 'Data-quality checks (last run)', chart: 'table',
          source: () => `SELECT name, "table", kind, blocking, failures, passed, run_at FROM dq_result WHERE run_at = (SELECT max(run_at) FROM dq_result)`,
          dim: 'name', measures: [], orderBy: 'passed, name', limit: 100,
          drill: { source: () => `SELECT * FROM dq_result`, dim: 'name' },
        },
        { kind: 'port', id: 'error_rates', title: 'HTTP error rates (this process)', chart: 'table', port: 'errorRates' },
      ],
    },
  ];
}
