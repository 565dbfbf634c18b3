import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { freshDatabase } from '../support/db.js';
import { MP_TOKEN, shopperPays, startSim, VISA_OK, webpay } from './support.js';

const { db } = await freshDatabase();
const { sim, clock } = await startSim(db);
after(() => sim.close());
const json = { 'content-type': 'application/json' };
type Row = { reference: string; type: string; gross: number; fee: number; net: number; payout_date: string; processor: string };

async function rows(processor: string, date: string): Promise<Row[]> {
  const res = await fetch(`${sim.url}/sim/settlements/${processor}?date=${date}&format=json`);
  assert.equal(res.status, 200);
  return (await res.json()) as Row[];
}

test('Transbank settlement: sales, nullifications, reversed sales left out, fees and payout date', async () => {
  const tx = webpay(sim.url);
  const paid = async (order: string, amount: number) => {
    const c = (await tx.create(order, 's', amount, 'http://shop.test/r')) as { token: string; url: string };
    await shopperPays(sim.url, c, VISA_OK);
    await tx.commit(c.token);
    return c.token;
  };
  const a = await paid('set-a', 10000);
  const b = await paid('set-b', 20000);
  await tx.refund(b, 20000); // reversed the same day: never settled
  await paid('set-c', 5000);
  const day = '2026-11-27'; // Friday: payout two business days later, Tuesday
  const r = await rows('transbank', day);
  assert.deepEqual(
    r.map((x) => [x.reference, x.type, x.gross, x.fee, x.net, x.payout_date]),
    [
      ['set-a', 'sale', 10000, 295, 9705, '2026-12-01'],
      ['set-c', 'sale', 5000, 148, 4852, '2026-12-01'],
    ],
  );
  clock.advance(24 * 3_600_000);
  await tx.refund(a, 4000);
  const next = await rows('transbank', '2026-11-28');
  assert.deepEqual(next.map((x) => [x.reference, x.type, x.gross]), [['set-a', 'refund', -4000]]);

  const csv = await (await fetch(`${sim.url}/sim/settlements/transbank?date=${day}`)).text();
  assert.equal(csv.split('\n')[0], 'date,processor,commerce_code,reference,external_reference,type,gross,fee,net,payout_date');
  assert.equal(csv.trim().split('\n').length, 3);
});

test('Mercado Pago settlement with a chargeback, and injected discrepancies', async () => {
  const token = async () => {
    const res = await fetch(`${sim.url}/v1/card_tokens?public_key=TEST-pk`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ card_number: '4168818844447115', expiration_month: 1, expiration_year: 2031, security_code: '123', cardholder: { name: 'APRO' } }),
    });
    return ((await res.json()) as { id: string }).id;
  };
  const pay = async (amount: number) => {
    const res = await fetch(`${sim.url}/v1/payments`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${MP_TOKEN}` },
      body: JSON.stringify({ transaction_amount: amount, token: await token(), payment_method_id: 'visa', payer: { email: 'a@b.cl' } }),
    });
    return String(((await res.json()) as { id: number }).id);
  };
  const p1 = await pay(10000);
  const p2 = await pay(3000);
  assert.equal((await fetch(`${sim.url}/sim/mp/payments/${p2}/chargeback`, { method: 'POST' })).status, 200);
  const day = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Santiago' }).format(clock.now());
  const clean = await rows('mercadopago', day);
  assert.deepEqual(
    clean.map((x) => [x.reference, x.type, x.gross]),
    [
      [p1, 'sale', 10000],
      [p2, 'chargeback', -3000],
      [p2, 'sale', 3000],
    ].sort((a, b) => String(a[0]).localeCompare(String(b[0])) || String(a[1]).localeCompare(String(b[1]))),
  );

  const scenario = await fetch(`${sim.url}/sim/scenario`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({
      name: 'reconciliation drill',
      discrepancies: [
        { processor: 'mercadopago', kind: 'amount', reference: p1, delta: -10 },
        { processor: 'mercadopago', kind: 'phantom', reference: 'ghost-1', delta: 777 },
      ],
    }),
  });
  assert.equal(scenario.status, 200);
  const drifted = await rows('mercadopago', day);
  assert.equal(drifted.find((x) => x.reference === p1)?.gross, 9990);
  assert.equal(drifted.find((x) => x.reference === 'ghost-1')?.gross, 777);
});

test('a scenario sets faults and settings at once; a bad one is refused with nothing applied', async () => {
  const bad = await fetch(`${sim.url}/sim/scenario`, { method: 'POST', headers: json, body: JSON.stringify({ faults: [{ kind: 'nope' }] }) });
  assert.equal(bad.status, 400);
  const ok = await fetch(`${sim.url}/sim/scenario`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ settings: { returnMethod: 'POST' }, faults: [{ kind: 'error500', count: 1, path_prefix: '/v1/' }] }),
  });
  assert.equal(ok.status, 200);
  const failed = await fetch(`${sim.url}/v1/payments/1`, { headers: { authorization: `Bearer ${MP_TOKEN}` } });
  assert.equal(failed.status, 500);
  assert.deepEqual(await failed.json(), { message: 'internal_error', error: 'internal_error', status: 500, cause: [] });
  const c = (await webpay(sim.url).create('scn-1', 's', 100, 'http://shop.test/r')) as { token: string; url: string };
  await (await fetch(c.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token_ws=${c.token}` })).text();
  const back = await fetch(`${sim.url}/webpayserver/pay`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `token_ws=${c.token}&action=pay&card_number=${VISA_OK}`,
    redirect: 'manual',
  });
  assert.equal(back.status, 200, 'POST return shape from the scenario settings');
  assert.match(await back.text(), /name="token_ws"/);
});
