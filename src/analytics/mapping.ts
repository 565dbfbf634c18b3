/**
 * Event type → star-schema mapping, all in one place. Every path below is a field of a
 * published payload schema (src/checkout/events.ts OrderEventV1, src/payments/events.ts,
 * src/inventory/events.ts StockChangedV1, src/customers/events.ts, src/catalog/events.ts
 * SkuChangedV1, and the fraud.decision_made contract); test/analytics/real-events.test.ts
 * pushes events made by the real services through the ETL.
 * Each fact is a SELECT over `stg_events` (event_id, seq, type, version, aggregate_id,
 * occurred_at, payload JSON). Facts keyed by event id / natural key; latest-state facts pick
 * the row with the greatest (occurred_at, seq) per key, so arrival order does not matter.
 */

/** The event types the `analytics.etl` consumer reads. */
export const CONSUMED_TYPES = ['checkout.*', 'payments.*', 'inventory.*', 'fraud.*', 'customers.*', 'catalog.*'];

/**
 * The payload fields a mart reads, parsed once per event: `json_transform(payload, '{"a":"VARCHAR",...}')`
 * gives the same text as `json_extract_string(payload, '$.a')` for every JSON value (strings, numbers,
 * booleans, objects, null, missing) but parses the document once instead of once per field.
 */
const fields = (shape: string) => `json_transform(payload, '${shape}')`;

export interface MartSpec {
  table: string;
  description: string;
  sources: string[];
  sql: string;
}

