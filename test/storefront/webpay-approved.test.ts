// The shop with Webpay: a full purchase approved, and one declined.
// Headless Chromium against the whole platform and the processor simulator, started in-process;
// screenshots of each step go to test-artifacts/storefront/.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startShop, orderShows, webpayForm, fillAddress, VISA_OK } from './support.js';

const shop = await startShop();

test('Webpay with the approving card: catalogue → product → cart → checkout as guest → Webpay → "approved"', async () => {
  const { page } = await shop.customer();
  await page.goto('/');
  await page.locator('.card').first().waitFor();
  await shop.shot(page, '01-webpay-ok-1-catalogue');

  // Categories and search.
  await page.getByRole('navigation', { name: 'Categorías' }).getByRole('link', { name: 'Bebidas' }).click();
  await page.getByRole('heading', { level: 1, name: 'Bebidas' }).waitFor();
  assert.ok(await page.getByRole('link', { name: 'Vino tinto Carmenere' }).isVisible());
  await page.getByLabel('Buscar productos').fill('cafe');
  await page.getByLabel('Buscar productos').press('Enter');
  await page.getByRole('heading', { level: 1, name: /Resultados para/ }).waitFor();
  assert.equal(await page.locator('.card').count(), 1);
  await shop.shot(page, '01-webpay-ok-2-search');
  await page.getByRole('link', { name: 'Café de grano' }).click();
  await page.locator('#buy').waitFor();
  assert.match((await page.locator('#stock-status').textContent()) ?? '', /Disponible/);
  await page.getByLabel('Cantidad').fill('2');
  await page.locator('#buy').click();
  await page.getByText('Agregado').first().waitFor();
  assert.equal(await page.locator('#cart-count').textContent(), '2');
  await shop.shot(page, '01-webpay-ok-3-product');

  await page.goto('/#/cart');
  await page.getByRole('heading', { name: 'Tu carro' }).waitFor();
  await shop.shot(page, '01-webpay-ok-4-cart');
  await page.locator('#to-checkout').click();
  await page.getByRole('heading', { name: 'Comprar como invitado' }).waitFor();
  await shop.shot(page, '01-webpay-ok-5-account-choice');
  await page.locator('#guest-email').fill('invitada@example.cl');
  await page.getByRole('button', { name: 'Continuar como invitado' }).click();
  await page.getByRole('heading', { name: '1. Despacho' }).waitFor();
  // The comuna picker follows the región.
  assert.equal(await page.getByLabel('Comuna').isDisabled(), true);
  await fillAddress(page);
  await page.getByRole('radio', { name: /Webpay/ }).check();
  await shop.shot(page, '01-webpay-ok-6-checkout');
  await page.locator('#pay').click();

  await webpayForm(page, { card: VISA_OK }).catch(async (err: unknown) => {
    await shop.shot(page, '01-webpay-ok-failed');
    throw err;
  });
  const text = await orderShows(page, 'paid', '¡Pago aprobado!');
  assert.match(text, /Recibimos tu pago de \$\d{1,3}(\.\d{3})*/);
  assert.equal(await page.locator('#cart-count').textContent(), '0');
  await shop.shot(page, '01-webpay-ok-8-approved');
});
