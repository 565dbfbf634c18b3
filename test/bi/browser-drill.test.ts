import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EXPECTED } from './fixture.js';
import { browserFixture, kpiValue, openDashboard, reload, shot, signIn } from './browser.js';

const x = await browserFixture(['cdo']);

describe('bi in the browser: filters, drill-down and export', { timeout: 110_000 }, () => {
  it('cdo: a filter changes every panel; a KPI and a chart bar drill down to their rows; rows export as CSV', async () => {
    const page = await signIn(x, 'cdo');
    await openDashboard(x, page, 'earnings');
    await reload(page, async () => {
      await page.selectOption('#f-region', 'Biobío');
      await page.click('#apply');
    });
    assert.equal(await kpiValue(page, 'gmv'), EXPECTED.gmvBiobio);
    // Orders have no fulfilment location: the filter is disabled here, with the reason shown.
    assert.equal(await page.isDisabled('#f-location'), true);
    assert.match((await page.textContent('#hint-location')) ?? '', /no fulfilment location/);
    await shot(page, 'cdo-earnings-biobio');

    await page.click('#kpi-gmv');
    await page.waitForSelector('#drill-count');
    assert.equal(await page.getAttribute('#drill-count', 'data-rows'), '2');
    const download = page.waitForEvent('download');
    await page.click('#drill-csv');
    const file = await (await download).path();
    const csv = readFileSync(file, 'utf8').trim().split('\r\n');
    assert.equal(csv.length, 3);
    assert.match(csv[0] ?? '', /order_id/);
    await shot(page, 'cdo-drill');
    await page.click('#drill-close');

    // Click a bar of a chart: the rows behind that región.
    await page.selectOption('#f-region', '');
    await reload(page, () => page.click('#apply'));
    await openDashboard(x, page, 'trends');
    await page.locator('#panel-by_region').scrollIntoViewIfNeeded();
    await page.waitForSelector('#panel-by_region .chart[data-ready="true"]');
    const point = await page.evaluate((EXPECTED_HALF) => {
      const el = document.querySelector('#panel-by_region .chart') as HTMLElement;
      const chart = (window as unknown as { echarts: { getInstanceByDom(e: HTMLElement): { convertToPixel(f: object, v: number[]): number[] } } }).echarts.getInstanceByDom(el);
      const rect = el.getBoundingClientRect();
      const [x, y] = chart.convertToPixel({ seriesIndex: 0 }, [EXPECTED_HALF, 0]);
      return { x: rect.left + (x ?? 0), y: rect.top + (y ?? 0) };
    }, EXPECTED.gmvBiobio / 2);
    await page.mouse.click(point.x, point.y);
    await page.waitForSelector('#drill-count');
    assert.match((await page.textContent('#drill h2')) ?? '', /Biobío/);
    assert.equal(await page.getAttribute('#drill-count', 'data-rows'), '2');
    await shot(page, 'cdo-trends-drill-region');
    await page.click('#drill-close');

    // On stock control the location filter applies.
    await openDashboard(x, page, 'stock');
    assert.equal(await page.isDisabled('#f-location'), false);
    assert.equal(await page.locator('#hint-location').count(), 0);

    await page.close();
  });
});
