import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { signWebhook } from '../../src/processor-sim/domain/mercadopago.js';
import { freshDatabase } from '../support/db.js';
import { startReceiver, verifyMpSignature } from './mp-receiver.js';
import { MP_SECRET, MP_TOKEN, startSim } from './support.js';

const { db } = await freshDatabase();
const { sim, clock } = await startSim(db);
const receiver = await startReceiver(MP_SECRET);
after(async () => {
  await sim.close();
  await receiver.close();
});

type Json = Record<string, unknown>;

async function mp(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${MP_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function cardToken(holder: string): Promise<string> {
  const res = await fetch(`${sim.url}/v1/card_tokens?public_key=TEST-public`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      card_number: '5416752602582580',
      expiration_month: 11,
      expiration_year: 2030,
      security_code: '123',
      cardholder: { name: holder, identification: { type: 'RUT', number: '111111111' } },
    }),
  });
  assert.equal(res.status, 201);
  const body = (await res.json()) as Json;
  assert.equal(body.last_four_digits, '2580');
  assert.equal(body.first_six_digits, '541675');
  return String(body.id);
}

const cardPayment = (token: string, extra: Json = {}) => ({
  transaction_amount: 12990,
  token,
  installments: 1,
  payment_method_id: 'master',
  payer: { email: 'buyer@example.cl' },
  notification_url: receiver.url,
  external_reference: 'order-mp-1',
  ...extra,
});

test('signature vectors: the simulator signs exactly as the documented manifest (checked with openssl)', () => {
  assert.equal(
    signWebhook('your_secret_key_here', '123456', 'bb56a2f1-6aae-46ac-982e-9dcd3581d08e', '1742505638683'),
    'ts=1742505638683,v1=5e0a7ed2ea5ece575e9d1a9bb80f7ce6ca43d6d30e8be93413bae108b94ad7cd',
  );
  // An alphanumeric data.id is lower-cased in the manifest.
  assert.equal(signWebhook('s3cr3t', 'ABC123DEF', 'r-1', '1700000000000'), 'ts=1700000000000,v1=8b791f80cace081547f08d59b29fcb8ca5a48023be839eb96072e1c06193201d');
  assert.ok(verifyMpSignature('s3cr3t', 'ts=1700000000000,v1=8b791f80cace081547f08d59b29fcb8ca5a48023be839eb96072e1c06193201d', 'r-1', 'abc123def'));
  assert.ok(!verifyMpSignature('other', 'ts=1700000000000,v1=8b791f80cace081547f08d59b29fcb8ca5a48023be839eb96072e1c06193201d', 'r-1', 'abc123def'));
});

test('APRO card: approved at once, signed payment.created webhook verifies', async () => {
  const created = await mp('POST', '/v1/payments', cardPayment(await cardToken('APRO')), { 'x-idempotency-key': 'k-apro' });
  assert.equal(created.status, 201);
  assert.equal(created.body.status, 'approved');
  assert.equal(created.body.status_detail, 'accredited');
  assert.equal(created.body.currency_id, 'CLP');
  assert.equal(created.body.transaction_amount, 12990);
  assert.equal(created.body.payment_type_id, 'credit_card');
  assert.equal((created.body.card as Json).last_four_digits, '2580');

  const got = await mp('GET', `/v1/payments/${String(created.body.id)}`);
  assert.equal(got.body.status, 'approved');

  await sim.tick();
  const hook = receiver.received.at(-1);
  assert.ok(hook);
  assert.equal(hook.signatureValid, true);
  assert.equal(hook.query['data.id'], String(created.body.id));
  assert.equal(hook.query.type, 'payment');
  assert.equal(hook.body.action, 'payment.created');
  assert.equal(hook.body.type, 'payment');
  assert.equal(hook.body.data.id, String(created.body.id));
  assert.equal(hook.body.api_version, 'v1');
  assert.equal(hook.body.live_mode, false);
  assert.match(String(hook.headers['x-signature']), /^ts=\d+,v1=[0-9a-f]{64}$/);
});

test('X-Idempotency-Key: same key and body replays the first answer; another body is refused', async () => {
  const token = await cardToken('APRO');
  const body = cardPayment(token, { external_reference: 'idem' });
  const [a, b] = await Promise.all([
    mp('POST', '/v1/payments', body, { 'x-idempotency-key': 'k-idem' }),
    mp('POST', '/v1/payments', body, { 'x-idempotency-key': 'k-idem' }),
  ]);
  const statuses = [a.status, b.status].sort();
  // Either both see the stored answer, or the second arrives mid-flight and is told so.
  assert.ok(statuses[0] === 201 && (statuses[1] === 201 || statuses[1] === 409));
  const again = await mp('POST', '/v1/payments', body, { 'x-idempotency-key': 'k-idem' });
  assert.equal(again.status, 201);
  assert.equal(again.body.id, (a.status === 201 ? a : b).body.id);
  const other = await mp('POST', '/v1/payments', { ...body, transaction_amount: 1 }, { 'x-idempotency-key': 'k-idem' });
  assert.equal(other.status, 409);
  // The card token was used once: a fresh key with the same token is refused.
  const reuse = await mp('POST', '/v1/payments', body, { 'x-idempotency-key': 'k-other' });
  assert.equal(reuse.status, 400);
});

