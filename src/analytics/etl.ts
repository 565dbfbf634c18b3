import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { EventEnvelope } from '../events/index.js';
import { MARTS } from './mapping.js';
import { DEFAULT_CHECKS, runChecks, type CheckResult } from './quality.js';
import { CATALOG_DDL, refreshCatalog } from './catalog.js';
import { rows } from './warehouse.js';

/** Raised when a blocking data-quality check fails: the load was rolled back. */
export class QualityCheckFailed extends Error {
  constructor(readonly failed: CheckResult[]) {
    super(`blocking data-quality check(s) failed: ${failed.map((f) => `${f.name} (${f.failures})`).join(', ')}; load rolled back`);
    this.name = 'QualityCheckFailed';
  }
}

export interface LoadResult {
  received: number;
  inserted: number;
  checks: CheckResult[];
  highWaterMark: number;
}

const DDL = `
CREATE TABLE IF NOT EXISTS stg_events (
  event_id UUID PRIMARY KEY, seq BIGINT NOT NULL, type VARCHAR NOT NULL, version INTEGER NOT NULL,
  aggregate_id VARCHAR, occurred_at TIMESTAMPTZ NOT NULL, payload JSON NOT NULL, loaded_at TIMESTAMPTZ NOT NULL);
CREATE TABLE IF NOT EXISTS etl_state (name VARCHAR PRIMARY KEY, high_water_mark BIGINT NOT NULL, updated_at TIMESTAMPTZ NOT NULL);
CREATE TABLE IF NOT EXISTS dq_check (name VARCHAR PRIMARY KEY, "table" VARCHAR NOT NULL, kind VARCHAR NOT NULL,
  "column" VARCHAR, arg VARCHAR, blocking BOOLEAN NOT NULL);
CREATE TABLE IF NOT EXISTS dq_result (run_at TIMESTAMPTZ NOT NULL, name VARCHAR NOT NULL, "table" VARCHAR NOT NULL,
  kind VARCHAR NOT NULL, blocking BOOLEAN NOT NULL, failures BIGINT NOT NULL, passed BOOLEAN NOT NULL);
CREATE TABLE IF NOT EXISTS settlement_report (report_date DATE NOT NULL, payout_id VARCHAR NOT NULL,
  processor_ref VARCHAR NOT NULL, amount BIGINT NOT NULL, fee BIGINT NOT NULL, PRIMARY KEY (processor_ref, payout_id));
${CATALOG_DDL}
`;

/** Creates the warehouse schema and the empty marts (idempotent). */
export async function ensureSchema(conn: DuckDBConnection): Promise<void> {
  await conn.run(DDL);
  for (const c of DEFAULT_CHECKS) {
    await conn.run(
      `INSERT OR IGNORE INTO dq_check VALUES ($1, $2, $3, $4, $5, $6)`,
      [c.name, c.table, c.kind, c.column ?? null, c.arg ?? null, c.blocking],
    );
  }
  await conn.run(`INSERT OR IGNORE INTO etl_state VALUES ('analytics.etl', 0, now())`);
  const existing = new Set((await rows(conn, `SELECT table_name FROM information_schema.tables`)).map((r) => String(r.table_name)));
  for (const m of MARTS) {
    if (!existing.has(m.table)) await conn.run(`CREATE TABLE ${m.table} AS ${m.sql}`);
  }
  if (!existing.has('reconciliation')) await conn.run(`CREATE TABLE reconciliation AS ${RECONCILIATION_SQL}`);
}

/** Ledger postings (processor receivables) vs the processor's settlement report, per day and payout. */
export const RECONCILIATION_SQL = `
  WITH ledger AS (
    SELECT processor_ref, sum(amount) AS amount, min(date_key) AS date_key FROM fact_ledger_posting
    WHERE processor_ref IS NOT NULL AND kind = 'payment_captured' AND account LIKE 'processor_clearing:%' GROUP BY processor_ref),
  report AS (SELECT processor_ref, any_value(payout_id) AS payout_id, any_value(report_date) AS report_date,
             sum(amount) AS amount, sum(fee) AS fee FROM settlement_report GROUP BY processor_ref)
  SELECT coalesce(r.report_date, l.date_key) AS date_key, r.payout_id, coalesce(l.processor_ref, r.processor_ref) AS processor_ref,
         l.amount AS ledger_amount, r.amount AS processor_amount, coalesce(r.fee, 0) AS fee,
         CASE WHEN r.processor_ref IS NULL THEN 'missing_at_processor'
              WHEN l.processor_ref IS NULL THEN 'missing_here'
              WHEN l.amount <> r.amount THEN 'amount_mismatch'
              ELSE 'matched' END AS status
  FROM ledger l FULL OUTER JOIN report r ON l.processor_ref = r.processor_ref`;

/**
 * Stages envelopes in a temp table outside the transaction: one NDJSON temp file read by
 * DuckDB's JSON reader (far fewer native calls than appending value by value).
 */
