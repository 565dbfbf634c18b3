import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { freshDatabase } from '../support/db.js';
import {
  IntegrationApiKeys,
  IntegrationCommerceCodes,
  MASTER_REJECT,
  Oneclick,
  Options,
  postForm,
  returned,
  shopperPays,
  startSim,
  tbkFails,
  TransactionDetail,
  VISA_OK,
  webpay,
  WebpayPlus,
} from './support.js';

const { db } = await freshDatabase();
const { sim, clock } = await startSim(db, { oneclickPerPayment: 500_000, oneclickDailyAmount: 800_000, oneclickDailyCount: 4 });
after(() => sim.close());

const C1 = IntegrationCommerceCodes.ONECLICK_MALL_CHILD1;
const C2 = IntegrationCommerceCodes.ONECLICK_MALL_CHILD2;
const options = () => new Options(IntegrationCommerceCodes.ONECLICK_MALL, IntegrationApiKeys.WEBPAY, sim.url);
type Json = Record<string, unknown>;

async function inscribe(username: string, card: string): Promise<Json> {
  const ins = new Oneclick.MallInscription(options());
  const started = (await ins.start(username, `${username}@example.cl`, 'http://shop.test/oneclick/finish')) as { token: string; url_webpay: string };
  assert.equal(started.url_webpay, `${sim.url}/webpayserver/bp_multicode_inscription.cgi`);
  const page = await postForm(started.url_webpay, { TBK_TOKEN: started.token });
  assert.equal(page.status, 200);
  await page.text();
  const back = returned(await postForm(`${sim.url}/webpayserver/bp_inscription_submit`, { TBK_TOKEN: started.token, card_number: card, action: 'pay' }));
  assert.deepEqual(back, { TBK_TOKEN: started.token });
  return (await ins.finish(started.token)) as Json;
}

test('Oneclick Mall: inscription start/finish through the SDK gives tbk_user and the masked card', async () => {
  const done = await inscribe('ana', VISA_OK);
  assert.equal(done.response_code, 0);
  assert.equal(done.card_type, 'Visa');
  assert.equal(done.card_number, 'XXXXXXXXXXXX6623');
  assert.ok(typeof done.tbk_user === 'string' && done.tbk_user.length > 0 && done.tbk_user.length <= 40);
  assert.match(String(done.authorization_code), /^\d{6}$/);

  const rejected = await inscribe('bea', MASTER_REJECT);
  assert.equal(rejected.response_code, -1);
  assert.equal(rejected.tbk_user, null);
});

