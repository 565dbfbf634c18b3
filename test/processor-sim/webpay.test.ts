import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { freshDatabase } from '../support/db.js';
import { MASTER_REJECT, postForm, returned, shopperPays, startSim, tbkFails, VISA_OK, webpay } from './support.js';

const { db } = await freshDatabase();
const { sim, clock } = await startSim(db);
after(() => sim.close());
const tx = webpay(sim.url);
const returnUrl = 'http://shop.test/webpay/return?x=1';

test('create → form → approved card → commit through the official SDK', async () => {
  const created = (await tx.create('order-1', 'session-1', 15990, returnUrl)) as { token: string; url: string };
  assert.match(created.token, /^[0-9a-f]{64}$/);
  assert.equal(created.url, `${sim.url}/webpayserver/initTransaction`);

  const before = (await tx.status(created.token)) as Record<string, unknown>;
  assert.equal(before.status, 'INITIALIZED');

  const back = await shopperPays(sim.url, created, VISA_OK);
  assert.deepEqual(back, { x: '1', token_ws: created.token });

  const commit = (await tx.commit(created.token)) as Record<string, unknown>;
  assert.equal(commit.status, 'AUTHORIZED');
  assert.equal(commit.response_code, 0);
  assert.equal(commit.amount, 15990);
  assert.equal(commit.buy_order, 'order-1');
  assert.equal(commit.session_id, 'session-1');
  assert.deepEqual(commit.card_detail, { card_number: '6623' });
  assert.equal(commit.payment_type_code, 'VN');
  assert.equal(commit.installments_number, 0);
  assert.match(String(commit.authorization_code), /^\d{6}$/);
  assert.equal(commit.accounting_date, '1127');
  assert.equal(commit.transaction_date, '2026-11-27T15:00:00.000Z');
  assert.equal(commit.vci, 'TSY');

  // A second commit is refused with Transbank's error body.
  await tbkFails(tx.commit(created.token), 422, /Invalid status/);
  const status = (await tx.status(created.token)) as Record<string, unknown>;
  assert.equal(status.status, 'AUTHORIZED');
  assert.equal(status.response_code, 0);
});

test('rejecting Mastercard: commit answers FAILED with response_code -1', async () => {
  const created = (await tx.create('order-2', 's2', 5000, returnUrl)) as { token: string; url: string };
  await shopperPays(sim.url, created, MASTER_REJECT);
  const commit = (await tx.commit(created.token)) as Record<string, unknown>;
  assert.equal(commit.status, 'FAILED');
  assert.equal(commit.response_code, -1);
});

test('aborted by the shopper: TBK_TOKEN + TBK_ORDEN_COMPRA + TBK_ID_SESION; commit → 422', async () => {
  const created = (await tx.create('order-3', 's3', 5000, returnUrl)) as { token: string; url: string };
  const back = await shopperPays(sim.url, created, '', 'abort');
  assert.deepEqual(back, { x: '1', TBK_TOKEN: created.token, TBK_ORDEN_COMPRA: 'order-3', TBK_ID_SESION: 's3' });
  await tbkFails(tx.commit(created.token), 422, /Invalid status '10'/);
  assert.equal(((await tx.status(created.token)) as Record<string, unknown>).status, 'INITIALIZED');
});

test('form timed out (by the clock): only TBK_ID_SESION + TBK_ORDEN_COMPRA', async () => {
  const created = (await tx.create('order-4', 's4', 5000, returnUrl)) as { token: string; url: string };
  await (await postForm(created.url, { token_ws: created.token })).text();
  clock.advance(11 * 60_000);
  const back = returned(await postForm(`${sim.url}/webpayserver/pay`, { token_ws: created.token, card_number: VISA_OK, action: 'pay' }));
  assert.deepEqual(back, { x: '1', TBK_ID_SESION: 's4', TBK_ORDEN_COMPRA: 'order-4' });
  await tbkFails(tx.commit(created.token), 422, /invalid finished state: aborted/);
});

test('error on the form: all four fields', async () => {
  const created = (await tx.create('order-5', 's5', 5000, returnUrl)) as { token: string; url: string };
  const back = await shopperPays(sim.url, created, '', 'error');
  assert.deepEqual(back, { x: '1', token_ws: created.token, TBK_TOKEN: created.token, TBK_ORDEN_COMPRA: 'order-5', TBK_ID_SESION: 's5' });
});

test('token life: the form refuses a token older than 5 minutes; a late commit is refused', async () => {
  const stale = (await tx.create('order-6', 's6', 5000, returnUrl)) as { token: string; url: string };
  clock.advance(6 * 60_000);
  assert.equal((await postForm(stale.url, { token_ws: stale.token })).status, 410);

  const late = (await tx.create('order-7', 's7', 5000, returnUrl)) as { token: string; url: string };
  await shopperPays(sim.url, late, VISA_OK);
  clock.advance(6 * 60_000);
  await tbkFails(tx.commit(late.token), 422, /invalid finished state: aborted/);
});