async function stage(conn: DuckDBConnection, events: readonly EventEnvelope[]): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'embudo-etl-'));
  const file = path.join(dir, 'batch.ndjson');
  try {
    const lines = events.map((e) => JSON.stringify({ event_id: e.id, seq: e.seq, type: e.type, version: e.version,
      aggregate_id: e.aggregateId, occurred_at: e.occurredAt.toISOString(), payload: e.payload }));
    writeFileSync(file, lines.length > 0 ? `${lines.join('\n')}\n` : '');
    await conn.run(`CREATE OR REPLACE TEMP TABLE stg_incoming (event_id VARCHAR, seq BIGINT, type VARCHAR, version INTEGER,
      aggregate_id VARCHAR, occurred_at VARCHAR, payload JSON)`);
    if (lines.length > 0) {
      await conn.run(`INSERT INTO temp.stg_incoming SELECT * FROM read_json('${file.replaceAll("'", "''")}', format = 'newline_delimited',
        columns = {event_id: 'VARCHAR', seq: 'BIGINT', type: 'VARCHAR', version: 'INTEGER', aggregate_id: 'VARCHAR',
                   occurred_at: 'VARCHAR', payload: 'JSON'}, maximum_object_size = 67108864)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface LoadOptions {
  now: Date;
  /** New high-water mark recorded with the load (landing sequence), when larger. */
  highWaterMark?: number;
  /** Where the Parquet lake lives; no export without it. */
  lakeDir?: string;
}

/**
 * Loads a batch: staging (dedupe by event id) → marts rebuilt from staging (latest state by
 * the resource's own time) → quality checks → commit, or roll back on a blocking failure.
 */
export async function load(conn: DuckDBConnection, events: readonly EventEnvelope[], opts: LoadOptions): Promise<LoadResult> {
  await stage(conn, events);
  await conn.run('BEGIN TRANSACTION');
  let checks: CheckResult[];
  let inserted = 0;
  try {
    const before = await rows(conn, `SELECT count(*) AS n FROM stg_events`);
    await conn.run(`INSERT OR IGNORE INTO stg_events
      SELECT DISTINCT ON (event_id) CAST(event_id AS UUID), seq, type, version, aggregate_id, CAST(occurred_at AS TIMESTAMPTZ),
             payload, $1::TIMESTAMPTZ FROM temp.stg_incoming ORDER BY event_id, seq`, [opts.now.toISOString()]);
    const after = await rows(conn, `SELECT count(*) AS n FROM stg_events`);
    inserted = Number(after[0]?.n) - Number(before[0]?.n);
    for (const m of MARTS) await conn.run(`CREATE OR REPLACE TABLE ${m.table} AS ${m.sql}`);
    await conn.run(`CREATE OR REPLACE TABLE reconciliation AS ${RECONCILIATION_SQL}`);
    checks = await runChecks(conn, opts.now);
    const failed = checks.filter((c) => c.blocking && !c.passed);
    if (failed.length > 0) throw new QualityCheckFailed(failed);
    if (opts.highWaterMark !== undefined) {
      await conn.run(`UPDATE etl_state SET high_water_mark = greatest(high_water_mark, $1), updated_at = $2::TIMESTAMPTZ
        WHERE name = 'analytics.etl'`, [opts.highWaterMark, opts.now.toISOString()]);
    }
    await refreshCatalog(conn);
    await recordChecks(conn, opts.now, checks);
    await conn.run('COMMIT');
  } catch (err) {
    await conn.run('ROLLBACK');
    if (err instanceof QualityCheckFailed) await recordChecks(conn, opts.now, err.failed);
    throw err;
  }
  if (opts.lakeDir && inserted > 0) await exportLake(conn, opts.lakeDir);
  const [state] = await rows(conn, `SELECT high_water_mark FROM etl_state WHERE name = 'analytics.etl'`);
  return { received: events.length, inserted, checks, highWaterMark: Number(state?.high_water_mark ?? 0) };
}

async function recordChecks(conn: DuckDBConnection, now: Date, checks: CheckResult[]): Promise<void> {
  for (const c of checks) {
    await conn.run(`INSERT INTO dq_result VALUES ($1::TIMESTAMPTZ, $2, $3, $4, $5, $6, $7)`,
      [now.toISOString(), c.name, c.table, c.kind, c.blocking, c.failures, c.passed]);
  }
}

export const LAKE_TABLES = ['fact_order_line', 'fact_payment_attempt', 'fact_refund', 'fact_ledger_posting', 'fact_stock_movement', 'fact_fraud_decision'];

/** Writes the facts to `<lake>/<table>/date=YYYY-MM-DD/*.parquet` (Hive layout), replacing each table's tree. */
export async function exportLake(conn: DuckDBConnection, lakeDir: string): Promise<void> {
  for (const t of LAKE_TABLES) {
    const dir = path.join(lakeDir, t);
    mkdirSync(dir, { recursive: true });
    await conn.run(`COPY (SELECT * EXCLUDE (date_key), strftime(date_key, '%Y-%m-%d') AS date FROM ${t})
      TO '${dir.replaceAll("'", "''")}' (FORMAT parquet, PARTITION_BY (date), OVERWRITE true, FILENAME_PATTERN 'part_{i}')`);
  }
}
