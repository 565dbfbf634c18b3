import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXPECTED } from './fixture.js';
import { browserFixture, kpiText, kpiValue, openDashboard, shot, signIn } from './browser.js';

const x = await browserFixture(['cdo']);

describe('bi in the browser: every dashboard', { timeout: 110_000 }, () => {
  it('cdo: every dashboard opens; the numbers on screen equal the warehouse', async () => {
    const page = await signIn(x, 'cdo');
    for (const id of ['earnings', 'fraud', 'trends', 'stock', 'operations']) {
      await openDashboard(x, page, id);
      await shot(page, `cdo-${id}`);
    }
    await openDashboard(x, page, 'earnings');
    const [wh] = await x.f.analytics.query(`SELECT sum(amount) AS gmv FROM fact_order_line`);
    assert.equal(await kpiValue(page, 'gmv'), Number(wh?.gmv));
    assert.equal(await kpiValue(page, 'gmv'), EXPECTED.gmv);
    assert.equal((await kpiText(page, 'gmv'))?.replace(/\s/g, ''), '$73.000');
    assert.equal(await kpiValue(page, 'net_revenue'), EXPECTED.netRevenue);
    assert.equal(await kpiValue(page, 'fees'), EXPECTED.fees);

    await page.close();
  });

});
