import { z } from 'zod';

const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date like 2026-11-30');
const Label = z.string().min(1).max(80);

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

/** What the filters need resolved outside the warehouse (the catalogue owns categories). */
export interface FilterContext {
  /** SKU → category slug (empty when the catalogue is not reachable). */
  categories: Map<string, string>;
}

/**
 * The row sets panels aggregate over, each with the filters that apply to it. Order facts take
 * date, región, category and payment method; payment facts take them through their order;
 * stock takes location and category. Orders carry no fulfilment location in the warehouse.
 */
export class Sources {
  constructor(private readonly q: SqlParams, private readonly f: Filters, private readonly ctx: FilterContext) {}

  private skus(): string | undefined {
    if (!this.f.category) return undefined;
    const skus = [...this.ctx.categories].filter(([, c]) => c === this.f.category).map(([s]) => s);
    return `list_contains(from_json(${this.q.p(JSON.stringify(skus))}::VARCHAR, '["VARCHAR"]'), sku)`;
  }

  private dates(col = 'date_key'): string {
    return `${col} BETWEEN ${this.q.p(this.f.from)}::DATE AND ${this.q.p(this.f.to)}::DATE`;
  }

  /**
   * Order ids matching the non-date order filters, or undefined when none is set. Facts about
   * an order (payments, refunds, ledger, fraud) happen after it was placed, so only orders
   * placed (and paid) by the end of the range can match: that bound prunes the scans.
   */
  orderScope(): string | undefined {
    const parts: string[] = [];
    if (this.f.region) parts.push(`region = ${this.q.p(this.f.region)}`);
    const skus = this.skus();
    if (skus) parts.push(skus);
    const to = () => `${this.q.p(this.f.to)}::DATE`;
    const byLine = parts.length > 0 ? `order_id IN (SELECT order_id FROM fact_order_line WHERE date_key <= ${to()} AND ${parts.join(' AND ')})` : undefined;
    const byMethod = this.f.method ? `order_id IN (SELECT order_id FROM fact_payment_attempt WHERE date_key <= ${to()} AND method = ${this.q.p(this.f.method)})` : undefined;
    const all = [byLine, byMethod].filter((x) => x !== undefined);
    return all.length > 0 ? all.join(' AND ') : undefined;
  }

  lines(): string {
    const w = [this.dates()];
    if (this.f.region) w.push(`region = ${this.q.p(this.f.region)}`);
    const skus = this.skus();
    if (skus) w.push(skus);
    // An order is paid after it is placed: payments before the range cannot belong to its orders.
    if (this.f.method) w.push(`order_id IN (SELECT order_id FROM fact_payment_attempt WHERE date_key >= ${this.q.p(this.f.from)}::DATE AND method = ${this.q.p(this.f.method)})`);
    return `SELECT order_id, line_no, customer_id, sku, quantity, unit_price, amount, comuna, region, date_key, occurred_at
      FROM fact_order_line WHERE ${w.join(' AND ')}`;
  }

  /** One row per order (lines summed). */
  orders(): string {
    return `SELECT order_id, any_value(customer_id) AS customer_id, any_value(region) AS region, min(date_key) AS date_key,
        min(occurred_at) AS occurred_at, sum(amount) AS amount, sum(quantity) AS units
      FROM (${this.lines()}) GROUP BY order_id`;
  }

  private scoped(table: string, cols: string, extra: string[] = []): string {
    const w = [this.dates(), ...extra];
    const scope = this.orderScope();
    if (scope) w.push(scope);
    return `SELECT ${cols} FROM ${table} WHERE ${w.join(' AND ')}`;
  }

  payments(): string {
    // Method is on the attempt itself; the scope adds región/category through the order.
    const w = [this.dates()];
    if (this.f.method) w.push(`method = ${this.q.p(this.f.method)}`);
    const parts: string[] = [];
    if (this.f.region) parts.push(`region = ${this.q.p(this.f.region)}`);
    const skus = this.skus();
    if (skus) parts.push(skus);
    if (parts.length > 0) w.push(`order_id IN (SELECT order_id FROM fact_order_line WHERE date_key <= ${this.q.p(this.f.to)}::DATE AND ${parts.join(' AND ')})`);
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
    return `SELECT sku, sum(quantity) AS units, count(DISTINCT date_key) AS days_with_sales FROM (${this.lines()}) GROUP BY sku`;
  }

  /** The range's last day, as a parameter. */
  toDate(): string {
    return `${this.q.p(this.f.to)}::DATE`;
  }

  days(): number {
    return Math.max(1, Math.round((Date.parse(this.f.to) - Date.parse(this.f.from)) / 86_400_000) + 1);
  }
}
