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
 * - the fact rows of the window's keys (MART_MERGES: the etl deletes and re-inserts exactly the
 *   rows of those keys). Their versions before and after are compared: a row that differs
 *   marks its old and new day in the marts over that fact, its processor reference (whose
 *   reconciliation rows are compared the same way) and its order (the order's methods);
 * - an order's lines, a SKU's category, a customer's first order: the `fact_order` rows. An
 *   order whose row differs marks its old and new day in the order marts and, when what the
 *   other marts take from it (región, categories, methods, amounts) differs, the days of every
 *   fact row of that order (attempts, refunds, postings, fraud decisions, reconciliation
 *   through its processor references);
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
/** What the marts over other facts take from an order's `fact_order` row. */
const ORDER_CONTEXT = 'order_id, region, categories, category_amounts, methods, amount';

/** Days as constants (a list the scan's zone maps can use). */
const dateList = (days: unknown[]) => (days.length === 0 ? 'NULL' : days.map((d) => `DATE '${String(d)}'`).join(', '));

export interface AggregateUpkeep {
  /** Table oids of the keyed facts before the load's marts ran. */
  oids: Map<string, string>;
  /** Whether the old versions of the window's keys were read (the facts are about to be merged). */
  keyed: boolean;
}

const TEMP = ['agg_keys', 'agg_touched', 'agg_old_product', 'agg_old_recon', 'agg_refs', 'agg_by_order', 'agg_orders', 'agg_order_new', 'agg_order_old', 'agg_changed',
  'agg_context', 'agg_days', ...Object.keys(FACT_MARTS).flatMap((f) => [`agg_old_${f}`, `agg_new_${f}`])];

async function dropTemp(conn: DuckDBConnection): Promise<void> {
  await conn.run(TEMP.map((t) => `DROP TABLE IF EXISTS temp.${t}`).join('; '));
}

async function oidsOf(conn: DuckDBConnection): Promise<Map<string, string>> {
  const found = await rows(conn, `SELECT table_name, table_oid FROM duckdb_tables()
    WHERE schema_name = 'main' AND NOT temporary AND table_name IN (${KEYED_FACTS.map((t) => `'${t}'`).join(', ')})`);
  return new Map(found.map((r) => [String(r.table_name), String(r.table_oid)]));
}

/** Whether the column `key` of a temp table holds a NULL. */
async function hasNull(conn: DuckDBConnection, table: string, key: string, where = 'true'): Promise<boolean> {
  const [r] = await rows(conn, `SELECT count(*) FILTER (WHERE ${key} IS NULL) > 0 AS n FROM temp.${table} WHERE ${where}`);
  return r?.n === true;
}

/** `col` is one of the values of `key` in temp `table` (a NULL matching a NULL, as the etl's merge has keys). */
function among(col: string, table: string, key: string, nulls: boolean, where = 'true'): string {
  return `(${col} IN (SELECT ${key} FROM temp.${table} WHERE ${key} IS NOT NULL AND ${where})${nulls ? ` OR ${col} IS NULL` : ''})`;
}

/**
 * Copies the rows of `table` that `where` selects into the temp table `target`. Facts are
 * millions of rows with random keys: a scan that reads every column costs several times one
 * that reads the key and the day, so the days are found first and the rows read between the
 * first and last of them (facts are appended in time order: the date zone maps skip the rest;
 * a range, not a list of days: a long IN list is a comparison per day on every row).
 */
async function copyRows(conn: DuckDBConnection, target: string, table: string, where: string): Promise<void> {
  const [r] = await rows(conn, `SELECT strftime(min(date_key), '%Y-%m-%d') AS lo, strftime(max(date_key), '%Y-%m-%d') AS hi FROM ${table} WHERE ${where}`);
  const lo = typeof r?.lo === 'string' ? r.lo : undefined;
  const hi = typeof r?.hi === 'string' ? r.hi : undefined;
  const range = lo === undefined || hi === undefined ? 'false' : `date_key BETWEEN DATE '${lo}' AND DATE '${hi}' AND ${where}`;
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${target} AS SELECT * FROM ${table} WHERE ${range}`);
}

/** The keyed facts' rows of the window's keys, each into temp.agg_<old|new>_<fact> (none read for a fact the window does not touch). */
async function keyedRows(conn: DuckDBConnection, version: 'old' | 'new'): Promise<void> {
  const counts = new Map((await rows(conn, `SELECT fact, count(*) AS n FROM temp.agg_keys GROUP BY fact`)).map((r) => [String(r.fact), Number(r.n)]));
  for (const fact of Object.keys(FACT_MARTS)) {
    const how = MART_MERGES[fact] as { key: string };
    if (!counts.get(fact)) {
      await conn.run(`CREATE OR REPLACE TEMP TABLE agg_${version}_${fact} AS SELECT * FROM ${fact} LIMIT 0`);
      continue;
    }
    const nulls = await hasNull(conn, 'agg_keys', 'k', `fact = '${fact}'`);
    await copyRows(conn, `agg_${version}_${fact}`, fact, among(how.key, 'agg_keys', 'k', nulls, `fact = '${fact}'`));
  }
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
  // Each key with the days of its window events (an order's lines fall on its latest event's day).
  const keys = KEYED_FACTS.map((f) => {
    const how = MART_MERGES[f] as { key: string; eventKey: string; events: string };
    return `SELECT DISTINCT '${f}' AS fact, '${how.key}' AS col, ${how.eventKey} AS k, CAST(occurred_at AS DATE) AS day FROM temp.stg_window WHERE ${how.events}`;
  });
  await conn.run(`CREATE TEMP TABLE agg_keys AS ${keys.join(' UNION ALL ')}`);
  await keyedRows(conn, 'old');
  const refs = [...REF_FACTS].map((f) => `SELECT processor_ref FROM temp.agg_old_${f} WHERE processor_ref IS NOT NULL`).join(' UNION ');
  // Reconciliation is rebuilt whole by every load, unsorted: only the references' days are kept (a narrow scan).
  await conn.run(`CREATE TEMP TABLE agg_old_recon AS SELECT processor_ref, date_key FROM reconciliation WHERE processor_ref IN (${refs})`);
  await conn.run(`CREATE TEMP TABLE agg_old_product AS SELECT sku, coalesce(nullif(category, ''), 'uncategorised') AS category FROM dim_product`);
  return { oids, keyed: true };
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
  /** Milliseconds per step. */
  timings: Record<string, number>;
}

/**
 * Brings the BI marts up to date after the load's facts and reconciliation (inside the load's
 * transaction): only the affected orders and days, or all of them whole when the facts were
 * rebuilt whole or the BI definitions changed. Idempotent.
 */
export async function upkeepAggregates(conn: DuckDBConnection, plan: AggregateUpkeep): Promise<UpkeepResult> {
  const timings: Record<string, number> = {};
  let last = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round((now - last) * 10) / 10;
    last = now;
  };
  const [built] = await rows(conn, `SELECT value FROM agg_state WHERE name = 'definition'`);
  const now = await oidsOf(conn);
  const replaced = KEYED_FACTS.some((f) => now.get(f) !== plan.oids.get(f));
  if (built?.value !== AGGREGATES_DEFINITION || replaced) {
    await rebuildAggregates(conn);
    await dropTemp(conn);
    lap('whole');
    return { mode: 'whole', orders: -1, days: -1, timings };
  }

  // The fact rows that changed (old and new versions), and the reconciliation of their references.
  await conn.run(`CREATE TEMP TABLE agg_touched (fact VARCHAR, date_key DATE, order_id VARCHAR, processor_ref VARCHAR)`);
  if (!plan.keyed) await conn.run(`CREATE TEMP TABLE agg_keys (fact VARCHAR, col VARCHAR, k VARCHAR, day DATE)`);
  else {
    await keyedRows(conn, 'new');
    for (const fact of Object.keys(FACT_MARTS)) {
      const cols = `'${fact}', date_key, order_id, ${REF_FACTS.has(fact) ? 'processor_ref' : 'NULL'}`;
      await conn.run(`INSERT INTO temp.agg_touched
        SELECT ${cols} FROM (SELECT * FROM temp.agg_old_${fact} EXCEPT ALL SELECT * FROM temp.agg_new_${fact})
        UNION ALL SELECT ${cols} FROM (SELECT * FROM temp.agg_new_${fact} EXCEPT ALL SELECT * FROM temp.agg_old_${fact})`);
    }
    // References whose reconciliation rows can have changed: an attempt's reference or order
    // changed, or a captured amount (the ledger rows RECONCILIATION_SQL in etl.ts sums). Their
    // days before and after are rebuilt.
    const diff = (fact: string, cols: string) => `(SELECT ${cols} FROM temp.agg_old_${fact} EXCEPT ALL SELECT ${cols} FROM temp.agg_new_${fact})
      UNION ALL (SELECT ${cols} FROM temp.agg_new_${fact} EXCEPT ALL SELECT ${cols} FROM temp.agg_old_${fact})`;
    await conn.run(`CREATE OR REPLACE TEMP TABLE agg_refs AS
      SELECT processor_ref FROM (${diff('fact_payment_attempt', 'processor_ref, order_id')}) WHERE processor_ref IS NOT NULL
      UNION SELECT processor_ref FROM (${diff('fact_ledger_posting', '*')})
        WHERE processor_ref IS NOT NULL AND kind = 'payment_captured' AND account LIKE 'processor_clearing:%'`);
    await conn.run(`INSERT INTO temp.agg_touched SELECT 'reconciliation', date_key, NULL, processor_ref FROM temp.agg_old_recon
        WHERE processor_ref IN (SELECT processor_ref FROM temp.agg_refs)
      UNION ALL SELECT 'reconciliation', date_key, NULL, processor_ref FROM reconciliation WHERE processor_ref IN (SELECT processor_ref FROM temp.agg_refs)`);
  }
  // Settlement imports: the references' days before (marked) and after.
  const [pending] = await rows(conn, `SELECT count(*) AS n FROM agg_pending_recon`);
  if (Number(pending?.n) > 0) {
    await conn.run(`INSERT INTO temp.agg_touched SELECT 'reconciliation', date_key, NULL, processor_ref FROM agg_pending_recon WHERE date_key IS NOT NULL
      UNION ALL SELECT 'reconciliation', date_key, NULL, processor_ref FROM reconciliation WHERE processor_ref IN (SELECT processor_ref FROM agg_pending_recon)`);
  }
  lap('touched');

  // Orders whose row may change: new lines, attempts (methods), SKUs recategorised; and the
  // days their lines can be on (the old row's, or the window's order events').
  const recategorised = plan.keyed ? `UNION SELECT l.order_id, l.date_key FROM fact_order_line l WHERE l.sku IN (
      SELECT sku FROM (SELECT sku, coalesce(nullif(category, ''), 'uncategorised') AS category FROM dim_product
        EXCEPT SELECT sku, category FROM temp.agg_old_product))` : '';
  await conn.run(`CREATE TEMP TABLE agg_orders AS
    SELECT k AS order_id, day AS date_key FROM temp.agg_keys WHERE fact = 'fact_order_line'
    UNION SELECT order_id, NULL FROM temp.agg_touched WHERE fact = 'fact_payment_attempt' ${recategorised}`);
  const orderNulls = await hasNull(conn, 'agg_orders', 'order_id');
  await copyRows(conn, 'agg_order_old', 'fact_order', among('order_id', 'agg_orders', 'order_id', orderNulls));
  const lineDays = (await rows(conn, `SELECT date_key FROM temp.agg_orders WHERE date_key IS NOT NULL UNION SELECT date_key FROM temp.agg_order_old`)).map((r) => r.date_key);
  lap('orders');
  const factOrder = AGGREGATES[0] as Aggregate;
  // An order's lines all carry its latest order event's day: the line scan reads only those days.
  const candidates: Scope = (col) => `${among(col, 'agg_orders', 'order_id', orderNulls)}${col.startsWith('l.') ? ` AND l.date_key IN (${dateList(lineDays)})` : ''}`;
  await conn.run(`CREATE TEMP TABLE agg_order_new AS ${factOrder.build(candidates)}`);
  lap('fact_order_build');
  // A customer's first order moved (an order of theirs changed, or a late earlier order came):
  // their other orders turn new or returning.
  const [moved] = await rows(conn, `WITH d AS (SELECT * FROM dim_customer WHERE customer_id IN (SELECT customer_id FROM temp.agg_order_old UNION SELECT customer_id FROM temp.agg_order_new))
    SELECT count(*) AS n FROM (
      SELECT o.customer_id FROM temp.agg_order_old o LEFT JOIN d USING (customer_id) WHERE o.first_order_at IS DISTINCT FROM d.first_order_at
      UNION SELECT n.customer_id FROM temp.agg_order_new n JOIN d USING (customer_id) WHERE n.customer_kind = 'new' AND d.orders > 1)`);
  if (Number(moved?.n) > 0) {
    await conn.run(`INSERT INTO temp.agg_order_new
      SELECT o.* REPLACE (d.first_order_at AS first_order_at,
        CASE WHEN d.customer_id IS NULL THEN NULL WHEN o.occurred_at <= d.first_order_at THEN 'new' ELSE 'returning' END AS customer_kind)
      FROM fact_order o LEFT JOIN dim_customer d ON d.customer_id = o.customer_id
      WHERE o.customer_id IN (SELECT customer_id FROM temp.agg_order_old UNION SELECT customer_id FROM temp.agg_order_new)
        AND NOT ${among('o.order_id', 'agg_orders', 'order_id', orderNulls)} AND o.first_order_at IS DISTINCT FROM d.first_order_at`);
    await conn.run(`INSERT INTO temp.agg_order_old SELECT * FROM fact_order WHERE order_id IN (
      SELECT order_id FROM temp.agg_order_new WHERE order_id IS NOT NULL EXCEPT SELECT order_id FROM temp.agg_orders)`);
  }
  lap('first_orders');
  await conn.run(`CREATE TEMP TABLE agg_changed AS
    SELECT order_id, date_key FROM (SELECT * FROM temp.agg_order_old EXCEPT SELECT * FROM temp.agg_order_new)
    UNION ALL SELECT order_id, date_key FROM (SELECT * FROM temp.agg_order_new EXCEPT SELECT * FROM temp.agg_order_old)`);
  await conn.run(`CREATE TEMP TABLE agg_context AS SELECT order_id FROM (
      (SELECT ${ORDER_CONTEXT} FROM temp.agg_order_old EXCEPT SELECT ${ORDER_CONTEXT} FROM temp.agg_order_new)
      UNION ALL (SELECT ${ORDER_CONTEXT} FROM temp.agg_order_new EXCEPT SELECT ${ORDER_CONTEXT} FROM temp.agg_order_old))`);
  const changedNulls = await hasNull(conn, 'agg_changed', 'order_id');
  const contextNulls = await hasNull(conn, 'agg_context', 'order_id');
  await conn.run(`DELETE FROM fact_order WHERE ${among('order_id', 'agg_changed', 'order_id', changedNulls)};
    INSERT INTO fact_order BY NAME SELECT * FROM temp.agg_order_new WHERE ${among('order_id', 'agg_changed', 'order_id', changedNulls)} ORDER BY date_key, occurred_at`);
  lap('fact_order');

  // The days each mart rebuilds.
  const context = (col: string) => among(col, 'agg_context', 'order_id', contextNulls);
  const [contexts] = await rows(conn, `SELECT count(*) AS n FROM temp.agg_context`);
  const byOrder = Number(contexts?.n) > 0;
  const days = [
    ...ORDER_MARTS.map((m) => `SELECT '${m}' AS mart, date_key FROM temp.agg_changed`),
    ...Object.entries(FACT_MARTS).flatMap(([fact, marts]) => marts.map((m) => `SELECT '${m}', date_key FROM temp.agg_touched WHERE fact = '${fact}'`)),
    `SELECT 'agg_reconciliation_daily', date_key FROM temp.agg_touched WHERE fact = 'reconciliation'`,
  ];
  if (byOrder) {
    // The facts of orders whose context changed: one scan of each.
    await conn.run(`CREATE OR REPLACE TEMP TABLE agg_by_order AS ${Object.keys(FACT_MARTS).map((f) =>
      `SELECT '${f}' AS fact, date_key, ${REF_FACTS.has(f) ? 'processor_ref' : 'NULL'} AS processor_ref FROM ${f} WHERE ${context('order_id')}`).join(' UNION ALL ')}`);
    days.push(...Object.entries(FACT_MARTS).flatMap(([fact, marts]) => marts.map((m) => `SELECT '${m}', date_key FROM temp.agg_by_order WHERE fact = '${fact}'`)));
    days.push(`SELECT 'agg_reconciliation_daily', date_key FROM reconciliation WHERE processor_ref IN (
      SELECT processor_ref FROM temp.agg_by_order WHERE fact = 'fact_payment_attempt' AND processor_ref IS NOT NULL)`);
  }
  await conn.run(`CREATE TEMP TABLE agg_days AS SELECT DISTINCT mart, date_key FROM (${days.join(' UNION ALL ')}) WHERE date_key IS NOT NULL`);
  await conn.run('DROP TABLE IF EXISTS temp.agg_by_order');
  const found = await rows(conn, `SELECT mart, list(DISTINCT date_key ORDER BY date_key) AS days FROM temp.agg_days GROUP BY mart`);
  const counts = new Map(found.map((r) => [String(r.mart), r.days as unknown[]]));
  lap('days');
  for (const a of AGGREGATES) {
    const list = counts.get(a.table);
    if (a.key !== 'date_key' || !list || list.length === 0) continue;
    // Constant day lists: each scan skips row groups by their date zone maps.
    const scope: Scope = (col) => `${col} IN (${dateList(list)})`;
    await conn.run(`DELETE FROM ${a.table} WHERE ${scope('date_key')}; INSERT INTO ${a.table} BY NAME ${a.build(scope)}`);
    lap(a.table);
  }
  const [n] = await rows(conn, `SELECT count(*) AS n FROM (SELECT DISTINCT order_id FROM temp.agg_changed)`);
  await conn.run(`DELETE FROM agg_pending_recon`);
  await dropTemp(conn);
  lap('end');
  return { mode: 'incremental', orders: Number(n?.n ?? 0), days: [...counts.values()].reduce((s, x) => s + x.length, 0), timings };
}
