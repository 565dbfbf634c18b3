import { createHash } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { rows } from './warehouse.js';

/** A dbt-style data-quality check, stored as a row of `dq_check`. */
export interface QualityCheck {
  name: string;
  table: string;
  kind: 'unique' | 'not_null' | 'relationships' | 'accepted_values' | 'row_count' | 'freshness';
  /** Column(s), comma-separated for unique. */
  column?: string;
  /** relationships: `table.column`; accepted_values: comma-separated; row_count: min; freshness: max age seconds. */
  arg?: string;
  blocking: boolean;
}

export const DEFAULT_CHECKS: QualityCheck[] = [
  { name: 'stg_events_unique_id', table: 'stg_events', kind: 'unique', column: 'event_id', blocking: true },
  { name: 'order_line_unique', table: 'fact_order_line', kind: 'unique', column: 'order_id,line_no', blocking: true },
  { name: 'order_line_sku_not_null', table: 'fact_order_line', kind: 'not_null', column: 'sku', blocking: true },
  { name: 'order_line_quantity_not_null', table: 'fact_order_line', kind: 'not_null', column: 'quantity', blocking: true },
  { name: 'order_line_price_not_null', table: 'fact_order_line', kind: 'not_null', column: 'unit_price', blocking: true },
  { name: 'order_line_product', table: 'fact_order_line', kind: 'relationships', column: 'sku', arg: 'dim_product.sku', blocking: true },
  { name: 'payment_attempt_unique', table: 'fact_payment_attempt', kind: 'unique', column: 'attempt_id', blocking: true },
  { name: 'payment_status_values', table: 'fact_payment_attempt', kind: 'accepted_values', column: 'status', arg: 'approved,rejected,pending,expired', blocking: true },
  { name: 'refund_unique', table: 'fact_refund', kind: 'unique', column: 'refund_id', blocking: true },
  { name: 'stock_on_hand_unique', table: 'stock_on_hand', kind: 'unique', column: 'sku,location_id', blocking: true },
  { name: 'stg_events_present', table: 'stg_events', kind: 'row_count', arg: '0', blocking: false },
  { name: 'stg_events_fresh', table: 'stg_events', kind: 'freshness', column: 'occurred_at', arg: '3600', blocking: false },
];

/**
 * Tables a load changed only at some keys: `where` selects the rows of the touched keys, every
 * row with the same `key` value included (the rest is as the last commit left it).
 */
export type CheckScope = Record<string, { key: string; where: string }>;

/**
 * The rows a check must look at: with a scope, a blocking check that passed on the committed
 * state can fail only on the touched rows (row-local kinds, and unique over columns that include
 * the key, so every row sharing a value is in scope). Else the whole table.
 */
function rowsFor(c: QualityCheck, scope: CheckScope | undefined): string {
  const s = scope?.[c.table];
  if (!s || !c.blocking) return 'true';
  if (c.kind === 'not_null' || c.kind === 'accepted_values') return s.where;
  if (c.kind === 'unique' && (c.column ?? '').split(',').map((x) => x.trim()).includes(s.key)) return s.where;
  return 'true';
}

function checkSql(c: QualityCheck, nowIso: string, scope?: CheckScope): string {
  const col = c.column ?? '';
  const where = rowsFor(c, scope);
  switch (c.kind) {
    case 'unique':
      return `SELECT count(*) AS failures FROM (SELECT ${col} FROM ${c.table} WHERE ${where} GROUP BY ${col} HAVING count(*) > 1)`;
    case 'not_null':
      return `SELECT count(*) AS failures FROM ${c.table} WHERE ${col} IS NULL AND ${where}`;
    case 'relationships': {
      const [t, k] = (c.arg ?? '').split('.');
      return `SELECT count(*) AS failures FROM ${c.table} a WHERE a.${col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${t} b WHERE b.${k} = a.${col})`;
    }
    case 'accepted_values': {
      const list = (c.arg ?? '').split(',').map((v) => `'${v.replaceAll("'", "''")}'`).join(',');
      return `SELECT count(*) AS failures FROM ${c.table} WHERE ${col} IS NOT NULL AND ${col} NOT IN (${list}) AND ${where}`;
    }
    case 'row_count':
      return `SELECT CASE WHEN count(*) >= ${Number(c.arg ?? 0)} THEN 0 ELSE 1 END AS failures FROM ${c.table}`;
    case 'freshness':
      return `SELECT CASE WHEN count(*) = 0 OR max(${col}) >= TIMESTAMPTZ '${nowIso}' - INTERVAL (${Number(c.arg ?? 0)}) SECOND THEN 0 ELSE 1 END AS failures FROM ${c.table}`;
  }
}

export interface CheckResult {
  name: string;
  table: string;
  kind: QualityCheck['kind'];
  blocking: boolean;
  failures: number;
  passed: boolean;
}

/**
 * Runs every check in `dq_check` (on the connection's current transaction state). A scope is
 * used only when the checks are the ones that last passed whole (their hash in `etl_mart` as
 * `(dq_check)`, written in the load's transaction when every blocking check passes on whole tables).
 */
export async function runChecks(conn: DuckDBConnection, now: Date, scope?: CheckScope): Promise<CheckResult[]> {
  const checks = (await rows(conn, `SELECT name, "table", kind, "column", arg, blocking FROM dq_check ORDER BY name`)) as unknown as QualityCheck[];
  const definition = createHash('sha256').update(JSON.stringify(checks)).digest('hex');
  const [passed] = await rows(conn, `SELECT definition FROM etl_mart WHERE table_name = '(dq_check)'`);
  const scoped = passed?.definition === definition ? scope : undefined;
  // All checks in one query: one round trip instead of one per check.
  const found = checks.length === 0 ? [] : await rows(conn, checks.map((c, i) =>
    `SELECT ${i} AS i, failures FROM (${checkSql(c, now.toISOString(), scoped)})`).join(' UNION ALL '));
  const failuresOf = new Map(found.map((r) => [Number(r.i), Number(r.failures ?? 0)]));
  const out: CheckResult[] = checks.map((c, i) => {
    const failures = failuresOf.get(i) ?? 0;
    return { name: c.name, table: c.table, kind: c.kind, blocking: c.blocking, failures, passed: failures === 0 };
  });
  if (!scoped && out.every((c) => c.passed || !c.blocking)) {
    await conn.run(`INSERT OR REPLACE INTO etl_mart VALUES ('(dq_check)', $1)`, [definition]);
  }
  return out;
}
