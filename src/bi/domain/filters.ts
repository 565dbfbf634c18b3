import { z } from 'zod';

const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date like 2026-11-30');
// `*` is the warehouse aggregates' "all" member: never a filter value.
const Label = z.string().min(1).max(80).refine((v) => v !== '*', 'not a value');

/** The global filters every panel applies (validated at the edge, passed as parameters). */
export const Filters = z.object({
  from: Day,
  to: Day,
  category: Label.optional(),
  location: Label.optional(),
  region: Label.optional(),
  method: Label.optional(),
}).strict();
export type Filters = z.infer<typeof Filters>;

/** Parameter values the warehouse driver accepts. */
export type Param = string | number | boolean | null;

/**
 * Collects positional parameters while SQL text is assembled from constant fragments only:
 * every user-provided value goes through `p()`.
 *
 * @example
 * const q = new SqlParams();
 * const sql = `SELECT * FROM fact_order_line WHERE region = ${q.p(filters.region)}`;
 * await analytics.query(sql, { params: q.values });
 */
export class SqlParams {
  readonly values: Param[] = [];
  p(value: Param): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  /** A VARCHAR list parameter, usable as `x IN (${q.list(xs)})`. */
  list(values: readonly string[]): string {
    return `SELECT unnest(from_json(${this.p(JSON.stringify(values))}::VARCHAR, '["VARCHAR"]'))`;
  }
}

/**
 * The member of the warehouse's exploded category/method dimensions meaning "all" (analytics'
 * `agg_*_daily` marts). A filter value can never be it (see `Label`).
 */
export const ALL = '*';

/** The `agg_*_daily` marts the panels read instead of the facts. */
export type Aggregate = 'agg_sales_daily' | 'agg_payment_daily' | 'agg_decline_minute' | 'agg_refund_daily' | 'agg_ledger_daily' | 'agg_reconciliation_daily' | 'agg_fraud_daily';

/**
 * The row sets panels aggregate over, each with the filters that apply to it. Order facts take
 * date, región, category and payment method; payment facts take them through their order
 * (`fact_order` carries each order's región, line categories and attempt methods); stock takes
 * location and category. Orders carry no fulfilment location in the warehouse, so location
 * applies to stock only (see `LOCATION_NOT_APPLICABLE`).
 *
 * Categories are the warehouse's (`dim_product.category`, from the catalogue's events), the
 * same ones the aggregates were built with, so a panel and its drill-down always agree.
 */
export class Sources {
  /**
   * `shared.demand`: the demand rows (`demandRows()`), already read once for the whole
   * dashboard, as JSON; panels then read them from a parameter instead of scanning the lines again.
   */
  constructor(private readonly q: SqlParams, private readonly f: Filters, private readonly shared: { demand?: string } = {}) {}

  private skus(): string | undefined {
    if (!this.f.category) return undefined;
    return `sku IN (SELECT sku FROM dim_product WHERE coalesce(nullif(category, ''), 'uncategorised') = ${this.q.p(this.f.category)})`;
  }

  private dates(col = 'date_key'): string {
    return `${col} BETWEEN ${this.q.p(this.f.from)}::DATE AND ${this.q.p(this.f.to)}::DATE`;
  }

  /**
   * An aggregate's rows under the filters: one category and one method member each (`ALL`
   * when unfiltered), so sums over the rows are exact. `byCategory` keeps every real category
   * instead (for a breakdown by category when no category is picked).
   */
  agg(table: Aggregate, opts: { byCategory?: boolean } = {}): string {
    const w = [this.dates()];
    if (opts.byCategory && !this.f.category) w.push(`category <> '${ALL}'`);
    else w.push(`category = ${this.q.p(this.f.category ?? ALL)}`);
    w.push(`method = ${this.q.p(this.f.method ?? ALL)}`);
    if (this.f.region) w.push(`region = ${this.q.p(this.f.region)}`);
    return `SELECT * FROM ${table} WHERE ${w.join(' AND ')}`;
  }

  /**
   * One row per order placed in the range matching the filters (`fact_order_member`: the
   * category's amount under a category filter), for customers, hours, cohorts and RFM.
   */
  orderMembers(): string {
    const w = [this.dates(), `category = ${this.q.p(this.f.category ?? ALL)}`, `method = ${this.q.p(this.f.method ?? ALL)}`];
    if (this.f.region) w.push(`region = ${this.q.p(this.f.region)}`);
    return `SELECT customer_id, region, date_key, occurred_at, amount, units, first_order_at FROM fact_order_member WHERE ${w.join(' AND ')}`;
  }

  /** Conditions on `fact_order` for región, category and (unless `method: false`) payment method. */
  private orderConditions(opts: { method?: boolean } = {}): string[] {
    const w: string[] = [];
    if (this.f.region) w.push(`region = ${this.q.p(this.f.region)}`);
    if (this.f.category) w.push(this.member('category', this.f.category));
    if (this.f.method && opts.method !== false) w.push(this.member('method', this.f.method));
    return w;
  }

  /** `fact_order` has `value` among its categories/methods: a substring pre-filter, then the exact list test. */
  private member(kind: 'category' | 'method', value: string): string {
    const v = this.q.p(value);
    return `contains(${kind}_set, '|' || ${v} || '|') AND list_contains(${kind === 'category' ? 'categories' : 'methods'}, ${v})`;
  }