test('rejections and in_process settlement with payment.updated', async () => {
  const rejected = await mp('POST', '/v1/payments', cardPayment(await cardToken('FUND')));
  assert.equal(rejected.body.status, 'rejected');
  assert.equal(rejected.body.status_detail, 'cc_rejected_insufficient_amount');

  const cont = await mp('POST', '/v1/payments', cardPayment(await cardToken('CONT')));
  assert.equal(cont.body.status, 'in_process');
  assert.equal(cont.body.status_detail, 'pending_contingency');
  clock.advance(11_000);
  await sim.tick();
  const settled = await mp('GET', `/v1/payments/${String(cont.body.id)}`);
  assert.equal(settled.body.status, 'approved');
  const updates = receiver.received.filter((r) => r.body.data.id === String(cont.body.id)).map((r) => r.body.action);
  assert.deepEqual(updates, ['payment.created', 'payment.updated']);
});

test('cash payment stays pending for days, then is paid (control API) or expires at date_of_expiration', async () => {
  const cash = { transaction_amount: 20000, payment_method_id: 'servipag', payer: { email: 'c@example.cl' }, notification_url: receiver.url };
  const a = await mp('POST', '/v1/payments', cash);
  assert.equal(a.body.status, 'pending');
  assert.equal(a.body.status_detail, 'pending_waiting_payment');
  assert.equal(a.body.payment_type_id, 'ticket');
  assert.match(String((a.body.transaction_details as Json).external_resource_url), /\/sim\/mp\/tickets\//);
  clock.advance(2 * 24 * 3_600_000);
  await sim.tick();
  assert.equal((await mp('GET', `/v1/payments/${String(a.body.id)}`)).body.status, 'pending');
  const paid = await fetch(`${sim.url}/sim/mp/payments/${String(a.body.id)}/pay`, { method: 'POST' });
  assert.equal(paid.status, 200);
  assert.equal((await mp('GET', `/v1/payments/${String(a.body.id)}`)).body.status, 'approved');

  const b = await mp('POST', '/v1/payments', { ...cash, date_of_expiration: new Date(clock.now().getTime() + 3_600_000).toISOString() });
  clock.advance(3_600_001);
  await sim.tick();
  const expired = await mp('GET', `/v1/payments/${String(b.body.id)}`);
  assert.equal(expired.body.status, 'cancelled');
  assert.equal(expired.body.status_detail, 'expired');
  // Paying an expired ticket is refused.
  assert.equal((await fetch(`${sim.url}/sim/mp/payments/${String(b.body.id)}/pay`, { method: 'POST' })).status, 400);
});

test('refunds: partial then the rest → refunded; cancel only while pending', async () => {
  const p = await mp('POST', '/v1/payments', cardPayment(await cardToken('APRO'), { transaction_amount: 10000 }));
  const r1 = await mp('POST', `/v1/payments/${String(p.body.id)}/refunds`, { amount: 4000 }, { 'x-idempotency-key': 'r-1' });
  assert.equal(r1.status, 201);
  assert.equal(r1.body.amount, 4000);
  assert.equal(r1.body.status, 'approved');
  const replay = await mp('POST', `/v1/payments/${String(p.body.id)}/refunds`, { amount: 4000 }, { 'x-idempotency-key': 'r-1' });
  assert.equal(replay.body.id, r1.body.id);
  let got = await mp('GET', `/v1/payments/${String(p.body.id)}`);
  assert.equal(got.body.status, 'approved');
  assert.equal(got.body.status_detail, 'partially_refunded');
  assert.equal(got.body.transaction_amount_refunded, 4000);
  assert.equal((await mp('POST', `/v1/payments/${String(p.body.id)}/refunds`, { amount: 6001 })).status, 400);
  assert.equal((await mp('POST', `/v1/payments/${String(p.body.id)}/refunds`, {})).status, 201);
  got = await mp('GET', `/v1/payments/${String(p.body.id)}`);
  assert.equal(got.body.status, 'refunded');
  assert.equal(((await mp('GET', `/v1/payments/${String(p.body.id)}/refunds`)).body as unknown as Json[]).length, 2);

  assert.equal((await mp('PUT', `/v1/payments/${String(p.body.id)}`, { status: 'cancelled' })).status, 400);
  const pending = await mp('POST', '/v1/payments', { transaction_amount: 500, payment_method_id: 'khipu', payer: { email: 'x@example.cl' } });
  const cancelled = await mp('PUT', `/v1/payments/${String(pending.body.id)}`, { status: 'cancelled' });
  assert.equal(cancelled.status, 200);
  assert.equal(cancelled.body.status, 'cancelled');
  assert.equal(cancelled.body.status_detail, 'by_collector');
});

test('webhook retries until a 2xx, with backoff on the clock', async () => {
  await sim.tick(); // deliver what earlier tests left, so the planned answers hit this payment
  receiver.answerNext(500, 503);
  const p = await mp('POST', '/v1/payments', cardPayment(await cardToken('APRO')));
  const mine = () => receiver.received.filter((r) => r.body.data.id === String(p.body.id));
  await sim.tick();
  assert.equal(mine().length, 1);
  await sim.tick();
  assert.equal(mine().length, 1, 'no retry before the backoff elapses');
  clock.advance(15 * 60_000);
  await sim.tick();
  assert.equal(mine().length, 2);
  clock.advance(15 * 60_000);
  await sim.tick();
  assert.equal(mine().length, 3);
  clock.advance(24 * 3_600_000);
  await sim.tick();
  assert.equal(mine().length, 3, 'delivered: no more attempts');
  assert.ok(mine().every((r) => r.signatureValid));
  // Each attempt carries its own x-request-id (and so its own signature).
  assert.equal(new Set(mine().map((r) => r.headers['x-request-id'])).size, 3);
});

test('webhook faults on demand: duplicates and reverse order', async () => {
  await fetch(`${sim.url}/sim/webhooks/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ duplicate: 1 }) });
  const p = await mp('POST', '/v1/payments', cardPayment(await cardToken('APRO')));
  await sim.tick();
  assert.equal(receiver.received.filter((r) => r.body.data.id === String(p.body.id)).length, 2);

  await fetch(`${sim.url}/sim/webhooks/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reorder: 2 }) });
  const cash = await mp('POST', '/v1/payments', { transaction_amount: 700, payment_method_id: 'servipag', payer: { email: 'r@example.cl' }, notification_url: receiver.url });
  await sim.tick();
  assert.equal(receiver.received.filter((r) => r.body.data.id === String(cash.body.id)).length, 0, 'held');
  await fetch(`${sim.url}/sim/mp/payments/${String(cash.body.id)}/pay`, { method: 'POST' });
  await sim.tick();
  const order = receiver.received.filter((r) => r.body.data.id === String(cash.body.id)).map((r) => r.body.action);
  assert.deepEqual(order, ['payment.updated', 'payment.created']);
});