test('refunds: full same day → REVERSED; partial → NULLIFIED with balance; status follows', async () => {
  const a = (await tx.create('order-8', 's8', 10000, returnUrl)) as { token: string; url: string };
  await shopperPays(sim.url, a, VISA_OK);
  await tx.commit(a.token);
  assert.deepEqual(await tx.refund(a.token, 10000), { type: 'REVERSED' });
  assert.equal(((await tx.status(a.token)) as Record<string, unknown>).status, 'REVERSED');
  await tbkFails(tx.refund(a.token, 1), 422, /reversed/);

  const b = (await tx.create('order-9', 's9', 10000, returnUrl)) as { token: string; url: string };
  await shopperPays(sim.url, b, VISA_OK);
  await tx.commit(b.token);
  const partial = (await tx.refund(b.token, 3000)) as Record<string, unknown>;
  assert.equal(partial.type, 'NULLIFIED');
  assert.equal(partial.nullified_amount, 3000);
  assert.equal(partial.balance, 7000);
  assert.equal(partial.response_code, 0);
  let status = (await tx.status(b.token)) as Record<string, unknown>;
  assert.equal(status.status, 'PARTIALLY_NULLIFIED');
  assert.equal(status.balance, 7000);
  await tbkFails(tx.refund(b.token, 7001), 422, /exceeds the balance/);
  clock.advance(24 * 3_600_000);
  const rest = (await tx.refund(b.token, 7000)) as Record<string, unknown>;
  assert.equal(rest.type, 'NULLIFIED');
  assert.equal(rest.balance, 0);
  status = (await tx.status(b.token)) as Record<string, unknown>;
  assert.equal(status.status, 'NULLIFIED');

  // The next day, even a full refund is a nullification.
  const c = (await tx.create('order-10', 's10', 4000, returnUrl)) as { token: string; url: string };
  await shopperPays(sim.url, c, VISA_OK);
  await tx.commit(c.token);
  clock.advance(24 * 3_600_000);
  assert.equal(((await tx.refund(c.token, 4000)) as Record<string, unknown>).type, 'NULLIFIED');
});

test('status answers for 7 days, then 422; the state survives a restart (PostgreSQL)', async () => {
  const d = (await tx.create('order-11', 's11', 2500, returnUrl)) as { token: string; url: string };
  await shopperPays(sim.url, d, VISA_OK);
  await tx.commit(d.token);
  const { sim: again, clock: clock2 } = await startSim(db);
  try {
    clock2.set(clock.now());
    const tx2 = webpay(again.url);
    assert.equal(((await tx2.status(d.token)) as Record<string, unknown>).status, 'AUTHORIZED');
    clock2.advance(6 * 24 * 3_600_000);
    assert.equal(((await tx2.status(d.token)) as Record<string, unknown>).status, 'AUTHORIZED');
    clock2.advance(2 * 24 * 3_600_000);
    await tbkFails(tx2.status(d.token), 422, /7 days/);
  } finally {
    await again.close();
  }
});

test('bad requests get Transbank error bodies: 401, 422, 404', async () => {
  const wrongKey = await fetch(`${sim.url}/rswebpaytransaction/api/webpay/v1.2/transactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'tbk-api-key-id': '597055555532', 'tbk-api-key-secret': 'nope' },
    body: JSON.stringify({ buy_order: 'o', session_id: 's', amount: 1, return_url: returnUrl }),
  });
  assert.equal(wrongKey.status, 401);
  assert.deepEqual(await wrongKey.json(), { error_message: 'Not Authorized' });

  await tbkFails(tx.create('o-12', 's', -5, returnUrl), 422, /Invalid value for parameter: amount/);
  await tbkFails(tx.create('o-12', 's', 100, 'not a url'), 422, /return_url/);
  await tbkFails(tx.status('f'.repeat(64)), 404, /Transaction not found/);

  const badJson = await fetch(`${sim.url}/rswebpaytransaction/api/webpay/v1.2/transactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'tbk-api-key-id': '597055555532', 'tbk-api-key-secret': tbkKey() },
    body: '{nope',
  });
  assert.equal(badJson.status, 400);
  assert.ok(typeof ((await badJson.json()) as Record<string, unknown>).error_message === 'string');

  const unknownPath = await fetch(`${sim.url}/rswebpaytransaction/api/webpay/v1.2/nothing`);
  assert.equal(unknownPath.status, 404);
  assert.deepEqual(await unknownPath.json(), { error_message: 'Not Found' });
});

function tbkKey(): string {
  return '579B532A7440BB0C9079DED94D31EA1615BACEB56610332264630D42D0A36B1C';
}

test('concurrent commits: exactly one wins', async () => {
  const e = (await tx.create('order-13', 's13', 9000, returnUrl)) as { token: string; url: string };
  await shopperPays(sim.url, e, VISA_OK);
  const results = await Promise.allSettled([tx.commit(e.token), tx.commit(e.token), tx.commit(e.token)]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
});
