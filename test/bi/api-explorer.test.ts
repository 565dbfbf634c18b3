import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BI_COOKIE } from '../../src/bi/index.js';
import { freshDatabase } from '../support/db.js';
import { EXPECTED, memoryReviewQueue, startBiFixture, type BiFixture } from './fixture.js';

const { db } = await freshDatabase();
const RANGE = { from: '2026-11-01', to: '2026-11-30' };

let f: BiFixture;
const cookies = new Map<string, string>();

async function login(fx: BiFixture, username: string, password: string): Promise<string> {
  const res = await fx.app.inject({ method: 'POST', url: '/bi/api/login', payload: { username, password } });
  assert.equal(res.statusCode, 200, res.body);
  const set = String(res.headers['set-cookie']);
  assert.match(set, /HttpOnly/);
  assert.match(set, /SameSite=Strict/);
  const m = new RegExp(`${BI_COOKIE}=([^;]+)`).exec(set);
  assert.ok(m?.[1]);
  return `${BI_COOKIE}=${m[1]}`;
}

async function as(role: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, payload?: unknown) {
  return f.app.inject({ method, url, headers: { cookie: cookies.get(role) ?? '' }, ...(payload ? { payload: payload as Record<string, unknown> } : {}) });
}

async function panels(role: string, id: string, filters: Record<string, string> = {}) {
  const res = await as(role, 'GET', `/bi/api/dashboards/${id}?${new URLSearchParams({ ...RANGE, ...filters })}`);
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json<{ panels: { id: string; rows: Record<string, unknown>[]; available: boolean; error?: string }[] }>();
  for (const p of body.panels) assert.equal(p.error, undefined, `panel ${id}/${p.id} failed`);
  return new Map(body.panels.map((p) => [p.id, p]));
}

before(async () => {
  f = await startBiFixture(db, { explorerTimeoutMs: 1500, ports: { fraudReviews: memoryReviewQueue() }, roles: ['analyst', 'scientist', 'cdo', 'engineer'] });
  for (const [role, u] of Object.entries(f.users)) cookies.set(role, await login(f, u.username, u.password));
});
after(async () => f.close());

describe('bi: drill-down, export, masking and the audit log', () => {
  it('drills from a chart element to its rows and exports them as CSV; analysts see PII masked', async () => {
    const q = new URLSearchParams({ ...RANGE, value: 'Biobío' });
    const rows = (await as('cdo', 'GET', `/bi/api/dashboards/trends/panels/by_region/rows?${q}`)).json<{ rows: Record<string, unknown>[] }>().rows;
    assert.equal(rows.length, 2);
    assert.equal(rows.reduce((n, r) => n + Number(r.amount), 0), EXPECTED.gmvBiobio);
    assert.deepEqual(new Set(rows.map((r) => r.customer_id)), new Set(['c2']));
    const masked = (await as('analyst', 'GET', `/bi/api/dashboards/trends/panels/by_region/rows?${q}`)).json<{ rows: Record<string, unknown>[] }>().rows;
    assert.equal(masked.length, 2);
    for (const r of masked) {
      assert.equal(r.customer_id, 'c2•••');
      assert.match(String(r.comuna), /•••$/);
    }
    const csv = await as('analyst', 'GET', `/bi/api/dashboards/trends/panels/by_region/rows?${new URLSearchParams({ ...RANGE, value: 'Biobío', format: 'csv' })}`);
    assert.equal(csv.statusCode, 200);
    assert.match(String(csv.headers['content-type']), /text\/csv/);
    const lines = csv.body.trim().split('\r\n');
    assert.equal(lines.length, 3);
    assert.ok(!csv.body.includes('Concepción'), 'masked in the export too');
    const kpiRows = (await as('cdo', 'GET', `/bi/api/dashboards/earnings/panels/refunds/rows?${new URLSearchParams(RANGE)}`)).json<{ rows: Record<string, unknown>[] }>().rows;
    assert.equal(kpiRows.length, 1);
  });

  it('records who opened what and how many rows; the log refuses UPDATE and DELETE', async () => {
    await panels('analyst', 'fraud');
    assert.equal((await as('analyst', 'POST', '/bi/api/sql', { sql: 'SELECT 1' })).statusCode, 403);
    const res = await as('cdo', 'GET', '/bi/api/governance/audit?username=analyst-user&limit=500');
    const entries = res.json<{ entries: { action: string; target: string; rowCount: number | null }[] }>().entries;
    assert.ok(entries.some((e) => e.action === 'dashboard' && e.target === 'fraud' && (e.rowCount ?? 0) > 0));
    assert.ok(entries.some((e) => e.action === 'export' && e.target === 'trends/by_region=Biobío' && e.rowCount === 2));
    assert.ok(entries.some((e) => e.action === 'query_refused'));
    await assert.rejects(db.query(`UPDATE bi_access_audit SET username = 'someone-else'`), /append-only/);
    await assert.rejects(db.query(`DELETE FROM bi_access_audit`), /append-only/);
    await assert.rejects(db.query(`TRUNCATE bi_access_audit`), /append-only/);
  });
});

