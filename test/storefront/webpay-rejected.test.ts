// The shop with Webpay: a full purchase approved, and one declined.
// Headless Chromium against the whole platform and the processor simulator, started in-process;
// screenshots of each step go to test-artifacts/storefront/.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startShop, productNamed, orderShows, checkoutWith, addToCart, webpayForm, MASTER_REJECT } from './support.js';

const shop = await startShop();
const byName = (name: string) => productNamed(shop, name);

test('Webpay with the rejecting card (on a phone): the order page says the bank declined it, retry refills the cart', async () => {
  const { page } = await shop.customer({ phone: true, signedIn: 'Rosa' });
  const olla = await byName('Té negro');
  await addToCart(page, olla.id);
  await checkoutWith(page, /Webpay/);
  await shop.shot(page, '02-webpay-reject-1-checkout-phone');
  await page.locator('#pay').click();
  await page.waitForURL(/webpayserver/);
  await shop.shot(page, '02-webpay-reject-2-webpay-form');
  await webpayForm(page, { card: MASTER_REJECT });
  const text = await orderShows(page, 'payment_failed', 'Pago rechazado');
  assert.match(text, /Tu banco rechazó la tarjeta\. No se hizo ningún cargo/);
  await shop.shot(page, '02-webpay-reject-3-declined');
  await page.locator('#retry').click();
  await page.getByRole('heading', { name: 'Tu carro' }).waitFor();
  assert.equal(await page.locator('#cart-count').textContent(), '1');
});
