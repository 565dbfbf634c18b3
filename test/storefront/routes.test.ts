// The storefront's server side as wired by the platform: the shop at `/` and the saved-card
// routes its account pages use (the browser tests enrol, use and delete a real card).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { startPlatform } from '../../src/main/platform.js';
import { startProcessorSim } from '../../src/processor-sim/index.js';
import { freshDatabase } from '../support/db.js';
import { testConfig } from '../support/platform.js';

const { url } = await freshDatabase();
const config = testConfig(url, { kek: randomBytes(32).toString('base64') });
const platform = await startPlatform(config, { role: 'all', listen: false });
after(() => platform.stop());
const app = platform.app;

async function customer() {
  const res = await app.inject({ method: 'POST', url: '/customers', payload: { email: `r${randomBytes(4).toString('hex')}@example.cl`, password: 'una clave bien larga' } });
  assert.equal(res.statusCode, 201, res.body);
  return { authorization: `Bearer ${res.json<{ token: string }>().token}` };
}

test('the platform serves the shop at / (role storefront) and keeps the API paths', async () => {
  const shop = platform.contexts.find((c) => c.name === 'storefront');
  assert.deepEqual(shop?.roles, ['storefront']);
  const index = await app.inject({ method: 'GET', url: '/' });
  assert.equal(index.statusCode, 200);
  assert.match(index.body, /Embudo<b>Market<\/b>/);
  assert.equal((await app.inject({ method: 'GET', url: '/catalog/categories' })).statusCode, 200);
  assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  const spec = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
  assert.ok(spec.paths['/customers/me/cards']);
  assert.equal(spec.paths['/'], undefined, 'pages are not API operations');
});

test('saved cards: only for a signed-in customer; list, delete of an unknown card, bad ids', async () => {
  const noAuth = await app.inject({ method: 'GET', url: '/customers/me/cards' });
  assert.equal(noAuth.statusCode, 401);
  assert.equal(noAuth.json<{ code: string }>().code, 'unauthenticated');
  const headers = await customer();
  const list = await app.inject({ method: 'GET', url: '/customers/me/cards', headers });
  assert.equal(list.statusCode, 200);
  assert.deepEqual(list.json(), { cards: [] });
  const gone = await app.inject({ method: 'DELETE', url: '/customers/me/cards/6f1c2a9e-0000-4000-8000-000000000000', headers });
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.json<{ code: string }>().code, 'saved_card_not_found');
  assert.equal((await app.inject({ method: 'DELETE', url: '/customers/me/cards/not-a-uuid', headers })).statusCode, 400);
  const badReturn = await app.inject({ method: 'POST', url: '/customers/me/cards/inscriptions', headers, payload: { returnUrl: 'javascript:alert(1)' } });
  assert.equal(badReturn.statusCode, 400);
  const extra = await app.inject({ method: 'POST', url: '/customers/me/cards/inscriptions', headers, payload: { cardNumber: '4051885600446623' } });
  assert.equal(extra.statusCode, 400, 'no card data is accepted here');
});

test('the shop settings name the processor that tokenizes cards, never a secret', async () => {
  const res = await app.inject({ method: 'GET', url: '/storefront/settings' });
  assert.equal(res.statusCode, 200);
  const body = res.json<{ mercadoPago: { baseUrl: string; publicKey: string } }>();
  assert.match(body.mercadoPago.baseUrl, /^https?:\/\//);
  assert.ok(body.mercadoPago.publicKey.length > 8);
  assert.ok(!res.body.includes(config.payments.mpAccessToken), 'no access token');
  assert.ok(!res.body.includes(config.payments.mpWebhookSecret), 'no webhook secret');
});

test("the simulator's Mercado Pago card tokens answer browsers from any shop origin (CORS), as MP.js needs", async () => {
  const sim = await startProcessorSim({ port: 0, mpAccessToken: 'TEST-routes-token', mpWebhookSecret: 'routes-secret-123', tickMs: 0 });
  try {
    const preflight = await sim.app.inject({
      method: 'OPTIONS', url: '/v1/card_tokens?public_key=TEST-pk',
      headers: { origin: 'http://shop.test', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    assert.equal(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], '*');
    assert.match(String(preflight.headers['access-control-allow-headers']), /content-type/);
    const token = await sim.app.inject({
      method: 'POST', url: '/v1/card_tokens?public_key=TEST-pk', headers: { origin: 'http://shop.test' },
      payload: { card_number: '4051885600446623', expiration_month: 12, expiration_year: 2030, security_code: '123', cardholder: { name: 'APRO' } },
    });
    assert.equal(token.statusCode, 201, token.body);
    assert.equal(token.headers['access-control-allow-origin'], '*');
    assert.match(token.json<{ id: string }>().id, /^[0-9a-f]{32}$/);
    // Payments themselves still need the secret access token: no CORS there.
    const pay = await sim.app.inject({ method: 'POST', url: '/v1/payments', payload: {} });
    assert.equal(pay.statusCode, 401);
    assert.equal(pay.headers['access-control-allow-origin'], undefined);
  } finally {
    await sim.close();
  }
});
