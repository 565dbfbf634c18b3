// "Every committed change present once in the warehouse" (DESIGN.md, events invariant): the
// DuckDB warehouse the ETL wrote, compared with the OLTP database it came from.
import { createAnalytics, CONSUMED_TYPES } from '../../src/analytics/index.js';
import { systemClock } from '../../src/platform/clock.js';
import type { Database } from '../../src/platform/db.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetrics } from '../../src/platform/metrics.js';

type Row = Record<string, unknown>;

/** Compares two keyed row sets; returns what is missing, extra or different, with examples. */
function diff(what: string, oltp: Map<string, string>, warehouse: Map<string, string>): string[] {
  const missing = [...oltp.keys()].filter((k) => !warehouse.has(k));
  const extra = [...warehouse.keys()].filter((k) => !oltp.has(k));
  const differ = [...oltp.entries()].filter(([k, v]) => warehouse.has(k) && warehouse.get(k) !== v);
  const out: string[] = [];
  if (missing.length > 0) out.push(`${what}: ${missing.length} of ${oltp.size} missing from the warehouse, e.g. ${missing.slice(0, 3).join('; ')}`);
  if (extra.length > 0) out.push(`${what}: ${extra.length} in the warehouse but not in PostgreSQL, e.g. ${extra.slice(0, 3).join('; ')}`);
  if (differ.length > 0) {
    const e = differ.slice(0, 3).map(([k, v]) => `${k}: PostgreSQL ${v}, warehouse ${warehouse.get(k)}`);
    out.push(`${what}: ${differ.length} differ, e.g. ${e.join('; ')}`);
  }
  return out;
}

const keyed = (rows: Row[], key: (r: Row) => string, value: (r: Row) => string) => new Map(rows.map((r) => [key(r), value(r)]));
const twice = (what: string, rows: Row[], key: (r: Row) => string) => {
  const dup = rows.filter((r) => Number(r.n) > 1);
  return dup.length > 0 ? [`${what}: ${dup.length} present more than once in the warehouse, e.g. ${dup.slice(0, 3).map((r) => `${key(r)} ×${String(r.n)}`).join('; ')}`] : [];
};

/**
 * Opens the warehouse under `dataDir` (after the ETL ran, with no other process holding it)
 * and lists every way it disagrees with PostgreSQL (empty: it holds every committed change
 * exactly once): the events themselves, order lines, payment attempts' outcomes, refunds,
 * ledger postings and stock levels.
 */
