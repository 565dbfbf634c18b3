// The shop: an aborted Webpay payment, and one-click with a card saved from the account page.
// Headless Chromium against the whole platform and the processor simulator, started in-process;
// screenshots of each step go to test-artifacts/storefront/.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startShop, productNamed, orderShows, checkoutWith, addToCart, webpayForm } from './support.js';

const shop = await startShop();
const byName = (name: string) => productNamed(shop, name);

test('an aborted Webpay payment: back at the shop, "payment cancelled", nothing charged', async () => {
  const { page } = await shop.customer({ signedIn: 'Tomas' });
  const p = await byName('Harina sin polvos');
  await addToCart(page, p.id, 3);
  await checkoutWith(page, /Webpay/);
  await page.locator('#pay').click();
  await webpayForm(page, 'abort');
  const text = await orderShows(page, 'payment_failed', 'Pago anulado');
  assert.match(text, /Anulaste el pago/);
  await shop.shot(page, '03-webpay-aborted');
  // The account lists it.
  await page.goto('/#/account/orders');
  await page.getByText('Pago rechazado').waitFor();
});
