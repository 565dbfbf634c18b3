import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { browserFixture, shot, signIn } from './browser.js';

const x = await browserFixture(['cdo', 'scientist']);

describe('bi in the browser: SQL explorer and governance', { timeout: 110_000 }, () => {
  it('scientist: SQL explorer runs reads, refuses writes and file access', async () => {
    const page = await signIn(x, 'scientist');
    await page.goto(`${x.base}/bi/#/sql`);
    await page.fill('#sql', 'SELECT region, sum(amount) AS gmv FROM fact_order_line GROUP BY region ORDER BY gmv DESC');
    await page.click('#sql-run');
    await page.waitForSelector('#sql-result table');
    assert.match((await page.textContent('#sql-result')) ?? '', /Biobío/);
    await shot(page, 'scientist-sql');
    for (const [sql, code] of [['DELETE FROM fact_order_line', 'sql_not_read_only'], ["SELECT * FROM read_csv('/etc/passwd')", 'sql_file_access']] as const) {
      await page.fill('#sql', sql);
      await page.click('#sql-run');
      await page.waitForSelector(`#sql-error[data-code="${code}"]`);
    }
    await shot(page, 'scientist-sql-refused');
    const download = page.waitForEvent('download');
    await page.fill('#sql', 'SELECT * FROM fact_order_line');
    await page.click('#sql-parquet');
    assert.equal(readFileSync(await (await download).path() ?? '').subarray(0, 4).toString(), 'PAR1');
    await page.close();
  });

  it('cdo: governance shows the catalogue with PII tags and the audit log', async () => {
    const page = await signIn(x, 'cdo');
    await page.goto(`${x.base}/bi/#/governance`);
    await page.waitForSelector('#catalog table');
    assert.match((await page.textContent('#catalog')) ?? '', /fact_order_line[\s\S]*pseudonymous/);
    assert.match((await page.textContent('#audit')) ?? '', /dashboard/);
    await shot(page, 'cdo-governance');
    await page.close();
  });
});
