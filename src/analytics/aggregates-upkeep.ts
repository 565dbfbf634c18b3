import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { AGGREGATES, AGGREGATES_DEFINITION, rebuildAggregates, type Aggregate, type Scope } from './aggregates.js';
import { MART_MERGES } from './mapping.js';
import { rows } from './warehouse.js';

/**
 * Incremental upkeep of the BI marts (src/analytics/aggregates.ts): a load rebuilds only the
 * orders and days it affected, with the marts' own SQL over those keys, so the result is the
 * same as a whole rebuild (test/bi/aggregates-upkeep.test.ts compares them).
 *
 * What a load can change, and where it shows:
 * - a fact row the window's keys touch (MART_MERGES: the etl deletes and re-inserts exactly
 *   the rows of those keys): the days of its old and new versions, in the marts over that fact;
 *   its processor reference's reconciliation days (old and new); its order's methods;
 * - an order's lines, a SKU's category, a customer's first order: the `fact_order` rows, and
 *   for each order whose row really changed, its old and new day in the order marts and the
 *   days of every fact row of that order (attempts, refunds, postings, fraud decisions,
 *   reconciliation through its processor references);
 * - a settlement import (no events): the references it reported, marked in
 *   `agg_pending_recon` with their reconciliation day before the import (`markSettlement`).
 * Old versions are read before the facts change (`prepareAggregateUpkeep`, after staging),
 * new ones after (`upkeepAggregates`). Facts rebuilt whole (first load, a window too big, a
 * changed fact definition) or changed BI definitions: every BI mart is rebuilt whole.
 */

/** The facts the BI marts read, and the marts a change in a fact's day shows in. */
const FACT_MARTS: Record<string, string[]> = {
  fact_payment_attempt: ['agg_payment_daily', 'agg_decline_minute'],
  fact_refund: ['agg_refund_daily'],
  fact_ledger_posting: ['agg_ledger_daily'],
  fact_fraud_decision: ['agg_fraud_daily'],
};
const ORDER_MARTS = ['fact_order_member', 'agg_sales_daily'];
const REF_FACTS = new Set(['fact_payment_attempt', 'fact_ledger_posting']);
/** Facts changed in place only at the window's keys; a new table (CREATE OR REPLACE) means rebuilt whole. */
const KEYED_FACTS = ['fact_order_line', ...Object.keys(FACT_MARTS)];

export interface AggregateUpkeep {
  /** Table oids of the keyed facts before the load's marts ran. */
  oids: Map<string, string>;
  /** Whether the old versions of the window's keys were read (the facts are about to be merged). */
  keyed: boolean;
}

const TEMP = ['agg_keys', 'agg_touched', 'agg_old_product', 'agg_orders', 'agg_order_new', 'agg_order_old', 'agg_changed', 'agg_refs', 'agg_days'];

async function dropTemp(conn: DuckDBConnection): Promise<void> {
  await conn.run(TEMP.map((t) => `DROP TABLE IF EXISTS temp.${t}`).join('; '));
}

async function oidsOf(conn: DuckDBConnection): Promise<Map<string, string>> {
  const found = await rows(conn, `SELECT table_name, table_oid FROM duckdb_tables()
    WHERE schema_name = 'main' AND NOT temporary AND table_name IN (${KEYED_FACTS.map((t) => `'${t}'`).join(', ')})`);
  return new Map(found.map((r) => [String(r.table_name), String(r.table_oid)]));
}

/** `col` is one of the keys of `column` in temp.agg_keys (a NULL key matches NULL, as the etl's merge has it). */
function keyed(col: string, column: string, nulls: Set<string>): string {
  return `(${col} IN (SELECT k FROM temp.agg_keys WHERE col = '${column}' AND k IS NOT NULL)${nulls.has(column) ? ` OR ${col} IS NULL` : ''})`;
}

/** `col` is in the one-column temp table `table` (NULL matching NULL). */
function among(col: string, table: string, key = 'order_id'): string {
  return `(${col} IN (SELECT ${key} FROM temp.${table} WHERE ${key} IS NOT NULL) OR (${col} IS NULL AND coalesce((SELECT bool_or(${key} IS NULL) FROM temp.${table}), false)))`;
}

/** The keyed facts' rows of the window's keys (their day, order and processor reference), into temp.agg_touched. */
async function touchedRows(conn: DuckDBConnection, nulls: Set<string>): Promise<void> {
  const parts = Object.keys(FACT_MARTS).flatMap((fact) => {
    const how = MART_MERGES[fact];
    if (!how || 'perEvent' in how) return [];
    return [`SELECT '${fact}' AS fact, date_key, order_id, ${REF_FACTS.has(fact) ? 'processor_ref' : 'NULL'} AS processor_ref FROM ${fact}
      WHERE ${keyed(how.key, how.key, nulls)}`];
  });
  await conn.run(`INSERT INTO temp.agg_touched ${parts.join(' UNION ALL ')}`);
}