export async function warehouseViolations(db: Database, dataDir: string): Promise<string[]> {
  const analytics = createAnalytics({ db, logger: createLogger('silent'), metrics: createMetrics(), clock: systemClock, dataDir });
  const wh = (sql: string) => analytics.query(sql, { rowLimit: 1_000_000, timeoutMs: 120_000 });
  const pg = async (sql: string, params: unknown[] = []) => (await db.query<Row>(sql, params)).rows;
  const out: string[] = [];
  try {
    // Every event of a consumed type staged exactly once, and nothing else.
    const patterns = CONSUMED_TYPES.map((t) => t.replace('*', '%'));
    const committed = await pg(`SELECT event_id::text AS id, type FROM events_outbox WHERE type LIKE ANY($1::text[])`, [patterns]);
    const staged = await wh(`SELECT CAST(event_id AS VARCHAR) AS id, any_value(type) AS type, count(*)::INTEGER AS n FROM stg_events GROUP BY 1`);
    const eventDiff = diff('events', keyed(committed, (r) => `${String(r.type)} ${String(r.id)}`, () => ''), keyed(staged, (r) => `${String(r.type)} ${String(r.id)}`, () => ''));
    out.push(...eventDiff);
    if (eventDiff.length > 0) {
      // Where they were lost: never landed (the analytics.etl consumer) or landed and not loaded (the load).
      const stagedIds = new Set(staged.map((r) => String(r.id)));
      const missing = committed.filter((r) => !stagedIds.has(String(r.id))).map((r) => String(r.id));
      const [where] = await pg(
        `SELECT count(*) FILTER (WHERE l.event_id IS NOT NULL)::int AS landed, count(*) FILTER (WHERE l.event_id IS NULL)::int AS not_landed,
                (SELECT tx_id::text || '/' || event_seq FROM events_positions WHERE consumer = 'analytics.etl') AS position,
                (SELECT max(landing_seq)::text FROM analytics_landing) AS landed_up_to,
                min(o.occurred_at)::text AS first_at, max(o.occurred_at)::text AS last_at
           FROM events_outbox o LEFT JOIN analytics_landing l ON l.event_id = o.event_id WHERE o.event_id = ANY($1::uuid[])`, [missing]);
      const [hwm] = await wh(`SELECT high_water_mark::BIGINT AS hwm FROM etl_state WHERE name = 'analytics.etl'`);
      out.push(`events missing from the warehouse: ${JSON.stringify(where)}; warehouse high-water mark ${String(hwm?.hwm)}`);
    }
    out.push(...twice('events', staged, (r) => `${String(r.type)} ${String(r.id)}`));

    // Each order's lines once, with their quantity and price.
    const lineKey = (r: Row) => `order ${String(r.order_id)} ${String(r.sku)}`;
    const lineValue = (r: Row) => `${String(r.quantity)} × ${String(r.unit_price)}`;
    const lines = await pg(`SELECT order_id::text, sku, quantity, unit_price FROM order_lines`);
    const factLines = await wh(`SELECT order_id, sku, count(*)::INTEGER AS n, sum(quantity)::BIGINT AS quantity, max(unit_price)::BIGINT AS unit_price
                                  FROM fact_order_line GROUP BY 1, 2`);
    out.push(...diff('order lines', keyed(lines, lineKey, lineValue), keyed(factLines, lineKey, lineValue)));
    out.push(...twice('order lines', factLines, lineKey));

    // Each payment attempt with an outcome once, with that outcome (an approval is always the
    // last one; pending only while nothing final came) and the approved amount.
    const attempts = await pg(
      `SELECT a.id::text AS attempt_id, a.amount,
              coalesce((SELECT e.status FROM payment_attempt_events e WHERE e.attempt_id = a.id AND e.status IN ('approved', 'rejected', 'expired') ORDER BY e.id DESC LIMIT 1),
                       (SELECT 'pending' FROM payment_attempt_events e WHERE e.attempt_id = a.id AND e.status = 'pending' LIMIT 1)) AS status
         FROM payment_attempts a`,
    );
    const outcome = (r: Row) => (r.status === 'approved' ? `approved ${String(r.amount)}` : String(r.status));
    const factAttempts = await wh(`SELECT attempt_id, any_value(status) AS status, any_value(amount)::BIGINT AS amount, count(*)::INTEGER AS n
                                     FROM fact_payment_attempt GROUP BY 1`);
    out.push(...diff('payment attempts', keyed(attempts.filter((r) => r.status !== null), (r) => `attempt ${String(r.attempt_id)}`, outcome),
      keyed(factAttempts, (r) => `attempt ${String(r.attempt_id)}`, outcome)));
    out.push(...twice('payment attempts', factAttempts, (r) => `attempt ${String(r.attempt_id)}`));

    // Each succeeded refund once, with its amount.
    const refunds = await pg(
      `SELECT r.id::text AS refund_id, r.amount FROM payment_refunds r
        WHERE EXISTS (SELECT 1 FROM payment_refund_events e WHERE e.refund_id = r.id AND e.status = 'succeeded')`,
    );
    const factRefunds = await wh(`SELECT refund_id, any_value(amount)::BIGINT AS amount, count(*)::INTEGER AS n FROM fact_refund GROUP BY 1`);
    out.push(...diff('refunds', keyed(refunds, (r) => `refund ${String(r.refund_id)}`, (r) => String(r.amount)), keyed(factRefunds, (r) => `refund ${String(r.refund_id)}`, (r) => String(r.amount))));
    out.push(...twice('refunds', factRefunds, (r) => `refund ${String(r.refund_id)}`));

    // Each ledger transaction once with all its entries; the balance of every account equal.
    const txValue = (r: Row) => `${String(r.entries)} entries, ${String(r.debits)} debited`;
    const ledger = await pg(`SELECT transaction_id::text, count(*)::int AS entries, sum(greatest(amount, 0))::bigint AS debits FROM ledger_entries GROUP BY 1`);
    const factLedger = await wh(`SELECT transaction_id, count(*)::INTEGER AS entries, sum(greatest(amount, 0))::BIGINT AS debits FROM fact_ledger_posting GROUP BY 1`);
    out.push(...diff('ledger transactions', keyed(ledger, (r) => `transaction ${String(r.transaction_id)}`, txValue), keyed(factLedger, (r) => `transaction ${String(r.transaction_id)}`, txValue)));
    const postedTwice = await wh(`SELECT posting_id, count(*)::INTEGER AS n FROM fact_ledger_posting GROUP BY 1 HAVING count(*) > 1`);
    out.push(...twice('ledger postings', postedTwice, (r) => `posting ${String(r.posting_id)}`));
    const balances = await pg(`SELECT account, sum(amount)::bigint AS balance FROM ledger_entries GROUP BY 1`);
    const factBalances = await wh(`SELECT account, sum(amount)::BIGINT AS balance FROM fact_ledger_posting GROUP BY 1`);
    out.push(...diff('ledger balances', keyed(balances, (r) => `account ${String(r.account)}`, (r) => String(r.balance)), keyed(factBalances, (r) => `account ${String(r.account)}`, (r) => String(r.balance))));

    // Stock: every change once (one row per stock event), and each level's latest state equal.
    const factMoves = await wh(`SELECT CAST(event_id AS VARCHAR) AS id, count(*)::INTEGER AS n FROM fact_stock_movement GROUP BY 1`);
    out.push(...twice('stock movements', factMoves, (r) => `event ${String(r.id)}`));
    const stockEvents = committed.filter((r) => r.type === 'inventory.stock_changed').length;
    if (factMoves.length !== stockEvents) out.push(`stock movements: ${stockEvents} inventory.stock_changed events committed, ${factMoves.length} in fact_stock_movement`);
    const levelKey = (r: Row) => `stock ${String(r.sku)}@${String(r.location_id)}`;
    const levelValue = (r: Row) => `on hand ${String(r.on_hand)}, reserved ${String(r.reserved)}`;
    const levels = await pg(`SELECT sku, location_id, on_hand, reserved FROM inventory_stock`);
    const factLevels = await wh(`SELECT sku, location_id, on_hand, reserved FROM stock_on_hand`);
    out.push(...diff('stock levels', keyed(levels, levelKey, levelValue), keyed(factLevels, levelKey, levelValue)));
  } finally {
    await analytics.close();
  }
  return out;
}