describe('bi: SQL explorer', () => {
  const refuse = async (sql: string, code: string, status: number) => {
    const res = await as('scientist', 'POST', '/bi/api/sql', { sql });
    assert.equal(res.statusCode, status, `${sql}: ${res.body}`);
    assert.equal(res.json<{ code: string }>().code, code, sql);
  };

  it('answers read-only queries with a row limit', async () => {
    const res = await as('scientist', 'POST', '/bi/api/sql', { sql: 'SELECT sum(amount) AS gmv FROM fact_order_line' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(Number(res.json<{ rows: { gmv: string }[] }>().rows[0]?.gmv), EXPECTED.gmv);
    const limited = (await as('scientist', 'POST', '/bi/api/sql', { sql: 'SELECT * FROM fact_order_line', limit: 3 })).json<{ rows: unknown[]; truncated: boolean }>();
    assert.equal(limited.rows.length, 3);
    assert.equal(limited.truncated, true);
    const cte = await as('scientist', 'POST', '/bi/api/sql', { sql: 'WITH x AS (SELECT * FROM fact_order_line) SELECT count(*) AS n FROM x, range(2)' });
    assert.equal(cte.statusCode, 200, cte.body);
  });

  it('refuses writes, DDL and file access with 4xx codes', async () => {
    await refuse('DELETE FROM fact_order_line', 'sql_not_read_only', 403);
    await refuse('UPDATE fact_order_line SET amount = 0', 'sql_not_read_only', 403);
    await refuse('INSERT INTO fact_order_line SELECT * FROM fact_order_line', 'sql_not_read_only', 403);
    await refuse('CREATE TABLE x AS SELECT 1', 'sql_not_read_only', 403);
    await refuse('DROP TABLE fact_order_line', 'sql_not_read_only', 403);
    await refuse("COPY fact_order_line TO '/tmp/x.csv'", 'sql_not_read_only', 403);
    await refuse("ATTACH '/tmp/other.duckdb' AS o", 'sql_not_read_only', 403);
    await refuse('INSTALL httpfs', 'sql_not_read_only', 403);
    await refuse('LOAD httpfs', 'sql_not_read_only', 403);
    await refuse("PRAGMA enable_profiling", 'sql_not_read_only', 403);
    await refuse("SET enable_external_access = true", 'sql_not_read_only', 403);
    await refuse("SELECT * FROM read_csv('/etc/passwd')", 'sql_file_access', 403);
    await refuse("SELECT * FROM '/etc/passwd'", 'sql_file_access', 403);
    await refuse("SELECT * FROM read_text('/etc/hostname')", 'sql_file_access', 403);
    await refuse("SELECT * FROM glob('/*')", 'sql_file_access', 403);
    await refuse("SELECT getenv('HOME')", 'sql_function_not_allowed', 403);
    await refuse("SELECT * FROM duckdb_settings()", 'sql_function_not_allowed', 403);
    await refuse('SELECT * FROM information_schema.tables', 'sql_table_not_allowed', 403);
    await refuse('SELECT 1; DELETE FROM fact_order_line', 'sql_not_read_only', 403);
    await refuse('SELEKT 1', 'sql_invalid', 400);
    const [n] = await f.analytics.query('SELECT count(*) AS n FROM fact_order_line');
    assert.equal(Number(n?.n), 7, 'nothing changed');
  });

  it('stops a slow query at the timeout with a 400', async () => {
    const started = Date.now();
    const res = await as('scientist', 'POST', '/bi/api/sql', { sql: 'SELECT count(*) FROM range(100000000000) a' });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json<{ code: string }>().code, 'query_timeout');
    assert.ok(Date.now() - started < 10_000);
    const after = await as('scientist', 'POST', '/bi/api/sql', { sql: 'SELECT 1 AS one' });
    assert.equal(after.statusCode, 200, 'the reader is usable again');
  });

  it('exports CSV and Parquet', async () => {
    const csv = await as('cdo', 'POST', '/bi/api/sql/export', { sql: 'SELECT order_id, amount FROM fact_order_line ORDER BY order_id, line_no', format: 'csv' });
    assert.equal(csv.statusCode, 200, csv.body);
    assert.equal(csv.body.split('\r\n')[0], 'order_id,amount');
    assert.equal(csv.body.trim().split('\r\n').length, 8);
    const pq = await as('cdo', 'POST', '/bi/api/sql/export', { sql: 'SELECT * FROM fact_order_line', format: 'parquet' });
    assert.equal(pq.statusCode, 200);
    assert.equal(pq.rawPayload.subarray(0, 4).toString(), 'PAR1');
    assert.equal((await as('cdo', 'POST', '/bi/api/sql/export', { sql: 'DROP TABLE x', format: 'parquet' })).statusCode, 403);
  });
});

describe('bi: governance, alerts and the review queue', () => {
  it('shows the catalogue with PII tags and lineage, and the roles × datasets matrix', async () => {
    const cat = (await as('cdo', 'GET', '/bi/api/governance/catalog')).json<{ tables: { table_name: string; lineage: string[]; columns: { column_name: string; pii: string }[] }[] }>();
    const lines = cat.tables.find((t) => t.table_name === 'fact_order_line');
    assert.deepEqual(lines?.lineage, ['checkout.order_placed']);
    assert.equal(lines?.columns.find((c) => c.column_name === 'customer_id')?.pii, 'pseudonymous');
    const matrix = (await as('cdo', 'GET', '/bi/api/governance/matrix')).json<{ grants: Record<string, { abilities: string[] }> }>();
    assert.ok(!matrix.grants.analyst?.abilities.includes('explorer'));
    assert.ok(matrix.grants.scientist?.abilities.includes('explorer'));
  });

  it('evaluates thresholds stored as data and exposes firing alerts as metrics', async () => {
    const rules = (await as('engineer', 'POST', '/bi/api/alerts/evaluate')).json<{ rules: { id: string; firing: boolean; value: number | null }[] }>().rules;
    const stockouts = rules.find((r) => r.id === 'stockouts');
    assert.equal(stockouts?.value, 1);
    assert.equal(stockouts?.firing, true);
    assert.equal(rules.find((r) => r.id === 'stuck-payments')?.value, null, 'no payments port here: unknown, not firing');
    const put = await as('engineer', 'PUT', '/bi/api/alerts/stockouts', { kpi: 'stockouts', op: '>', threshold: 5, description: 'More than 5 stockouts' });
    assert.equal(put.statusCode, 200, put.body);
    const again = (await as('engineer', 'POST', '/bi/api/alerts/evaluate')).json<{ rules: { id: string; firing: boolean }[] }>().rules;
    assert.equal(again.find((r) => r.id === 'stockouts')?.firing, false);
    await as('engineer', 'PUT', '/bi/api/alerts/stockouts', { kpi: 'stockouts', op: '>=', threshold: 1, description: 'Any stockout' });
    await f.bi.alerts.evaluate();
    const metrics = await f.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /embudo_bi_alert_firing\{rule="stockouts",kpi="stockouts"\} 1/);
    const ops = await panels('engineer', 'operations');
    assert.ok(ops.get('alerts')?.rows.some((r) => r.rule === 'stockouts'));
    assert.equal((await as('analyst', 'PUT', '/bi/api/alerts/x1', { kpi: 'stockouts', op: '>', threshold: 0, description: 'x' })).statusCode, 403);
  });

  it('decides reviews through the fraud review port', async () => {
    const list = await as('analyst', 'GET', '/bi/api/fraud-reviews');
    assert.equal(list.json<{ reviews: unknown[] }>().reviews.length, 2);
    const d = await as('analyst', 'POST', '/bi/api/fraud-reviews/rev-1/decision', { outcome: 'reject' });
    assert.equal(d.json<{ review: { status: string } }>().review.status, 'rejected');
    assert.equal(d.json<{ review: { reviewer: string } }>().review.reviewer, 'analyst-user');
  });
});
