// The whole platform started in-process (every context, the processor simulator, workers) on
// free ports, with the demo catalogue, and headless Chromium to drive the shop like a customer.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startPlatform, type RunningPlatform } from '../../src/main/platform.js';
import { freePort } from '../../src/platform/embedded-postgres.js';
import { freshDatabase } from '../support/db.js';
import { testConfig } from '../support/platform.js';

/** Staff token of the test platform: the test stocks products through the admin API. */
const STAFF_TOKEN = `staff-${randomBytes(12).toString('hex')}`;
const STAFF = { 'x-admin-token': STAFF_TOKEN };

export const VISA_OK = '4051 8856 0044 6623';
export const MASTER_REJECT = '5186 0595 5959 0568';
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts/storefront');

export interface Shop {
  platform: RunningPlatform;
  /**
   * Moves the clock the platform and the simulator share (days pass for both, as in real
   * life: the processor signs webhooks with its time and the platform checks it against its own).
   */
  advanceClock(ms: number): void;
  url: string;
  simUrl: string;
  browser: Browser;
  /** A new customer's browser (its own storage), phone-sized or desktop. */
  customer(options?: { phone?: boolean; signedIn?: string }): Promise<{ context: BrowserContext; page: Page }>;
  /** Saves `test-artifacts/storefront/<name>.png` (the whole page). */
  shot(page: Page, name: string): Promise<void>;
  /** Creates a product with one SKU and `units` in stock; returns its id. */
  product(input: { name: string; sku: string; price: number; units: number }): Promise<string>;
}

/** Starts the platform (with the simulator) and a browser; both stop when the file's tests end. */
const t0 = Date.now();
/** Progress on stderr (the runner shows it), to see where time goes on a loaded machine. */
export const lap = (what: string) => process.stderr.write(`# ${((Date.now() - t0) / 1000).toFixed(1)}s ${what}\n`);

