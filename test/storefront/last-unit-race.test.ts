// The shop live: a cash payment pending for days, and two buyers racing for the last unit.
// Headless Chromium against the whole platform and the processor simulator, started in-process;
// screenshots of each step go to test-artifacts/storefront/.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startShop, orderShows, checkoutWith, addToCart, webpayForm, VISA_OK } from './support.js';

const shop = await startShop();

test('two buyers race for the last unit: one buys it, the other sees it sell out live and the cart flags it', async () => {
  const id = await shop.product({ name: 'Cuadro de Valparaíso', sku: 'CUADRO-UNICO', price: 45_990, units: 1 });
  const a = await shop.customer({ signedIn: 'Ana' });
  const b = await shop.customer({ phone: true });
  await addToCart(b.page, id);
  await b.page.goto(`/#/p/${id}`);
  await b.page.getByText('¡Queda 1 unidad!').waitFor();
  await b.page.evaluate(() => Object.assign(window, { stayed: true }));
  await shop.shot(b.page, '06-race-1-b-sees-last-unit');

  await addToCart(a.page, id);
  await checkoutWith(a.page, /Webpay/);
  await a.page.locator('#pay').click();
  await a.page.waitForURL(/webpayserver/);

  // A's checkout reserved the unit: B's buy button turns off and the page says why.
  await b.page.locator('#buy:disabled').waitFor();
  assert.match((await b.page.locator('#stock-status').textContent()) ?? '', /Se acaba de agotar: otra persona compró la última unidad/);
  assert.equal(await b.page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed), true, 'no reload');
  await shop.shot(b.page, '06-race-2-b-sold-out-live');

  await webpayForm(a.page, { card: VISA_OK });
  await orderShows(a.page, 'paid', '¡Pago aprobado!');
  await shop.shot(a.page, '06-race-3-a-approved');

  await b.page.goto('/#/cart');
  await b.page.locator('.line.bad .problem').waitFor();
  assert.match((await b.page.locator('.line.bad .problem').textContent()) ?? '', /Agotado/);
  assert.equal(await b.page.locator('#to-checkout').isDisabled(), true);
  await shop.shot(b.page, '06-race-4-b-cart-flags-line');
});
