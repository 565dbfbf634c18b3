// The shop: an aborted Webpay payment, and one-click with a card saved from the account page.
// Headless Chromium against the whole platform and the processor simulator, started in-process;
// screenshots of each step go to test-artifacts/storefront/.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startShop, productNamed, orderShows, checkoutWith, addToCart, signUp, VISA_OK } from './support.js';

const shop = await startShop();
const byName = (name: string) => productNamed(shop, name);

test('one-click: save a card at Transbank from the account page, buy with it in one click, then delete it', async () => {
  const { page } = await shop.customer();
  page.on('dialog', (d) => void d.accept());
  await signUp(page, 'Carla');
  await page.goto('/#/account/cards');
  await page.getByText('No tienes tarjetas guardadas.').waitFor();
  await page.locator('#add-card').click();
  await page.waitForURL(/webpayserver/);
  await shop.shot(page, '04-oneclick-1-inscription-form');
  await page.getByLabel('Número de tarjeta').fill(VISA_OK.replace(/\s/g, ''));
  await page.getByLabel(/Vencimiento/).fill('12/30');
  await page.getByLabel('CVV').fill('123');
  await page.locator('#submit').click();
  await page.getByText('Tarjeta guardada').waitFor();
  assert.match((await page.locator('#card-list').textContent()) ?? '', /terminada en 6623/);
  await shop.shot(page, '04-oneclick-2-card-saved');

  const p = await byName('Manjar');
  await addToCart(page, p.id, 2);
  await checkoutWith(page, /terminada en 6623/);
  // A registered customer's new address is saved for next time.
  await shop.shot(page, '04-oneclick-3-checkout');
  await page.locator('#pay').click();
  await orderShows(page, 'paid', '¡Pago aprobado!');
  await shop.shot(page, '04-oneclick-4-approved');

  // Next purchase: the saved address is offered.
  await addToCart(page, p.id, 1);
  await page.goto('/#/checkout');
  await page.getByRole('radio', { name: /Av\. Providencia 1234/ }).waitFor();

  await page.goto('/#/account/cards');
  await page.getByRole('button', { name: 'Borrar la tarjeta terminada en 6623' }).click();
  await page.getByText('No tienes tarjetas guardadas.').waitFor();
  await shop.shot(page, '04-oneclick-5-card-deleted');
});