test('a late approval after a reported rejection (forced by the control API)', async () => {
  const p = await mp('POST', '/v1/payments', cardPayment(await cardToken('OTHE')));
  assert.equal(p.body.status, 'rejected');
  const forced = await fetch(`${sim.url}/sim/mp/payments/${String(p.body.id)}/status`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ status: 'approved', status_detail: 'accredited' }),
  });
  assert.equal(forced.status, 200);
  assert.equal((await mp('GET', `/v1/payments/${String(p.body.id)}`)).body.status, 'approved');
});

test('bad requests get Mercado Pago error bodies', async () => {
  const noAuth = await fetch(`${sim.url}/v1/payments/1`);
  assert.equal(noAuth.status, 401);
  assert.deepEqual(Object.keys((await noAuth.json()) as Json).sort(), ['cause', 'error', 'message', 'status']);
  const missing = await mp('GET', '/v1/payments/999');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error, 'not_found');
  const badAmount = await mp('POST', '/v1/payments', { transaction_amount: -1, payment_method_id: 'visa', payer: { email: 'a@b.cl' } });
  assert.equal(badAmount.status, 400);
  assert.equal(badAmount.body.error, 'bad_request');
  assert.deepEqual(badAmount.body.cause, [{ code: 4037, description: 'Invalid transaction_amount' }]);
  const badEmail = await mp('POST', '/v1/payments', { transaction_amount: 10, payment_method_id: 'servipag', payer: { email: 'nope' } });
  assert.equal((badEmail.body.cause as Json[])[0]?.code, 4050);
  const badJson = await fetch(`${sim.url}/v1/payments`, { method: 'POST', headers: { authorization: `Bearer ${MP_TOKEN}`, 'content-type': 'application/json' }, body: '{' });
  assert.equal(badJson.status, 400);
  assert.equal(((await badJson.json()) as Json).error, 'bad_request');
});

test('search by external_reference (what a janitor uses)', async () => {
  const found = await mp('GET', '/v1/payments/search?external_reference=order-mp-1&limit=100');
  assert.ok(((found.body.results as Json[]) ?? []).length > 0);
  assert.ok((found.body.results as Json[]).every((p) => p.external_reference === 'order-mp-1'));
});

test('concurrent payment creation: every one gets its own id', async () => {
  const tokens = await Promise.all(Array.from({ length: 10 }, () => cardToken('APRO')));
  const created = await Promise.all(tokens.map((t) => mp('POST', '/v1/payments', cardPayment(t))));
  assert.ok(created.every((c) => c.status === 201));
  assert.equal(new Set(created.map((c) => c.body.id)).size, 10);
});