test('Oneclick Mall: authorize per store, status, refund, -96..-99, delete', async () => {
  const { tbk_user: tbkUser } = (await inscribe('carla', VISA_OK)) as { tbk_user: string };
  const tx = new Oneclick.MallTransaction(options());
  const res = (await tx.authorize('carla', tbkUser, 'parent-1', [
    new TransactionDetail(10000, C1, 'child-1a'),
    new TransactionDetail(2500, C2, 'child-1b', 1),
  ])) as Json;
  assert.equal(res.buy_order, 'parent-1');
  assert.deepEqual(res.card_detail, { card_number: '6623' });
  const details = res.details as Json[];
  assert.deepEqual(details.map((d) => [d.commerce_code, d.buy_order, d.status, d.response_code, d.amount]), [
    [C1, 'child-1a', 'AUTHORIZED', 0, 10000],
    [C2, 'child-1b', 'AUTHORIZED', 0, 2500],
  ]);

  const refund = (await tx.refund('parent-1', C1, 'child-1a', 4000)) as Json;
  assert.equal(refund.type, 'NULLIFIED');
  assert.equal(refund.balance, 6000);
  assert.deepEqual(await tx.refund('parent-1', C2, 'child-1b', 2500), { type: 'REVERSED' });
  const status = (await tx.status('parent-1')) as Json;
  assert.deepEqual((status.details as Json[]).map((d) => d.status), ['PARTIALLY_NULLIFIED', 'REVERSED']);

  // -98 over the per-payment limit, -97 over the daily amount, -99 over the daily count.
  const over = (await tx.authorize('carla', tbkUser, 'parent-2', [new TransactionDetail(600_000, C1, 'child-2')])) as Json;
  assert.equal((over.details as Json[])[0]?.response_code, -98);
  assert.equal((over.details as Json[])[0]?.status, 'FAILED');
  const big = (await tx.authorize('carla', tbkUser, 'parent-3', [new TransactionDetail(500_000, C1, 'child-3a'), new TransactionDetail(300_000, C2, 'child-3b')])) as Json;
  assert.deepEqual((big.details as Json[]).map((d) => d.response_code), [0, -97]);
  const count = (await tx.authorize('carla', tbkUser, 'parent-4', [new TransactionDetail(100, C1, 'child-4a'), new TransactionDetail(100, C2, 'child-4b')])) as Json;
  assert.deepEqual((count.details as Json[]).map((d) => d.response_code), [0, -99]);
  // The next day the counters start again.
  clock.advance(24 * 3_600_000);
  const nextDay = (await tx.authorize('carla', tbkUser, 'parent-5', [new TransactionDetail(100, C1, 'child-5')])) as Json;
  assert.equal((nextDay.details as Json[])[0]?.response_code, 0);

  await tbkFails(tx.authorize('carla', tbkUser, 'parent-5', [new TransactionDetail(100, C1, 'child-5x')]), 422, /buy_order/);

  const ins = new Oneclick.MallInscription(options());
  assert.equal(await ins.delete(tbkUser, 'carla'), true);
  const gone = (await tx.authorize('carla', tbkUser, 'parent-6', [new TransactionDetail(100, C1, 'child-6')])) as Json;
  assert.equal((gone.details as Json[])[0]?.response_code, -96);
  await tbkFails(ins.delete(tbkUser, 'carla'), 404, /not found/);
});

test('Oneclick: finish twice → 422; an aborted inscription gives no tbk_user', async () => {
  const ins = new Oneclick.MallInscription(options());
  const started = (await ins.start('dani', 'dani@example.cl', 'http://shop.test/f')) as { token: string; url_webpay: string };
  await tbkFails(ins.finish(started.token), 422, /not returned/);
  await (await postForm(started.url_webpay, { TBK_TOKEN: started.token })).text();
  returned(await postForm(`${sim.url}/webpayserver/bp_inscription_submit`, { TBK_TOKEN: started.token, action: 'abort' }));
  const aborted = (await ins.finish(started.token)) as Json;
  assert.equal(aborted.response_code, -1);
  assert.equal(aborted.tbk_user, null);
  await tbkFails(ins.finish(started.token), 422, /already finished/);
});

test('Webpay Plus Mall through the SDK: create with details, commit, per-store refunds', async () => {
  const mall = new WebpayPlus.MallTransaction(new Options(IntegrationCommerceCodes.WEBPAY_PLUS_MALL, IntegrationApiKeys.WEBPAY, sim.url));
  const M1 = IntegrationCommerceCodes.WEBPAY_PLUS_MALL_CHILD1;
  const M2 = IntegrationCommerceCodes.WEBPAY_PLUS_MALL_CHILD2;
  const created = (await mall.create('mall-1', 'ms-1', 'http://shop.test/mall/return', [
    new TransactionDetail(3000, M1, 'mall-1a'),
    new TransactionDetail(7000, M2, 'mall-1b'),
  ])) as { token: string; url: string };
  await shopperPays(sim.url, created, VISA_OK);
  const commit = (await mall.commit(created.token)) as Json;
  assert.equal(commit.buy_order, 'mall-1');
  assert.deepEqual((commit.details as Json[]).map((d) => [d.commerce_code, d.buy_order, d.status, d.response_code, d.amount]), [
    [M1, 'mall-1a', 'AUTHORIZED', 0, 3000],
    [M2, 'mall-1b', 'AUTHORIZED', 0, 7000],
  ]);
  assert.deepEqual(await mall.refund(created.token, 'mall-1a', M1, 3000), { type: 'REVERSED' });
  const partial = (await mall.refund(created.token, 'mall-1b', M2, 2000)) as Json;
  assert.equal(partial.type, 'NULLIFIED');
  assert.equal(partial.balance, 5000);
  const status = (await mall.status(created.token)) as Json;
  assert.deepEqual((status.details as Json[]).map((d) => d.status), ['REVERSED', 'PARTIALLY_NULLIFIED']);

  // A single-store commerce code cannot create a mall transaction, and children must belong.
  await tbkFails(
    new WebpayPlus.MallTransaction(new Options(IntegrationCommerceCodes.WEBPAY_PLUS_MALL, IntegrationApiKeys.WEBPAY, sim.url)).create('m2', 's', 'http://shop.test/r', [
      new TransactionDetail(100, IntegrationCommerceCodes.ONECLICK_MALL_CHILD1, 'x'),
    ]),
    422,
    /details.commerce_code/,
  );
  await tbkFails(webpay(sim.url, IntegrationCommerceCodes.WEBPAY_PLUS_MALL).create('m3', 's', 100, 'http://shop.test/r'), 422, /commerce_code/);
});