export const MARTS: MartSpec[] = [
  {
    table: 'fact_order_line',
    description: 'One row per order line of each placed order (GMV = quantity × unit_price, CLP).',
    sources: ['checkout.order_placed'],
    sql: `
      WITH latest AS (
        SELECT event_id, occurred_at, p
        FROM (SELECT event_id, seq, occurred_at,
                     ${fields('{"orderId":"VARCHAR","customerId":"VARCHAR","paymentMethod":"VARCHAR","delivery":{"comuna":"VARCHAR","region":"VARCHAR","regionCode":"VARCHAR"},"lines":[{"sku":"VARCHAR","quantity":"BIGINT","unitPrice":"BIGINT"}]}')} AS p
              FROM stg_events WHERE type = 'checkout.order_placed')
        QUALIFY row_number() OVER (PARTITION BY p.orderId ORDER BY occurred_at DESC, seq DESC) = 1),
      -- unnest and generate_subscripts in one SELECT list advance together: each line with its
      -- 1-based position (cheaper than building an {line, idx} struct per line to unnest).
      lines AS (
        SELECT *, unnest(p.lines) AS line, generate_subscripts(p.lines, 1) AS idx FROM latest)
      SELECT p.orderId AS order_id, idx::INTEGER AS line_no, event_id,
             p.customerId AS customer_id, line.sku AS sku, line.quantity AS quantity,
             line.unitPrice AS unit_price, line.quantity * line.unitPrice AS amount,
             p.delivery.comuna AS comuna, p.delivery.region AS region,
             p.delivery.regionCode AS region_code, p.paymentMethod AS payment_method,
             CAST(occurred_at AS DATE) AS date_key, occurred_at
      FROM lines`,
  },
  {
    table: 'fact_payment_attempt',
    description: 'Latest outcome per payment attempt (approved, rejected, pending, expired).',
    sources: ['payments.payment_approved', 'payments.payment_rejected', 'payments.payment_pending', 'payments.payment_expired'],
    sql: `
      SELECT p.attemptId AS attempt_id, p.orderId AS order_id,
             replace(type, 'payments.payment_', '') AS status, event_id,
             CAST(p.amount AS BIGINT) AS amount, p.method AS method,
             p.processor AS processor, p.processorRef AS processor_ref,
             p.reason AS reason, CAST(occurred_at AS DATE) AS date_key, occurred_at
      FROM (SELECT event_id, seq, type, occurred_at,
                   ${fields('{"attemptId":"VARCHAR","orderId":"VARCHAR","amount":"VARCHAR","method":"VARCHAR","processor":"VARCHAR","processorRef":"VARCHAR","reason":"VARCHAR"}')} AS p
            FROM stg_events WHERE type IN ('payments.payment_approved','payments.payment_rejected','payments.payment_pending','payments.payment_expired'))
      QUALIFY row_number() OVER (PARTITION BY p.attemptId
        ORDER BY CASE WHEN type = 'payments.payment_pending' THEN 0 ELSE 1 END DESC, occurred_at DESC, seq DESC) = 1`,
  },
  {
    table: 'fact_refund',
    description: 'One row per succeeded refund.',
    sources: ['payments.refund_succeeded'],
    sql: `
      SELECT coalesce(p.refundId, CAST(event_id AS VARCHAR)) AS refund_id, any_value(event_id) AS event_id,
             any_value(p.orderId) AS order_id, any_value(p.attemptId) AS attempt_id,
             any_value(CAST(p.amount AS BIGINT)) AS amount,
             any_value(p.refundType) AS refund_type,
             min(CAST(occurred_at AS DATE)) AS date_key, min(occurred_at) AS occurred_at
      FROM (SELECT event_id, occurred_at, ${fields('{"refundId":"VARCHAR","orderId":"VARCHAR","attemptId":"VARCHAR","amount":"VARCHAR","refundType":"VARCHAR"}')} AS p
            FROM stg_events WHERE type = 'payments.refund_succeeded') GROUP BY 1`,
  },
  {
    table: 'fact_ledger_posting',
    description: 'One row per ledger entry of each posted transaction (debit > 0, credit < 0, CLP); order and processor reference through the payment attempt.',
    sources: ['payments.ledger_posted', 'payments.payment_approved'],
    sql: `
      WITH tx AS (
        SELECT p.transactionId AS transaction_id, any_value(event_id) AS event_id,
               any_value(p.kind) AS kind, any_value(p.attemptId) AS attempt_id,
               any_value(p.refundId) AS refund_id, any_value(p.entries) AS entries,
               min(occurred_at) AS occurred_at
        FROM (SELECT event_id, occurred_at,
                     ${fields('{"transactionId":"VARCHAR","kind":"VARCHAR","attemptId":"VARCHAR","refundId":"VARCHAR","entries":[{"account":"VARCHAR","amount":"BIGINT"}]}')} AS p
              FROM stg_events WHERE type = 'payments.ledger_posted') GROUP BY 1),
      approved AS (
        SELECT p.attemptId AS attempt_id, any_value(p.orderId) AS order_id, any_value(p.processorRef) AS processor_ref
        FROM (SELECT ${fields('{"attemptId":"VARCHAR","orderId":"VARCHAR","processorRef":"VARCHAR"}')} AS p
              FROM stg_events WHERE type = 'payments.payment_approved') GROUP BY 1)
      SELECT tx.transaction_id || ':' || tx.idx AS posting_id, tx.transaction_id, tx.idx::INTEGER AS entry_no, tx.event_id, tx.kind,
             tx.entry.account AS account, tx.entry.amount AS amount, tx.attempt_id, tx.refund_id, a.order_id, a.processor_ref,
             CAST(tx.occurred_at AS DATE) AS date_key, tx.occurred_at
      FROM (SELECT * EXCLUDE (entries), unnest(entries) AS entry, generate_subscripts(entries, 1) AS idx
            FROM tx) tx LEFT JOIN approved a USING (attempt_id)`,
  },
  {
    table: 'fact_stock_movement',
    description: 'Each stock change per SKU and location (on hand, reserved, available after it).',
    sources: ['inventory.stock_changed'],
    sql: `
      SELECT event_id, p.sku AS sku, p.locationId AS location_id,
             CAST(p.onHand AS BIGINT) AS on_hand, CAST(p.reserved AS BIGINT) AS reserved,
             CAST(p.available AS BIGINT) AS available, seq, CAST(occurred_at AS DATE) AS date_key, occurred_at
      FROM (SELECT event_id, seq, occurred_at,
                   ${fields('{"sku":"VARCHAR","locationId":"VARCHAR","onHand":"VARCHAR","reserved":"VARCHAR","available":"VARCHAR"}')} AS p
            FROM stg_events WHERE type = 'inventory.stock_changed')`,
  },
  {
    table: 'fact_fraud_decision',
    description: 'Latest fraud decision per order.',
    sources: ['fraud.decision_made'],
    sql: `
      SELECT p.orderId AS order_id, event_id, p.decision AS decision,
             CAST(p.score AS DOUBLE) AS score, CAST(occurred_at AS DATE) AS date_key, occurred_at
      FROM (SELECT event_id, seq, occurred_at, ${fields('{"orderId":"VARCHAR","decision":"VARCHAR","score":"VARCHAR"}')} AS p
            FROM stg_events WHERE type LIKE 'fraud.%')
      WHERE p.orderId IS NOT NULL
      QUALIFY row_number() OVER (PARTITION BY p.orderId ORDER BY occurred_at DESC, seq DESC) = 1`,
  },
  {
    table: 'stock_on_hand',
    description: 'Latest stock per SKU and location, by the stock event time (then outbox seq).',
    sources: ['fact_stock_movement'],
    sql: `
      SELECT sku, location_id, on_hand, reserved, available, occurred_at AS as_of FROM fact_stock_movement
      QUALIFY row_number() OVER (PARTITION BY sku, location_id ORDER BY occurred_at DESC, seq DESC) = 1`,
  },
  {
    table: 'dim_customer',
    description: 'Customers (pseudonymous id only): registration kind and time, first order and order count.',
    sources: ['customers.customer_registered', 'fact_order_line'],
    sql: `
      WITH reg AS (
        SELECT p.customerId AS customer_id, p.kind AS kind, CAST(p.registeredAt AS TIMESTAMPTZ) AS registered_at
        FROM (SELECT seq, occurred_at, ${fields('{"customerId":"VARCHAR","kind":"VARCHAR","registeredAt":"VARCHAR"}')} AS p
              FROM stg_events WHERE type = 'customers.customer_registered')
        QUALIFY row_number() OVER (PARTITION BY p.customerId ORDER BY occurred_at, seq) = 1),
      ord AS (
        SELECT customer_id, min(occurred_at) AS first_order_at, count(DISTINCT order_id) AS orders
        FROM fact_order_line WHERE customer_id IS NOT NULL GROUP BY customer_id)
      SELECT customer_id, reg.kind, reg.registered_at, ord.first_order_at, coalesce(ord.orders, 0) AS orders
      FROM reg FULL OUTER JOIN ord USING (customer_id)`,
  },
  {
    table: 'dim_product',
    description: 'SKUs from the catalogue (latest name, category, price) and any SKU seen on orders or stock movements.',
    sources: ['catalog.sku_changed', 'fact_order_line', 'fact_stock_movement'],
    sql: `
      WITH cat AS (
        SELECT p.sku AS sku, p.productId AS product_id, p.name AS name, p.category AS category,
               CAST(p.price AS BIGINT) AS price, CAST(p.active AS BOOLEAN) AS active
        FROM (SELECT seq, occurred_at, ${fields('{"sku":"VARCHAR","productId":"VARCHAR","name":"VARCHAR","category":"VARCHAR","price":"VARCHAR","active":"VARCHAR"}')} AS p
              FROM stg_events WHERE type = 'catalog.sku_changed')
        QUALIFY row_number() OVER (PARTITION BY p.sku ORDER BY occurred_at DESC, seq DESC) = 1),
      seen AS (SELECT sku FROM fact_order_line UNION SELECT sku FROM fact_stock_movement UNION SELECT sku FROM cat)
      SELECT seen.sku, cat.product_id, cat.name, cat.category, cat.price, cat.active FROM seen LEFT JOIN cat USING (sku) WHERE seen.sku IS NOT NULL`,
  },
  {
    table: 'dim_location',
    description: 'Stock locations seen on stock movements.',
    sources: ['fact_stock_movement'],
    sql: `SELECT DISTINCT location_id FROM fact_stock_movement WHERE location_id IS NOT NULL`,
  },
  {
    table: 'dim_geography',
    description: 'Comuna and región (with región code) of delivery addresses on orders and of customers\' saved addresses.',
    sources: ['fact_order_line', 'customers.address_added'],
    sql: `
      SELECT comuna, any_value(region) AS region, any_value(region_code) AS region_code FROM (
        SELECT comuna, region, region_code FROM fact_order_line WHERE comuna IS NOT NULL
        UNION ALL
        SELECT p.comuna, p.region, p.regionCode
        FROM (SELECT ${fields('{"comuna":"VARCHAR","region":"VARCHAR","regionCode":"VARCHAR"}')} AS p FROM stg_events WHERE type = 'customers.address_added'))
      WHERE comuna IS NOT NULL GROUP BY comuna`,
  },
  {
    table: 'dim_date',
    description: 'Calendar days covered by the facts.',
    sources: ['stg_events'],
    sql: `SELECT CAST(d AS DATE) AS date_key, year(d) AS year, month(d) AS month, day(d) AS day, isodow(d) AS iso_dow
          FROM (SELECT unnest(generate_series(min(CAST(occurred_at AS DATE)), max(CAST(occurred_at AS DATE)), INTERVAL 1 DAY)) AS d
                FROM stg_events) WHERE d IS NOT NULL`,
  },
];

