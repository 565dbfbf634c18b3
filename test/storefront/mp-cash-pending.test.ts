// The shop live: a cash payment pending for days, and two buyers racing for the last unit.
// Headless Chromium against the whole platform and the processor simulator, started in-process;
// screenshots of each step go to test-artifacts/storefront/.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startShop, productNamed, orderShows, checkoutWith, addToCart } from './support.js';

const shop = await startShop();
const byName = (name: string) => productNamed(shop, name);
const DAY = 24 * 3_600_000;

test('Mercado Pago cash (Servipag): pending for days, then approved live when the voucher is paid two days later', async () => {
  const { page } = await shop.customer({ signedIn: 'Pedro' });
  const p = await byName('Detergente líquido');
  await addToCart(page, p.id);
  await checkoutWith(page, /efectivo o transferencia/);
  await page.getByLabel('Dónde pagarás').selectOption('servipag');
  await page.locator('#pay').click();
  const text = await orderShows(page, 'pending_payment', 'Esperando tu pago');
  assert.match(text, /puede tardar hasta 2 días hábiles/);
  await shop.shot(page, '05-mp-cash-1-pending');
  const ticket = (await page.getByRole('link', { name: 'Ver cupón de pago' }).getAttribute('href')) ?? '';
  const paymentId = /\/sim\/mp\/tickets\/(\d+)/.exec(ticket)?.[1];
  assert.ok(paymentId, ticket);

  shop.advanceClock(2 * DAY);
  await page.reload();
  await orderShows(page, 'pending_payment', 'Esperando tu pago');
  await shop.shot(page, '05-mp-cash-2-still-pending-two-days-later');

  // The customer pays at the counter; Mercado Pago notifies; the page turns without reload.
  await page.evaluate(() => Object.assign(window, { stayed: true }));
  const paid = await fetch(`${shop.simUrl}/sim/mp/payments/${paymentId}/pay`, { method: 'POST' });
  assert.equal(paid.status, 200, await paid.text());
  await orderShows(page, 'paid', '¡Pago aprobado!');
  assert.equal(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed), true);
  await shop.shot(page, '05-mp-cash-3-approved');
});
