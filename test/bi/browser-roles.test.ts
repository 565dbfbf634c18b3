import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXPECTED } from './fixture.js';
import { browserFixture, kpiText, kpiValue, openDashboard, shot, signIn } from './browser.js';

const x = await browserFixture(['analyst', 'engineer', 'admin']);

describe('bi in the browser: analyst, engineer, admin', { timeout: 110_000 }, () => {
  it('analyst: dashboards with PII masked, no SQL explorer, can decide reviews', async () => {
    const page = await signIn(x, 'analyst');
    assert.equal(await page.$('#nav-sql'), null, 'no SQL explorer link');
    assert.equal(await page.$('#nav-operations'), null);
    for (const id of ['earnings', 'fraud', 'trends', 'stock']) {
      await openDashboard(x, page, id);
      await shot(page, `analyst-${id}`);
    }
    await openDashboard(x, page, 'fraud');
    assert.equal(await kpiText(page, 'approval_rate'), '66,7 %');
    assert.equal(await kpiValue(page, 'blocked_amount'), EXPECTED.blockedAmount);
    await openDashboard(x, page, 'trends');
    assert.equal(await kpiValue(page, 'aov'), EXPECTED.aov);
    await page.click('#kpi-orders');
    await page.waitForSelector('#drill-count');
    const cells = await page.$$eval('#drill td', (tds) => tds.map((td) => td.textContent ?? ''));
    assert.ok(cells.some((c) => c.endsWith('•••')), 'customer ids masked');
    assert.ok(!cells.includes('c1') && !cells.includes('Providencia'), 'no clear PII');
    await shot(page, 'analyst-drill-masked');
    await page.click('#drill-close');
    await page.goto(`${x.base}/bi/#/sql`);
    await page.waitForSelector('#refused');

    await page.goto(`${x.base}/bi/#/reviews`);
    await page.waitForSelector('[data-review="rev-1"][data-outcome="approve"]');
    await page.click('[data-review="rev-1"][data-outcome="approve"]');
    await page.waitForSelector('#review-rev-1 .tag.ok');
    await shot(page, 'analyst-reviews');
    await page.close();
  });

  it('engineer: operations and alerts; admin: users and roles', async () => {
    const eng = await signIn(x, 'engineer');
    assert.equal(await eng.$('#nav-earnings'), null);
    await openDashboard(x, eng, 'operations');
    await shot(eng, 'engineer-operations');
    await eng.goto(`${x.base}/bi/#/alerts`);
    await eng.click('#alerts-evaluate');
    await eng.waitForSelector('#alert-stockouts .tag.bad');
    await shot(eng, 'engineer-alerts');
    await eng.close();

    const admin = await signIn(x, 'admin');
    await admin.goto(`${x.base}/bi/#/admin`);
    await admin.waitForSelector('#new-user');
    await admin.fill('#new-username', 'nuevo.analista');
    await admin.fill('#new-password', 'una-clave-bien-larga');
    await admin.check('#new-role-analyst');
    await admin.click('#create-user');
    await admin.waitForFunction(() => document.querySelector('#users')?.textContent?.includes('nuevo.analista'));
    await shot(admin, 'admin-users');
    await admin.close();
    const users = await x.f.bi.auth.listUsers();
    assert.deepEqual(users.find((u) => u.username === 'nuevo.analista')?.roles, ['analyst']);
  });
});
