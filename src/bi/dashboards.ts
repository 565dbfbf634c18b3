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
  /** Reads `Sources.demand()`: the dashboard computes it once and hands it to every such panel. */
  usesDemand?: boolean;
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

export type FilterKey = 'date' | 'category' | 'location' | 'region' | 'method';

export interface Dashboard {
  id: DashboardId;
  title: string;
  description: string;
  /** Which global filters apply (the others are shown disabled, with `filterNotes` saying why). */
  filters: FilterKey[];
  filterNotes?: Partial<Record<FilterKey, string>>;
  panels: Panel[];
}

const day = `strftime(date_key, '%Y-%m-%d')`;
const ORDER_FILTERS: FilterKey[] = ['date', 'category', 'region', 'method'];

/**
 * Why the location filter does not reach order, payment and fraud panels: the warehouse has no
 * fulfilment location for an order (checkout's order events name none, and inventory's stock
 * events name no order), so there is nothing to filter those rows by.
 */
export const LOCATION_NOT_APPLICABLE = 'Orders carry no fulfilment location in the warehouse (order events name none; stock events name no order): location filters the stock panels only.';
const ORDER_NOTES: Dashboard['filterNotes'] = { location: LOCATION_NOT_APPLICABLE };

const approvedPayments = (s: Sources) => `SELECT * FROM (${s.payments()}) WHERE status = 'approved'`;
const chargebacks = (s: Sources) => `SELECT * FROM (${s.ledger()}) WHERE account = 'chargebacks'`;
const sales = (s: Sources) => s.agg('agg_sales_daily');
const paymentAgg = (s: Sources, status?: string) => `SELECT * FROM (${s.agg('agg_payment_daily')})${status ? ` WHERE status = '${status}'` : ''}`;
const recon = (s: Sources) => s.agg('agg_reconciliation_daily');
const fraudAgg = (s: Sources) => s.agg('agg_fraud_daily');
const scoreBand = (col: string, top: string) =>
  `CAST(least(90, CAST(floor(${col} / 10) * 10 AS INTEGER)) AS VARCHAR) || '–' || CAST(least(90, CAST(floor(${col} / 10) * 10 AS INTEGER)) + 9 + CASE WHEN ${top} THEN 1 ELSE 0 END AS VARCHAR)`;

const newVsReturning = (s: Sources) => `SELECT * FROM (${s.orders()}) WHERE customer_kind IS NOT NULL`;

/** `orders`: the filtered orders, from `fact_order_member` (panels) or `fact_order` (drill-downs, with order ids). */
type OrderRows = (s: Sources) => string;
const fromMembers: OrderRows = (s) => s.orderMembers();
const fromOrders: OrderRows = (s) => s.orders();

const cohorts = (orders: OrderRows) => (s: Sources) =>
  `SELECT *, strftime(first_order_at, '%Y-%m') AS cohort,
          datediff('month', date_trunc('month', first_order_at), date_trunc('month', occurred_at)) AS month_offset
   FROM (${orders(s)}) WHERE first_order_at IS NOT NULL`;

