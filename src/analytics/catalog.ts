import type { DuckDBConnection } from '@duckdb/node-api';
import { AGGREGATES } from './aggregates.js';
import { MARTS } from './mapping.js';

/** The data catalogue, as data: tables (description, owner, lineage) and columns (type, PII class). */
export const CATALOG_DDL = `
CREATE TABLE IF NOT EXISTS catalog_table (table_name VARCHAR PRIMARY KEY, description VARCHAR NOT NULL,
  owner VARCHAR NOT NULL, lineage VARCHAR[] NOT NULL);
CREATE TABLE IF NOT EXISTS catalog_column (table_name VARCHAR NOT NULL, column_name VARCHAR NOT NULL,
  data_type VARCHAR NOT NULL, pii VARCHAR NOT NULL, PRIMARY KEY (table_name, column_name));`;

export type PiiClass = 'none' | 'pseudonymous' | 'quasi_identifier' | 'direct_identifier';

const PII: Record<string, PiiClass> = {
  customer_id: 'pseudonymous',
  customer_pseudonym: 'pseudonymous',
  comuna: 'quasi_identifier',
  region: 'quasi_identifier',
  payload: 'direct_identifier',
};

const OWNER = 'analytics';

const EXTRA: { table: string; description: string; sources: string[] }[] = [
  { table: 'stg_events', description: 'Staging: every consumed event once (by event id), raw payload.', sources: ['events_outbox (via analytics.etl consumer)'] },
  { table: 'reconciliation', description: 'Ledger postings vs processor settlement report per day and payout: matched, missing_at_processor, missing_here, amount_mismatch; fees.', sources: ['fact_ledger_posting', 'settlement_report'] },
  { table: 'settlement_report', description: 'Processor settlement report lines as imported (per payout).', sources: ['processor settlement report file'] },
  { table: 'dq_result', description: 'Data-quality check results per run.', sources: ['dq_check'] },
];

export function piiOf(column: string): PiiClass {
  return PII[column] ?? 'none';
}

/** Rewrites the catalogue from the mart specs and the live column list (inside the load transaction). */
export async function refreshCatalog(conn: DuckDBConnection): Promise<void> {
  await conn.run('DELETE FROM catalog_table');
  await conn.run('DELETE FROM catalog_column');
  for (const t of [...MARTS, ...EXTRA, ...AGGREGATES]) {
    await conn.run(`INSERT INTO catalog_table VALUES ($1, $2, $3, string_split($4, '|'))`, [t.table, t.description, OWNER, t.sources.join('|')]);
  }
  await conn.run(`INSERT INTO catalog_column SELECT c.table_name, c.column_name, c.data_type,
      CASE c.column_name ${Object.entries(PII).map(([k, v]) => `WHEN '${k}' THEN '${v}'`).join(' ')} ELSE 'none' END
    FROM information_schema.columns c JOIN catalog_table t ON t.table_name = c.table_name
    WHERE c.table_schema = 'main' AND c.table_catalog = current_database()`);
}
