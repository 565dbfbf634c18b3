// Processor faults: time-outs, 5xx, resets, late and duplicated webhooks, a late approval
// after a rejection. Every order must end in the state its payment says; nobody is charged twice.
import assert from 'node:assert/strict';
import test from 'node:test';
import { randomUUID } from 'node:crypto';
import { createRng, generateCustomers, processorClient, runLive } from '../../src/simulate/index.js';
import { freshDatabase } from '../support/db.js';
import { fastForward, invariantViolations, SHORT, startStack } from './support.js';

const post = async (url: string, body: unknown) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, await res.text());
};

/**
 * A shopper whose Mercado Pago card is declined, through the public API (guest session,
 * address, cart, checkout): the order the processor later approves after all.
 */
async function declinedMpCardOrder(baseUrl: string, simUrl: string): Promise<string> {
  // A connection the server just closed fails the request before it is sent: try again (the
  // same Idempotency-Key, so a POST that did arrive is answered, not repeated).
  const fetchRetrying = async (url: string, init: RequestInit = {}): Promise<Response> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fetch(url, init);
      } catch (err) {
        if (attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  const call = async <T>(path: string, body: unknown, token?: string): Promise<T> => {
    const res = await fetchRetrying(`${baseUrl}${path}`, {
      method: 'POST',
      headers: {
        'idempotency-key': randomUUID(),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    assert.ok(res.status < 300, `POST ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  };
  const [customer] = generateCustomers(createRng('late-approval'), 1, `late-${randomUUID().slice(0, 8)}`);
  assert.ok(customer);
  const products = (await (await fetchRetrying(`${baseUrl}/catalog/products?limit=50`)).json()) as { skus: { sku: string; available?: number }[] }[];
  const sku = products.flatMap((p) => p.skus).find((s) => (s.available ?? 0) > 0)?.sku;
  assert.ok(sku, 'a SKU in stock');
  const { token } = await call<{ token: string }>('/customers/guest', { email: customer.email, name: customer.name });
  const address = await call<{ id: string }>('/customers/me/addresses', customer.address, token);
  const cart = await call<{ id: string }>('/carts', undefined, token);
  await call(`/carts/${cart.id}/lines`, { sku, quantity: 1 }, token);
  const cardToken = await processorClient(simUrl).mpCardToken('OTHE');
  const out = await call<{ orderId: string; payment: { status: string } }>(`/carts/${cart.id}/checkout`,
    { addressId: address.id, payment: { method: 'mercadopago_card', cardToken, paymentMethodId: 'master' } }, token);
  assert.equal(out.payment.status, 'rejected');
  return out.orderId;
}

test('time-outs, 5xx, resets and webhook chaos leave every order in its payment\'s state', async () => {
  const { db, url } = await freshDatabase();
  const stack = await startStack(url, { PROCESSOR_TIMEOUT_MS: '800' });
  const sim = stack.simUrl;
  const n = SHORT ? 3 : 10;
  await post(`${sim}/sim/faults`, { kind: 'timeout', count: n, ms: 1500, path_prefix: '/v1/payments' });
  await post(`${sim}/sim/faults`, { kind: 'error500', count: n, path_prefix: '/rswebpaytransaction' });
  await post(`${sim}/sim/faults`, { kind: 'reset', count: n, path_prefix: '/v1/payments' });
  await post(`${sim}/sim/faults`, { kind: 'reset', count: n, path_prefix: '/rswebpaytransaction' });
  await post(`${sim}/sim/webhooks/faults`, { duplicate: 3 * n, reorder: n, delay_ms: 2000, delay_count: n });
  const acknowledged: { orderId: string; method: string }[] = [];
  const result = await runLive({
    baseUrl: stack.url, simUrl: sim, seed: 'faults', rate: SHORT ? 5 : 10, durationMs: SHORT ? 15_000 : 60_000, flat: true,
    browsePerOrder: 0, customerCount: 30, onOrder: (o) => acknowledged.push(o),
  });
  assert.ok(acknowledged.length >= 10, JSON.stringify(result));
  const fiveHundreds = Object.entries(result.statuses).filter(([s]) => Number(s) >= 500 && s !== '503');
  assert.deepEqual(fiveHundreds, [], `processor faults never surface as 5xx: ${JSON.stringify(result.statuses)}`);

  // A late approval after a rejection: the processor changes its mind on a declined card
  // payment (one placed now, so the scenario never depends on the traffic's random declines;
  // the processor faults are over, the webhook chaos is not).
  await fetch(`${sim}/sim/faults`, { method: 'DELETE' });
  const declined = await declinedMpCardOrder(stack.url, sim);
  acknowledged.push({ orderId: declined, method: 'mercadopago_card' });
  const { rows: rejected } = await db.query<{ ref: string; order_id: string }>(
    `SELECT e.processor_ref AS ref, e.order_id FROM payment_attempt_events e
      WHERE e.order_id = $1 AND e.status = 'rejected' AND e.processor_ref IS NOT NULL LIMIT 1`, [declined]);
  assert.ok(rejected[0], 'the declined payment is recorded with its Mercado Pago id');
  await post(`${sim}/sim/mp/payments/${rejected[0].ref}/status`, { status: 'approved', status_detail: 'accredited' });
  await new Promise((r) => setTimeout(r, 3000));
  await post(`${sim}/sim/webhooks/release`, {});
  await stack.stop();
  await fastForward(db, url, stack);

  assert.deepEqual(await invariantViolations(db, acknowledged.map((o) => o.orderId)), []);
  // Every order's state agrees with its payments: approved ⇒ paid (or refunded when no stock
  // was left); only rejections/expiry ⇒ failed/expired; undecided only for cash vouchers.
  const { rows } = await db.query<{ id: string; status: string; outcomes: string[] | null; method: string }>(
    `SELECT o.id::text, o.status, o.payment_method AS method,
            array_agg(DISTINCT e.status) FILTER (WHERE e.status IN ('approved', 'rejected', 'expired', 'review')) AS outcomes
       FROM orders o LEFT JOIN payment_attempt_events e ON e.order_id = o.id::text GROUP BY 1, 2, 3`);
  const wrong = rows.filter((o) => {
    const out = o.outcomes ?? [];
    if (out.includes('approved')) return !['paid', 'fulfilled', 'refunding', 'partially_refunded', 'refunded'].includes(o.status);
    if (o.status === 'pending_payment') return !(o.method === 'mercadopago_cash' || out.includes('review'));
    return ['paid', 'fulfilled'].includes(o.status);
  });
  assert.deepEqual(wrong, [], 'orders whose state disagrees with their payments');
  // Charged after all: the order is paid (its stock taken again) or refunded automatically.
  const { rows: [late] } = await db.query<{ status: string }>('SELECT status FROM orders WHERE id::text = $1', [rejected[0].order_id]);
  assert.ok(late && ['paid', 'refunding', 'refunded'].includes(late.status), `late approval settled the order: ${late?.status}`);
  const { rows: lateEvents } = await db.query<{ status: string }>(
    `SELECT status FROM payment_attempt_events WHERE order_id = $1 AND status IN ('approved', 'rejected') ORDER BY id`, [rejected[0].order_id]);
  assert.deepEqual(lateEvents.map((e) => e.status), ['rejected', 'approved'], 'the late approval is recorded after the rejection');
});