/**
 * Before the load's marts run (the window staged in temp.stg_window): the window's keys, the
 * old versions of the fact rows they touch and of their references' reconciliation, and the
 * SKUs' categories. `merge`: the facts will be merged from the window (else rebuilt whole).
 */
export async function prepareAggregateUpkeep(conn: DuckDBConnection, merge: boolean): Promise<AggregateUpkeep> {
  await dropTemp(conn);
  const oids = await oidsOf(conn);
  const merged = KEYED_FACTS.every((f) => {
    const how = MART_MERGES[f];
    return how !== undefined && !('perEvent' in how);
  });
  if (!merge || !merged) return { oids, keyed: false };
  const keys = KEYED_FACTS.map((f) => {
    const how = MART_MERGES[f] as { key: string; eventKey: string; events: string };
    return `SELECT DISTINCT '${f}' AS fact, '${how.key}' AS col, ${how.eventKey} AS k FROM temp.stg_window WHERE ${how.events}`;
  });
  await conn.run(`CREATE TEMP TABLE agg_keys AS ${keys.join(' UNION ALL ')}`);
  const nulls = await nullKeys(conn);
  await conn.run(`CREATE TEMP TABLE agg_touched (fact VARCHAR, date_key DATE, order_id VARCHAR, processor_ref VARCHAR)`);
  await touchedRows(conn, nulls);
  await conn.run(`INSERT INTO temp.agg_touched SELECT 'reconciliation', date_key, NULL, processor_ref FROM reconciliation
    WHERE processor_ref IN (SELECT processor_ref FROM temp.agg_touched WHERE processor_ref IS NOT NULL)`);
  await conn.run(`CREATE TEMP TABLE agg_old_product AS SELECT sku, coalesce(nullif(category, ''), 'uncategorised') AS category FROM dim_product`);
  return { oids, keyed: true };
}

async function nullKeys(conn: DuckDBConnection): Promise<Set<string>> {
  return new Set((await rows(conn, `SELECT DISTINCT col FROM temp.agg_keys WHERE k IS NULL`)).map((r) => String(r.col)));
}

/** Marks the references a settlement import reports (before it is written): their reconciliation days change. */
export async function markSettlement(conn: DuckDBConnection, processorRefs: readonly string[]): Promise<void> {
  if (processorRefs.length === 0) return;
  await conn.run(`INSERT INTO agg_pending_recon SELECT r.ref, c.date_key FROM (SELECT DISTINCT unnest($1::VARCHAR[]) AS ref) r
    LEFT JOIN reconciliation c ON c.processor_ref = r.ref`, [listValue([...processorRefs])]);
}

export interface UpkeepResult {
  mode: 'incremental' | 'whole';
  /** Orders whose `fact_order` row changed. */
  orders: number;
  /** Days rebuilt, summed over the marts. */
  days: number;
}

/**
 * Brings the BI marts up to date after the load's facts and reconciliation (inside the load's
 * transaction): only the affected orders and days, or all of them whole when the facts were
 * rebuilt whole or the BI definitions changed. Idempotent.
 */