test('deferred capture (Webpay Plus Diferido): AUTHORIZED, then CAPTURED with the captured balance', async () => {
  const tx = webpay(sim.url, IntegrationCommerceCodes.WEBPAY_PLUS_DEFERRED);
  const created = (await tx.create('def-1', 's', 9000, 'http://shop.test/r')) as { token: string; url: string };
  await shopperPays(sim.url, created, VISA_OK);
  const commit = (await tx.commit(created.token)) as Json;
  assert.equal(commit.status, 'AUTHORIZED');
  const cap = (await tx.capture(created.token, 'def-1', String(commit.authorization_code), 8000)) as Json;
  assert.equal(cap.captured_amount, 8000);
  assert.equal(cap.response_code, 0);
  const status = (await tx.status(created.token)) as Json;
  assert.equal(status.status, 'CAPTURED');
  assert.equal(status.balance, 8000);
});

test('concurrent Oneclick charges race the daily count: exactly the limit is approved', async () => {
  const { tbk_user: tbkUser } = (await inscribe('eva', VISA_OK)) as { tbk_user: string };
  const tx = new Oneclick.MallTransaction(options());
  const results = await Promise.all(
    Array.from({ length: 8 }, (_, i) => tx.authorize('eva', tbkUser, `race-${i}`, [new TransactionDetail(1000, C1, `race-${i}-a`)]) as Promise<Json>),
  );
  const codes = results.map((r) => (r.details as Json[])[0]?.response_code);
  assert.equal(codes.filter((c) => c === 0).length, 4);
  assert.equal(codes.filter((c) => c === -99).length, 4);
});

test('issuer declines per store: a mall commit with one store rejected, a Oneclick detail declined', async () => {
  const M1 = IntegrationCommerceCodes.WEBPAY_PLUS_MALL_CHILD1;
  const M2 = IntegrationCommerceCodes.WEBPAY_PLUS_MALL_CHILD2;
  const decline = (code: string) =>
    fetch(`${sim.url}/sim/declines`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ commerce_code: code, count: 1 }) });
  assert.equal((await decline(M2)).status, 200);
  const mall = new WebpayPlus.MallTransaction(new Options(IntegrationCommerceCodes.WEBPAY_PLUS_MALL, IntegrationApiKeys.WEBPAY, sim.url));
  const created = (await mall.create('mall-d', 'ms', 'http://shop.test/r', [new TransactionDetail(1000, M1, 'mall-d1'), new TransactionDetail(2000, M2, 'mall-d2')])) as {
    token: string;
    url: string;
  };
  await shopperPays(sim.url, created, VISA_OK);
  const commit = (await mall.commit(created.token)) as Json;
  assert.deepEqual((commit.details as Json[]).map((d) => [d.status, d.response_code]), [
    ['AUTHORIZED', 0],
    ['FAILED', -1],
  ]);

  const { tbk_user: tbkUser } = (await inscribe('fede', VISA_OK)) as { tbk_user: string };
  await decline(C1);
  const res = (await new Oneclick.MallTransaction(options()).authorize('fede', tbkUser, 'dec-1', [
    new TransactionDetail(100, C1, 'dec-1a'),
    new TransactionDetail(100, C2, 'dec-1b'),
  ])) as Json;
  assert.deepEqual((res.details as Json[]).map((d) => d.response_code), [-1, 0]);
});