/** RFM: quintile scores over the filtered customers, then the usual segment names. */
const rfm = (orders: OrderRows) => (s: Sources) =>
  `WITH c AS (SELECT customer_id, datediff('day', max(date_key), ${s.toDate()}) AS recency_days, count(*) AS frequency, sum(amount) AS monetary
              FROM (${orders(s)}) WHERE customer_id IS NOT NULL GROUP BY customer_id),
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

/**
 * The dashboards, panel by panel. Order, payment and fraud figures read the `agg_*_daily` marts
 * (exact under every filter, see src/analytics/aggregates.ts); their drill-downs, and the
 * panels that need a finer grain (hour, minute, customer), read the facts.
 */
export function dashboards(): Dashboard[] {
  return [
    {
      id: 'earnings',
      title: 'Earnings reconciliation',
      description: 'GMV, net revenue, fees, refunds and chargebacks; ledger vs processor settlements and the breaks to fix.',
      filters: ORDER_FILTERS,
      filterNotes: ORDER_NOTES,
      panels: [
        {
          kind: 'warehouse', id: 'gmv', title: 'GMV', chart: 'kpi', format: 'clp', source: sales, measures: [{ name: 'value', expr: 'coalesce(sum(gmv), 0)' }],
          drill: { source: (s) => s.lines() },
        },
        {
          kind: 'warehouse', id: 'net_revenue', title: 'Net revenue', chart: 'kpi', format: 'clp',
          source: (s) => `SELECT (SELECT coalesce(sum(amount), 0) FROM (${paymentAgg(s, 'approved')}))
              - (SELECT coalesce(sum(amount), 0) FROM (${s.agg('agg_refund_daily')}))
              - (SELECT coalesce(sum(fee), 0) FROM (${recon(s)}))
              - (SELECT coalesce(sum(amount), 0) FROM (${s.agg('agg_ledger_daily')}) WHERE account = 'chargebacks') AS net`,
          measures: [{ name: 'value', expr: 'any_value(net)' }],
          drill: { source: approvedPayments },
          note: 'Approved payments − refunds − processor fees − chargebacks',
        },
        {
          kind: 'warehouse', id: 'fees', title: 'Processor fees', chart: 'kpi', format: 'clp', source: recon, measures: [{ name: 'value', expr: 'coalesce(sum(fee), 0)' }],
          drill: { source: (s) => s.reconciliation() },
        },
        {
          kind: 'warehouse', id: 'refunds', title: 'Refunds', chart: 'kpi', format: 'clp', source: (s) => s.agg('agg_refund_daily'), measures: [{ name: 'value', expr: 'coalesce(sum(amount), 0)' }],
          drill: { source: (s) => s.refunds() },
        },
        {
          kind: 'warehouse', id: 'chargebacks', title: 'Chargebacks', chart: 'kpi', format: 'clp',
          source: (s) => `SELECT * FROM (${s.agg('agg_ledger_daily')}) WHERE account = 'chargebacks'`, measures: [{ name: 'value', expr: 'coalesce(sum(amount), 0)' }],
          drill: { source: chargebacks },
        },
        {
          kind: 'warehouse', id: 'gmv_by_day', title: 'GMV and approved payments per day', chart: 'line', format: 'clp',
          source: (s) => `SELECT date_key, gmv AS amount, 'gmv' AS kind FROM (${sales(s)}) UNION ALL SELECT date_key, amount, 'approved' FROM (${paymentAgg(s, 'approved')})`,
          dim: day,
          measures: [{ name: 'GMV', expr: `coalesce(sum(amount) FILTER (WHERE kind = 'gmv'), 0)` }, { name: 'Approved', expr: `coalesce(sum(amount) FILTER (WHERE kind = 'approved'), 0)` }],
          drill: { source: (s) => s.lines(), dim: day },
        },
        {
          kind: 'warehouse', id: 'ledger_vs_processor', title: 'Ledger vs processor settlement per day', chart: 'bar', format: 'clp',
          source: recon, dim: day,
          measures: [{ name: 'Ledger', expr: 'coalesce(sum(ledger_amount), 0)' }, { name: 'Processor', expr: 'coalesce(sum(processor_amount), 0)' }],
          drill: { source: (s) => s.reconciliation(), dim: day },
        },
        {
          kind: 'warehouse', id: 'by_payout', title: 'Settlement per payout', chart: 'hbar', format: 'clp',
          source: recon, dim: `coalesce(payout_id, '(not paid out)')`,
          measures: [{ name: 'Ledger', expr: 'coalesce(sum(ledger_amount), 0)' }, { name: 'Processor', expr: 'coalesce(sum(processor_amount), 0)' }, { name: 'Fees', expr: 'sum(fee)' }],
          limit: 30,
          drill: { source: (s) => s.reconciliation(), dim: `coalesce(payout_id, '(not paid out)')` },
        },
        {
          kind: 'warehouse', id: 'breaks', title: 'Breaks by type (click for the rows to fix)', chart: 'bar', format: 'int',
          source: (s) => `SELECT * FROM (${recon(s)}) WHERE status <> 'matched'`, dim: 'status',
          measures: [{ name: 'Breaks', expr: 'sum(items)' }, { name: 'Difference', expr: 'sum(difference)', format: 'clp' }],
          drill: { source: (s) => `SELECT * FROM (${s.reconciliation()}) WHERE status <> 'matched'`, dim: 'status' },
        },
      ],
    },
    {
      id: 'fraud',
      title: 'Fraud',
      description: 'Approval rate, declines, rule hits, reviews, card-testing bursts, risk scores and blocked amount.',
      filters: ORDER_FILTERS,
      filterNotes: ORDER_NOTES,
      panels: [
        {
          kind: 'warehouse', id: 'approval_rate', title: 'Approval rate', chart: 'kpi', format: 'pct', source: (s) => paymentAgg(s),
          measures: [{ name: 'value', expr: `coalesce(sum(attempts) FILTER (WHERE status = 'approved') / nullif(sum(attempts) FILTER (WHERE status IN ('approved', 'rejected')), 0), 0)` }],
          drill: { source: (s) => s.payments() },
        },
        {
          kind: 'warehouse', id: 'declined', title: 'Declined attempts', chart: 'kpi', format: 'int', source: (s) => paymentAgg(s, 'rejected'), measures: [{ name: 'value', expr: 'coalesce(sum(attempts), 0)' }],
          drill: { source: (s) => `SELECT * FROM (${s.payments()}) WHERE status = 'rejected'` },
        },
        {
          kind: 'warehouse', id: 'under_review', title: 'Orders under review', chart: 'kpi', format: 'int',
          source: (s) => `SELECT * FROM (${fraudAgg(s)}) WHERE decision = 'review'`, measures: [{ name: 'value', expr: 'coalesce(sum(decisions), 0)' }],
          drill: { source: (s) => `SELECT * FROM (${s.fraud()}) WHERE decision = 'review'` },
        },
        {
          kind: 'warehouse', id: 'blocked_amount', title: 'Blocked amount', chart: 'kpi', format: 'clp',
          source: (s) => `SELECT * FROM (${fraudAgg(s)}) WHERE decision = 'block'`, measures: [{ name: 'value', expr: 'coalesce(sum(blocked_amount), 0)' }],
          drill: { source: (s) => s.ordersDecided('block') },
          note: 'Amount of the orders blocked by a fraud decision in the range',
        },
        {
          kind: 'warehouse', id: 'declines_by_reason', title: 'Declines by reason', chart: 'hbar', format: 'int',
          source: (s) => paymentAgg(s, 'rejected'), dim: `coalesce(reason, 'unknown')`,
          measures: [{ name: 'Declines', expr: 'sum(attempts)' }], orderBy: '2 DESC', limit: 20,
          drill: { source: (s) => `SELECT * FROM (${s.payments()}) WHERE status = 'rejected'`, dim: `coalesce(reason, 'unknown')` },
        },
        {
          kind: 'warehouse', id: 'decisions', title: 'Fraud decisions', chart: 'pie', format: 'int', source: fraudAgg, dim: 'decision', measures: [{ name: 'Orders', expr: 'sum(decisions)' }],
          drill: { source: (s) => s.fraud(), dim: 'decision' },
        },
        {
          kind: 'warehouse', id: 'score_distribution', title: 'Risk-score distribution', chart: 'bar', format: 'int', source: (s) => `SELECT * FROM (${fraudAgg(s)}) WHERE decisions > 0`,
          dim: scoreBand('score_band', 'score_band >= 90'), measures: [{ name: 'Orders', expr: 'sum(decisions)' }], orderBy: 'min(score_band)',
          drill: { source: (s) => s.fraud(), dim: scoreBand('score', 'score >= 90') },
        },
        {
          kind: 'warehouse', id: 'card_testing', title: 'Card-testing bursts (minutes with ≥ 5 declines)', chart: 'bar', format: 'int',
          source: (s) => `SELECT minute, sum(declines) AS declines FROM (${s.agg('agg_decline_minute')}) GROUP BY 1 HAVING sum(declines) >= 5`,
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
      filterNotes: ORDER_NOTES,
      panels: [
        { kind: 'warehouse', id: 'orders', title: 'Orders', chart: 'kpi', format: 'int', source: sales, measures: [{ name: 'value', expr: 'coalesce(sum(orders), 0)' }], drill: { source: (s) => s.orders() } },
        {
          kind: 'warehouse', id: 'aov', title: 'Average order value', chart: 'kpi', format: 'clp', source: sales,
          measures: [{ name: 'value', expr: 'coalesce(round(sum(gmv) / nullif(sum(orders), 0)), 0)' }], drill: { source: (s) => s.orders() },
        },
        { kind: 'warehouse', id: 'units', title: 'Units sold', chart: 'kpi', format: 'int', source: sales, measures: [{ name: 'value', expr: 'coalesce(sum(units), 0)' }], drill: { source: (s) => s.lines() } },
        {
          kind: 'warehouse', id: 'customers', title: 'Customers', chart: 'kpi', format: 'int', source: fromMembers, measures: [{ name: 'value', expr: 'count(DISTINCT customer_id)' }],
          drill: { source: fromOrders },
        },
        {
          kind: 'warehouse', id: 'by_week', title: 'Sales by week', chart: 'line', format: 'clp', source: sales, dim: `strftime(date_trunc('week', date_key), '%Y-%m-%d')`,
          measures: [{ name: 'GMV', expr: 'sum(gmv)' }], drill: { source: (s) => s.lines(), dim: `strftime(date_trunc('week', date_key), '%Y-%m-%d')` },
        },
        {
          kind: 'warehouse', id: 'by_hour', title: 'Sales by hour of day', chart: 'bar', format: 'clp', source: fromMembers, dim: `lpad(CAST(hour(occurred_at) AS VARCHAR), 2, '0')`,
          measures: [{ name: 'GMV', expr: 'sum(amount)' }], drill: { source: (s) => s.lines(), dim: `lpad(CAST(hour(occurred_at) AS VARCHAR), 2, '0')` },
        },
        {
          kind: 'warehouse', id: 'by_weekday', title: 'Sales by weekday', chart: 'bar', format: 'clp', source: sales, dim: `CAST(isodow(date_key) AS VARCHAR) || ' ' || dayname(date_key)`,
          measures: [{ name: 'GMV', expr: 'sum(gmv)' }], drill: { source: (s) => s.lines(), dim: `CAST(isodow(date_key) AS VARCHAR) || ' ' || dayname(date_key)` },
        },
        {
          kind: 'warehouse', id: 'by_category', title: 'Sales by category', chart: 'pie', format: 'clp', source: (s) => s.agg('agg_sales_daily', { byCategory: true }), dim: 'category',
          measures: [{ name: 'GMV', expr: 'sum(gmv)' }], drill: { source: (s) => s.categorisedLines(), dim: 'category' },
        },
        {
          kind: 'warehouse', id: 'by_region', title: 'Sales by región', chart: 'hbar', format: 'clp', source: sales, dim: `coalesce(region, 'unknown')`,
          measures: [{ name: 'GMV', expr: 'sum(gmv)' }], orderBy: '2 DESC', drill: { source: (s) => s.lines(), dim: `coalesce(region, 'unknown')` },
        },
        {
          kind: 'warehouse', id: 'new_vs_returning', title: 'New vs returning customers', chart: 'pie', format: 'int',
          // One scan: each aggregate row gives its 'new' and its 'returning' part.
          source: (s) => `SELECT * FROM (SELECT unnest(['new', 'returning']) AS customer_kind, unnest([new_orders, returning_orders]) AS orders,
                          unnest([new_gmv, returning_gmv]) AS gmv FROM (${sales(s)})) WHERE orders > 0`,
          dim: 'customer_kind', measures: [{ name: 'Orders', expr: 'sum(orders)' }, { name: 'GMV', expr: 'sum(gmv)', format: 'clp' }],
          drill: { source: newVsReturning, dim: 'customer_kind' },
        },
        {
          kind: 'warehouse', id: 'cohorts', title: 'Cohort retention (customers active by months since first order)', chart: 'heatmap', format: 'int', source: cohorts(fromMembers),
          dim: 'cohort', dim2: 'month_offset', measures: [{ name: 'Customers', expr: 'count(DISTINCT customer_id)' }], orderBy: '1, 2', limit: 400,
          drill: { source: cohorts(fromOrders), dim: 'cohort' },
        },
        {
          kind: 'warehouse', id: 'rfm', title: 'RFM segments: size and value', chart: 'bar', format: 'int', source: rfm(fromMembers), dim: 'segment',
          measures: [{ name: 'Customers', expr: 'count(*)' }, { name: 'Value', expr: 'sum(monetary)', format: 'clp' }], orderBy: '3 DESC',
          drill: { source: rfm(fromOrders), dim: 'segment' },
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
          kind: 'warehouse', id: 'low_cover', title: 'Lowest days of cover', chart: 'hbar', format: 'num', source: stockWithCover, usesDemand: true,
          dim: `sku || ' @ ' || location_id`, measures: [{ name: 'Days of cover', expr: 'min(days_of_cover)' }], orderBy: '2 ASC NULLS LAST', limit: 15,
          drill: { source: movements, dim: `sku || ' @ ' || location_id` },
        },
        {
          kind: 'warehouse', id: 'stock_table', title: 'Stock on hand and days of cover', chart: 'table', source: stockWithCover, dim: 'sku', usesDemand: true,
          measures: [], orderBy: 'days_of_cover ASC NULLS LAST, sku', limit: 200, drill: { source: movements, dim: 'sku' },
          note: 'Demand is units sold per day over the date range (order filters applied), across locations.',
        },
        {
          kind: 'warehouse', id: 'stockouts_by_location', title: 'Stockouts by location', chart: 'bar', format: 'int',
          source: (s) => `SELECT * FROM (${s.stock()}) WHERE available <= 0`, dim: 'location_id', measures: [{ name: 'SKUs out', expr: 'count(*)' }],
        },
        {
          kind: 'warehouse', id: 'slow_movers', title: 'Slow movers (stock on hand, fewest units sold)', chart: 'table',
          source: (s, q) => `SELECT * FROM (${stockWithCover(s, q)}) WHERE on_hand > 0`, dim: 'sku', measures: [], orderBy: 'units_sold ASC, on_hand DESC', limit: 20, usesDemand: true,
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