export async function upkeepAggregates(conn: DuckDBConnection, plan: AggregateUpkeep): Promise<UpkeepResult> {
  const [built] = await rows(conn, `SELECT value FROM agg_state WHERE name = 'definition'`);
  const now = await oidsOf(conn);
  const replaced = KEYED_FACTS.some((f) => now.get(f) !== plan.oids.get(f));
  if (built?.value !== AGGREGATES_DEFINITION || replaced) {
    await rebuildAggregates(conn);
    await dropTemp(conn);
    return { mode: 'whole', orders: -1, days: -1 };
  }
  if (!plan.keyed) {
    // Nothing merged: only settlement imports can have changed something.
    await conn.run(`CREATE OR REPLACE TEMP TABLE agg_keys (fact VARCHAR, col VARCHAR, k VARCHAR);
      CREATE OR REPLACE TEMP TABLE agg_touched (fact VARCHAR, date_key DATE, order_id VARCHAR, processor_ref VARCHAR)`);
  } else {
    await touchedRows(conn, await nullKeys(conn));
  }
  await conn.run(`INSERT INTO temp.agg_touched SELECT 'reconciliation', date_key, NULL, processor_ref FROM agg_pending_recon WHERE date_key IS NOT NULL`);

  // Orders whose row may change: new lines, attempts (methods), SKUs recategorised.
  const recategorised = plan.keyed ? `UNION SELECT l.order_id FROM fact_order_line l WHERE l.sku IN (
      SELECT sku FROM (SELECT sku, coalesce(nullif(category, ''), 'uncategorised') AS category FROM dim_product
        EXCEPT SELECT sku, category FROM temp.agg_old_product))` : '';
  await conn.run(`CREATE TEMP TABLE agg_orders AS
    SELECT k AS order_id FROM temp.agg_keys WHERE fact = 'fact_order_line'
    UNION SELECT order_id FROM temp.agg_touched WHERE fact = 'fact_payment_attempt' ${recategorised}`);
  const factOrder = AGGREGATES[0] as Aggregate;
  const inOrders: Scope = (col) => among(col, 'agg_orders');
  await conn.run(`CREATE TEMP TABLE agg_order_new AS ${factOrder.build(inOrders)}`);
  // A customer's first order moved: their other orders turn new or returning.
  await conn.run(`INSERT INTO temp.agg_order_new
    SELECT o.* REPLACE (d.first_order_at AS first_order_at,
      CASE WHEN d.customer_id IS NULL THEN NULL WHEN o.occurred_at <= d.first_order_at THEN 'new' ELSE 'returning' END AS customer_kind)
    FROM fact_order o LEFT JOIN dim_customer d ON d.customer_id = o.customer_id
    WHERE o.customer_id IN (SELECT customer_id FROM fact_order WHERE ${inOrders('order_id')} UNION SELECT customer_id FROM temp.agg_order_new)
      AND NOT ${inOrders('o.order_id')} AND o.first_order_at IS DISTINCT FROM d.first_order_at`);
  await conn.run(`INSERT INTO temp.agg_orders SELECT order_id FROM temp.agg_order_new EXCEPT SELECT order_id FROM temp.agg_orders`);
  await conn.run(`CREATE TEMP TABLE agg_order_old AS SELECT * FROM fact_order WHERE ${inOrders('order_id')}`);
  await conn.run(`CREATE TEMP TABLE agg_changed AS
    SELECT order_id, date_key FROM (SELECT * FROM temp.agg_order_old EXCEPT SELECT * FROM temp.agg_order_new)
    UNION ALL SELECT order_id, date_key FROM (SELECT * FROM temp.agg_order_new EXCEPT SELECT * FROM temp.agg_order_old)`);
  const changed: Scope = (col) => among(col, 'agg_changed');
  await conn.run(`DELETE FROM fact_order WHERE ${changed('order_id')};
    INSERT INTO fact_order BY NAME SELECT * FROM temp.agg_order_new WHERE ${changed('order_id')} ORDER BY date_key, occurred_at`);

  // The days each mart rebuilds.
  const refs = `SELECT processor_ref FROM temp.agg_touched WHERE processor_ref IS NOT NULL AND fact <> 'reconciliation'
    UNION SELECT processor_ref FROM agg_pending_recon
    UNION SELECT processor_ref FROM fact_payment_attempt WHERE processor_ref IS NOT NULL AND ${changed('order_id')}`;
  const days = [
    ...ORDER_MARTS.map((m) => `SELECT '${m}' AS mart, date_key FROM temp.agg_changed`),
    ...Object.entries(FACT_MARTS).flatMap(([fact, marts]) => marts.map((m) => `SELECT '${m}', date_key FROM temp.agg_touched WHERE fact = '${fact}'
      UNION SELECT '${m}', date_key FROM ${fact} WHERE ${changed('order_id')}`)),
    `SELECT 'agg_reconciliation_daily', date_key FROM temp.agg_touched WHERE fact = 'reconciliation'`,
    `SELECT 'agg_reconciliation_daily', date_key FROM reconciliation WHERE processor_ref IN (${refs})`,
  ];
  await conn.run(`CREATE TEMP TABLE agg_days AS SELECT DISTINCT mart, date_key FROM (${days.join(' UNION ALL ')}) WHERE date_key IS NOT NULL`);
  const counts = new Map((await rows(conn, `SELECT mart, count(*) AS n FROM temp.agg_days GROUP BY mart`)).map((r) => [String(r.mart), Number(r.n)]));
  for (const a of AGGREGATES) {
    if (a.key !== 'date_key' || !counts.get(a.table)) continue;
    const scope: Scope = (col) => `${col} IN (SELECT date_key FROM temp.agg_days WHERE mart = '${a.table}')`;
    await conn.run(`DELETE FROM ${a.table} WHERE ${scope('date_key')}; INSERT INTO ${a.table} BY NAME ${a.build(scope)}`);
  }
  const [n] = await rows(conn, `SELECT count(DISTINCT order_id) AS n FROM temp.agg_changed`);
  await conn.run(`DELETE FROM agg_pending_recon`);
  await dropTemp(conn);
  return { mode: 'incremental', orders: Number(n?.n ?? 0), days: [...counts.values()].reduce((s, x) => s + x, 0) };
}
