import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { rows } from './warehouse.js';

/**
 * The pseudonymisation key: `<dataDir>/analytics/silo-hmac.key`, 32 random bytes made on first
 * use (mode 0600). Never a constant; rotate by replacing the file (pseudonyms change with it).
 */
export function siloKey(dataDir: string): Buffer {
  const file = path.join(dataDir, 'analytics', 'silo-hmac.key');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
}

export function pseudonym(key: Buffer, customerId: string): string {
  return createHmac('sha256', key).update(customerId).digest('hex').slice(0, 32);
}

/**
 * Rebuilds the market-research silo (a separate DuckDB file): one row per pseudonymous customer
 * and delivery comuna/región with order history and segment. Only the pseudonym, comuna, región
 * and aggregates leave the warehouse — no names, e-mails, phones or street lines.
 */
export async function buildSilo(conn: DuckDBConnection, siloFile: string, key: Buffer): Promise<number> {
  mkdirSync(path.dirname(siloFile), { recursive: true });
  const ids = await rows(conn, `SELECT DISTINCT customer_id FROM fact_order_line WHERE customer_id IS NOT NULL`);
  await conn.run(`CREATE OR REPLACE TEMP TABLE silo_pseudonym (customer_id VARCHAR, pseudonym VARCHAR)`);
  const app = await conn.createAppender('silo_pseudonym', 'main', 'temp');
  for (const r of ids) {
    app.appendVarchar(String(r.customer_id));
    app.appendVarchar(pseudonym(key, String(r.customer_id)));
    app.endRow();
  }
  app.closeSync();
  await conn.run(`ATTACH '${siloFile.replaceAll("'", "''")}' AS silo`);
  try {
    await conn.run(`CREATE OR REPLACE TABLE silo.customer_geography AS
      WITH per_customer AS (
        SELECT p.pseudonym, f.comuna, f.region, count(DISTINCT f.order_id) AS orders, sum(f.amount) AS gmv,
               sum(f.quantity) AS units, strftime(min(f.date_key), '%Y-%m') AS first_month, strftime(max(f.date_key), '%Y-%m') AS last_month
        FROM fact_order_line f JOIN temp.silo_pseudonym p USING (customer_id) GROUP BY ALL)
      SELECT *, CASE WHEN orders >= 5 THEN 'loyal' WHEN orders >= 2 THEN 'repeat' ELSE 'new' END AS segment FROM per_customer`);
    const [r] = await rows(conn, `SELECT count(*) AS n FROM silo.customer_geography`);
    return Number(r?.n ?? 0);
  } finally {
    await conn.run('DETACH silo');
  }
}