/**
 * How a load updates a mart in place instead of rebuilding it whole (marts not listed here are
 * rebuilt from staging on every load that staged new events). `perEvent`: each row comes from
 * one event alone, so the new events' rows are appended. Otherwise the rows with a given `key`
 * depend only on the events (among those `events` selects, a superset of what the SQL reads is
 * fine) whose `eventKey` equals it: the load deletes the keys its new events touch and inserts
 * the mart's own SQL run over all of those keys' events, late and out-of-order ones included.
 * test/analytics/etl-merge.test.ts checks each against a full rebuild.
 */
export type MartMerge = { perEvent: true } | { key: string; eventKey: string; events: string };

export const MART_MERGES: Readonly<Record<string, MartMerge>> = {
  fact_order_line: { key: 'order_id', eventKey: `json_extract_string(payload, '$.orderId')`, events: `type = 'checkout.order_placed'` },
  fact_payment_attempt: { key: 'attempt_id', eventKey: `json_extract_string(payload, '$.attemptId')`, events: `type LIKE 'payments.payment_%'` },
  fact_refund: { key: 'refund_id', eventKey: `coalesce(json_extract_string(payload, '$.refundId'), CAST(event_id AS VARCHAR))`, events: `type = 'payments.refund_succeeded'` },
  // A posting's rows hang on its attempt: the transaction's ledger events and the attempt's approval.
  fact_ledger_posting: { key: 'attempt_id', eventKey: `json_extract_string(payload, '$.attemptId')`, events: `type IN ('payments.ledger_posted', 'payments.payment_approved')` },
  fact_stock_movement: { perEvent: true },
  fact_fraud_decision: { key: 'order_id', eventKey: `json_extract_string(payload, '$.orderId')`, events: `type LIKE 'fraud.%'` },
};
