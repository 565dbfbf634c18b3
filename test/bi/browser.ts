import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { freshDatabase } from '../support/db.js';
import type { BiRole } from '../../src/bi/index.js';
import { memoryReviewQueue, startBiFixture, type BiFixture } from './fixture.js';

const ARTIFACTS = path.resolve(import.meta.dirname, '..', '..', 'test-artifacts', 'bi');
mkdirSync(ARTIFACTS, { recursive: true });


export interface BrowserFixture { f: BiFixture; browser: Browser; base: string }

/** The fixture BI listening on a port, and headless Chromium; closed after the file's tests. */
export async function browserFixture(roles: BiRole[]): Promise<BrowserFixture> {
  const { db } = await freshDatabase();
  const f = await startBiFixture(db, { ports: { fraudReviews: memoryReviewQueue() }, roles });
  await f.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = f.app.server.address();
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  after(async () => {
    await browser.close();
    await f.close();
  });
  return { f, browser, base };
}

export async function signIn({ f, browser, base }: BrowserFixture, role: keyof BiFixture['users']): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 1000 }, acceptDownloads: true });
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/bi/`);
  await page.fill('input[name=username]', f.users[role].username);
  await page.fill('input[name=password]', f.users[role].password);
  await page.click('button[type=submit]');
  await page.waitForSelector('.shell');
  page.on('close', () => assert.deepEqual(errors, [], 'no script errors'));
  return page;
}

export async function openDashboard({ base }: BrowserFixture, page: Page, id: string): Promise<void> {
  await page.goto(`${base}/bi/#/d/${id}`);
  await page.waitForSelector(`#dashboard[data-dashboard="${id}"][data-loaded="true"]`);
  await page.waitForTimeout(300); // charts draw on the next frame
}

export async function reload(page: Page, apply: () => Promise<void>): Promise<void> {
  await page.evaluate(() => document.getElementById('dashboard')?.removeAttribute('data-loaded'));
  await apply();
  await page.waitForSelector('#dashboard[data-loaded="true"]');
  await page.waitForTimeout(300);
}

export const kpiValue = async (page: Page, id: string) => Number(await page.getAttribute(`#kpi-${id}`, 'data-value'));
export const kpiText = async (page: Page, id: string) => (await page.textContent(`#kpi-${id} .v`))?.trim();
export const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