export async function startShop(): Promise<Shop> {
  // Registered before freshDatabase's own hook, so it runs first: the platform stops before
  // its database is dropped (the other order leaves workers reconnecting to nothing).
  const running: { platform?: RunningPlatform; browser?: Browser } = {};
  after(async () => {
    lap('tests done');
    await running.browser?.close();
    lap('browser closed');
    await running.platform?.stop();
    lap('platform stopped');
  });
  const { url: databaseUrl } = await freshDatabase({ poolSize: 20 });
  const [port, simPort] = [await freePort(), await freePort()];
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'embudo-shop-'));
  const base = testConfig(databaseUrl, { startSimulator: true, simPort, port, seed: true, dataDir, kek: randomBytes(32).toString('base64'), adminToken: STAFF_TOKEN });
  const config = { ...base, payments: { ...base.payments, processorTimeoutMs: 5000 } };
  let offsetMs = 0;
  const clock = { now: () => new Date(Date.now() + offsetMs) };
  const [platform, browser] = await Promise.all([
    startPlatform(config, { role: 'all', clock }),
    chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    }),
  ]);
  running.platform = platform;
  running.browser = browser;
  lap('platform and browser started');
  mkdirSync(ARTIFACTS, { recursive: true });
  const url = `http://127.0.0.1:${port}`;
  const simUrl = platform.simulator?.url ?? '';

  return {
    platform,
    advanceClock: (ms) => {
      offsetMs += ms;
    },
    url,
    simUrl,
    browser,
    async customer(options = {}) {
      const context = await browser.newContext({
        baseURL: url,
        locale: 'es-CL',
        viewport: options.phone ? { width: 390, height: 844 } : { width: 1280, height: 860 },
        ...(options.phone ? { isMobile: true, hasTouch: true, deviceScaleFactor: 1 } : {}),
      });
      if (options.signedIn) {
        // A registered customer whose session is already in the browser (signing up through
        // the pages is covered once, in oneclick.test.ts).
        const email = `${options.signedIn.toLowerCase()}.${randomBytes(3).toString('hex')}@example.cl`;
        const res = await fetch(`${url}/customers`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'una clave bien larga', name: options.signedIn }),
        });
        if (res.status !== 201) throw new Error(`sign-up: ${res.status} ${await res.text()}`);
        await context.addInitScript((s) => {
          if (!localStorage.getItem('embudo.session')) localStorage.setItem('embudo.session', s);
        }, await res.text());
      }
      const page = await context.newPage();
      page.setDefaultTimeout(30_000);
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(err.message));
      after(() => {
        if (problems.length > 0) throw new Error(`page errors: ${problems.join('; ')}`);
      });
      return { context, page };
    },
    async shot(page, name) {
      lap(name);
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
    },
    async product(input) {
      const post = async (p: string, body: unknown) => {
        const res = await fetch(`${url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...STAFF }, body: JSON.stringify(body) });
        if (!res.ok) throw new Error(`${p}: ${res.status} ${await res.text()}`);
        return res.json() as Promise<{ id: string }>;
      };
      const created = await post('/admin/catalog/products', {
        name: input.name, category: 'hogar', description: 'Edición limitada.', skus: [{ sku: input.sku, name: input.name, price: input.price }],
      });
      const [location] = (await (await fetch(`${url}/admin/inventory/locations`, { headers: STAFF })).json()) as { id: string }[];
      if (!location) throw new Error('no inventory location');
      await post('/admin/inventory/receipts', { sku: input.sku, locationId: location.id, quantity: input.units });
      return created.id;
    },
  };
}

/** Registers a customer through the shop's own sign-up form. */
export async function signUp(page: Page, name: string): Promise<string> {
  const email = `${name.normalize('NFD').replace(/[^a-zA-Z]/g, '').toLowerCase()}.${randomBytes(3).toString('hex')}@example.cl`;
  await page.goto('/#/login');
  await page.locator('#signup-name').fill(name);
  await page.locator('#signup-email').fill(email);
  await page.locator('#signup-password').fill('una clave bien larga');
  await page.getByRole('button', { name: 'Crear cuenta' }).click();
  await page.getByRole('heading', { name: 'Mi cuenta' }).waitFor();
  return email;
}

/** Fills the delivery address with the región and comuna pickers. */
export async function fillAddress(page: Page): Promise<void> {
  await page.getByLabel('Nombre de quien recibe').fill('Ana Pérez');
  await page.getByLabel('Calle', { exact: true }).fill('Av. Providencia');
  await page.getByLabel('Número', { exact: true }).fill('1234');
  await page.getByLabel('Región').selectOption({ label: 'Metropolitana de Santiago' });
  await page.getByLabel('Comuna').selectOption('Providencia');
}

/** Opens a product from the catalogue by its name and adds `quantity` to the cart. */
export async function addToCart(page: Page, productId: string, quantity = 1): Promise<void> {
  await page.goto(`/#/p/${productId}`);
  await page.getByLabel('Cantidad').fill(String(quantity));
  await page.locator('#buy').click();
  await page.getByText('Agregado').first().waitFor();
}

/** On the Webpay simulator's form: pay with a card, or abort. */
export async function webpayForm(page: Page, action: { card: string } | 'abort'): Promise<void> {
  await page.waitForURL(/webpayserver/);
  if (action === 'abort') {
    await page.getByRole('button', { name: /Anular compra/ }).click();
    return;
  }
  await page.getByLabel('Número de tarjeta').fill(action.card.replace(/\s/g, ''));
  await page.getByLabel(/Vencimiento/).fill('12/30');
  await page.getByLabel('CVV').fill('123');
  await page.getByRole('button', { name: 'Pagar' }).click();
}

/** Waits for the order page to show a status; returns the status panel's text. */
export async function orderShows(page: Page, state: string, heading: string | RegExp): Promise<string> {
  await page.locator(`#order-status .status-panel[data-status="${state}"]`).waitFor({ timeout: 45_000 });
  await page.getByRole('heading', { level: 2, name: heading }).waitFor();
  return (await page.locator('#order-status .status-panel').textContent()) ?? '';
}

/** From the cart to the checkout page, with a new address if none is saved, choosing a method. */
export async function checkoutWith(page: Page, method: RegExp): Promise<void> {
  await page.goto('/#/cart');
  await page.locator('#to-checkout').click();
  await page.getByRole('heading', { name: '1. Despacho' }).waitFor();
  if (await page.getByLabel('Nombre de quien recibe').isVisible()) await fillAddress(page);
  await page.getByRole('radio', { name: method }).check();
}

/** A demo product by name (id and SKUs). */
export async function productNamed(shop: Shop, name: string): Promise<{ id: string; skus: { sku: string; available: number }[] }> {
  const list = (await (await fetch(`${shop.url}/catalog/products?limit=200`)).json()) as { id: string; name: string; skus: { sku: string; available: number }[] }[];
  const p = list.find((x) => x.name === name);
  if (!p) throw new Error(`no product ${name}`);
  return p;
}