  /**
   * Order ids matching the non-date order filters, or undefined when none is set. Facts about
   * an order (payments, refunds, ledger, fraud) happen after it was placed, so only orders
   * placed by the end of the range can match: that bound prunes the scan.
   */
  orderScope(opts: { method?: boolean } = {}): string | undefined {
    const w = this.orderConditions(opts);
    if (w.length === 0) return undefined;
    return `order_id IN (SELECT order_id FROM fact_order WHERE date_key <= ${this.q.p(this.f.to)}::DATE AND ${w.join(' AND ')})`;
  }

  lines(): string {
    const w = [this.dates()];
    if (this.f.region) w.push(`region = ${this.q.p(this.f.region)}`);
    const skus = this.skus();
    if (skus) w.push(skus);
    if (this.f.method) w.push(`order_id IN (SELECT order_id FROM fact_order WHERE ${this.dates()} AND ${this.member('method', this.f.method)})`);
    return `SELECT order_id, line_no, customer_id, sku, quantity, unit_price, amount, comuna, region, date_key, occurred_at
      FROM fact_order_line WHERE ${w.join(' AND ')}`;
  }

  /** Order lines with their category (for breakdowns and drill-downs by category). */
  categorisedLines(): string {
    return `SELECT l.*, coalesce(nullif(p.category, ''), 'uncategorised') AS category FROM (${this.lines()}) l LEFT JOIN dim_product p ON p.sku = l.sku`;
  }

  /**
   * One row per order placed in the range; under a category filter its amount and units are
   * those of the lines in that category (as if the other lines were filtered out).
   */
  orders(): string {
    const w = [this.dates(), ...this.orderConditions()];
    const amount = this.f.category ? `category_amounts[list_position(categories, ${this.q.p(this.f.category)})]` : 'amount';
    const units = this.f.category ? `category_units[list_position(categories, ${this.q.p(this.f.category)})]` : 'units';
    return `SELECT order_id, customer_id, region, date_key, occurred_at, ${amount} AS amount, ${units} AS units, first_order_at, customer_kind
      FROM fact_order WHERE ${w.join(' AND ')}`;
  }

  /** Orders (as `orders()`) with a fraud decision `decision` taken in the range, whenever they were placed. */
  ordersDecided(decision: string): string {
    const w = this.orderConditions();
    w.push(`order_id IN (SELECT order_id FROM fact_fraud_decision WHERE ${this.dates()} AND decision = ${this.q.p(decision)})`);
    const amount = this.f.category ? `category_amounts[list_position(categories, ${this.q.p(this.f.category)})]` : 'amount';
    return `SELECT order_id, customer_id, region, date_key, occurred_at, ${amount} AS amount FROM fact_order WHERE ${w.join(' AND ')}`;
  }

  private scoped(table: string, cols: string): string {
    const w = [this.dates()];
    const scope = this.orderScope();
    if (scope) w.push(scope);
    return `SELECT ${cols} FROM ${table} WHERE ${w.join(' AND ')}`;
  }

  payments(): string {
    // Method is on the attempt itself; the scope adds región/category through the order.
    const w = [this.dates()];
    if (this.f.method) w.push(`method = ${this.q.p(this.f.method)}`);
    const scope = this.orderScope({ method: false });
    if (scope) w.push(scope);
    return `SELECT attempt_id, order_id, status, amount, method, processor, processor_ref, reason, date_key, occurred_at
      FROM fact_payment_attempt WHERE ${w.join(' AND ')}`;
  }

  refunds(): string {
    return this.scoped('fact_refund', 'refund_id, order_id, attempt_id, amount, date_key, occurred_at');
  }

  ledger(): string {
    return this.scoped('fact_ledger_posting', 'posting_id, account, order_id, attempt_id, processor_ref, amount, date_key, occurred_at');
  }

  fraud(): string {
    return this.scoped('fact_fraud_decision', 'order_id, decision, score, date_key, occurred_at');
  }

  reconciliation(): string {
    const w = [this.dates()];
    const scope = this.orderScope();
    if (scope) w.push(`processor_ref IN (SELECT processor_ref FROM fact_payment_attempt WHERE processor_ref IS NOT NULL AND ${scope})`);
    return `SELECT date_key, payout_id, processor_ref, ledger_amount, processor_amount, fee, status FROM reconciliation WHERE ${w.join(' AND ')}`;
  }

  stock(): string {
    const w = ['true'];
    if (this.f.location) w.push(`location_id = ${this.q.p(this.f.location)}`);
    const skus = this.skus();
    if (skus) w.push(skus);
    return `SELECT sku, location_id, on_hand, reserved, available, as_of FROM stock_on_hand WHERE ${w.join(' AND ')}`;
  }

  /** Units sold per SKU over the date range (order filters applied). */
  demand(): string {
    if (this.shared.demand !== undefined) {
      return `SELECT unnest(from_json(${this.q.p(this.shared.demand)}::VARCHAR, '[{"sku":"VARCHAR","units":"BIGINT"}]'), recursive := true)`;
    }
    return `SELECT sku, sum(quantity) AS units FROM (${this.lines()}) GROUP BY sku`;
  }

  /** The range's last day, as a parameter. */
  toDate(): string {
    return `${this.q.p(this.f.to)}::DATE`;
  }

  days(): number {
    return Math.max(1, Math.round((Date.parse(this.f.to) - Date.parse(this.f.from)) / 86_400_000) + 1);
  }
}
