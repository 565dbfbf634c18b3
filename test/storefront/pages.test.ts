// The shop's pages without a database: served at `/` without shadowing any API path, first
// page under 100 KB of script (measured by the browser: every script it fetched), and a
// readable message instead of a blank page when the API is down.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
import { createHttpApp } from '../../src/platform/http.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { createStorefront, SHOP_DIR } from '../../src/storefront/index.js';
import { ARTIFACTS } from './support.js';

const shop = createStorefront({
  cards: {
    startInscription: async () => ({ token: 't', url: 'http://processor.test/inscription', method: 'POST', field: 'TBK_TOKEN' }),
    list: async () => [],
    delete: async () => undefined,
  },
  requireCustomer: async () => {
    throw Object.assign(new Error('unauthenticated'), { statusCode: 401 });
  },
  settings: () => ({}),
});
const app = await createHttpApp({
  logger: createLogger('silent'),
  metrics: createMetrics(),
  readiness: {},
  modules: [...shop.routes, (a) => {
    a.get('/catalog/categories', async () => ({ outage: true }));
  }],
});
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
const url = `http://127.0.0.1:${address && typeof address === 'object' ? address.port : 0}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
after(async () => {
  await browser.close();
  await app.close();
});

test('the first page loads less than 100 KB of script (every module the browser fetched)', async () => {
  const page = await browser.newPage();
  const scripts = new Map<string, Promise<number>>();
  page.on('response', (res) => {
    if (res.request().resourceType() === 'script') scripts.set(res.url(), res.body().then((b) => b.length));
  });
  await page.goto(url, { waitUntil: 'networkidle' });
  // The app ran (every module, static and dynamic, loaded): it rendered a page heading.
  await page.locator('#main h1').waitFor();
  const total = (await Promise.all(scripts.values())).reduce((a, b) => a + b, 0);
  assert.ok(scripts.size >= 3, [...scripts.keys()].join(', '));
  assert.ok(total < 100 * 1024, `script weight ${total} bytes`);
  process.stdout.write(`# first page script: ${total} bytes in ${scripts.size} modules\n`);
  await page.close();
});

test('an API outage shows a message, never a blank page', async () => {
  const page = await browser.newPage();
  await page.goto(`${url}/#/p/6f1c2a9e-0000-4000-8000-000000000000`);
  await page.getByRole('heading', { name: 'No pudimos mostrar esta página' }).waitFor();
  assert.ok(await page.getByRole('button', { name: 'Reintentar' }).isVisible());
  await page.screenshot({ path: path.join(ARTIFACTS, '00-error-page.png') });
  await page.close();
});

test('pages are served at / with ETags; unknown files and traversal are 404 JSON, API paths are not shadowed', async () => {
  const index = await app.inject({ method: 'GET', url: '/' });
  assert.equal(index.statusCode, 200);
  assert.match(index.headers['content-type'] as string, /text\/html/);
  assert.match(index.body, /<script type="module" src="app.js">/);
  const again = await app.inject({ method: 'GET', url: '/', headers: { 'if-none-match': index.headers.etag as string } });
  assert.equal(again.statusCode, 304);
  assert.equal((await app.inject({ method: 'GET', url: '/app.js' })).headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal((await app.inject({ method: 'GET', url: '/nope.js' })).statusCode, 404);
  assert.equal((await app.inject({ method: 'GET', url: '/..%2f..%2fpackage.json' })).statusCode, 404);
  assert.equal((await app.inject({ method: 'GET', url: '/%E0%A4%A' })).statusCode, 400, 'a malformed escape is a 4xx, never a 5xx');
  // An API route registered beside the shop still answers itself.
  assert.deepEqual((await app.inject({ method: 'GET', url: '/catalog/categories' })).json(), { outage: true });
  assert.equal(SHOP_DIR.endsWith(path.join('web', 'shop')), true);
});
