// The simulator without a database (memory mode), fault injection, the POST return shape,
// the control API's clock, and the admin page.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startProcessorSim } from '../../src/processor-sim/index.js';
import { IntegrationApiKeys, MP_SECRET, MP_TOKEN, Options, postForm, startSim, tbkFails, VISA_OK, webpay, WebpayPlus } from './support.js';

const { sim } = await startSim(undefined);
after(() => sim.close());
const tx = webpay(sim.url);
const json = { 'content-type': 'application/json' };

async function fault(body: Record<string, unknown>) {
  const res = await fetch(`${sim.url}/sim/faults`, { method: 'POST', headers: json, body: JSON.stringify(body) });
  assert.equal(res.status, 200);
}

test('memory mode serves the whole Webpay flow', async () => {
  const created = (await tx.create('mem-1', 's', 1000, 'http://shop.test/r')) as { token: string; url: string };
  await (await postForm(created.url, { token_ws: created.token })).text();
  const back = await postForm(`${sim.url}/webpayserver/pay`, { token_ws: created.token, card_number: VISA_OK, action: 'pay' });
  assert.equal(back.status, 303);
  assert.equal(((await tx.commit(created.token)) as Record<string, unknown>).status, 'AUTHORIZED');
});

test('the form also opens by GET with token_ws in the query; an unknown token is a 404 page', async () => {
  const created = (await tx.create('mem-get', 's', 1000, 'http://shop.test/r')) as { token: string; url: string };
  const page = await fetch(`${created.url}?token_ws=${created.token}`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  assert.match(await page.text(), /\$1\.000/);
  assert.equal((await fetch(`${created.url}?token_ws=${'0'.repeat(64)}`)).status, 404);
});

test('fault: the next call answers 500 in Transbank shape, then service resumes', async () => {
  await fault({ kind: 'error500', count: 1, path_prefix: '/rswebpaytransaction' });
  await tbkFails(tx.create('f-1', 's', 1000, 'http://shop.test/r'), 500, /Internal Server Error/);
  await tx.create('f-2', 's', 1000, 'http://shop.test/r');
});

test('fault: delay adds latency; timeout drops the call after the wait', async () => {
  await fault({ kind: 'delay', count: 1, ms: 300 });
  const started = performance.now();
  await tx.create('f-3', 's', 1000, 'http://shop.test/r');
  assert.ok(performance.now() - started >= 290);

  await fault({ kind: 'timeout', count: 1, ms: 2000 });
  const impatient = new WebpayPlus.Transaction(new Options('597055555532', IntegrationApiKeys.WEBPAY, sim.url, 200));
  await assert.rejects(impatient.create('f-4', 's', 1000, 'http://shop.test/r'), /timeout/i);

  await fault({ kind: 'reset', count: 1, path_prefix: '/v1/' });
  await assert.rejects(fetch(`${sim.url}/v1/payments/1`, { headers: { authorization: `Bearer ${MP_TOKEN}` } }));
  const after = await fetch(`${sim.url}/v1/payments/1`, { headers: { authorization: `Bearer ${MP_TOKEN}` } });
  assert.equal(after.status, 404);
  const cleared = await fetch(`${sim.url}/sim/faults`, { method: 'DELETE' });
  assert.deepEqual(await cleared.json(), { rules: [] });
});

test('fault per merchant: only the named commerce code is affected', async () => {
  await fault({ kind: 'error500', count: 1, commerce_code: '597055555541' });
  await tx.create('pm-1', 's', 1000, 'http://shop.test/r'); // Webpay Plus merchant: unaffected
  const oneclick = await fetch(`${sim.url}/rswebpaytransaction/api/oneclick/v1.2/transactions/nothing`, {
    headers: { 'tbk-api-key-id': '597055555541', 'tbk-api-key-secret': IntegrationApiKeys.WEBPAY },
  });
  assert.equal(oneclick.status, 500);
  assert.deepEqual(await oneclick.json(), { error_message: 'Internal Server Error' });
});

test('bad control requests are refused', async () => {
  const res = await fetch(`${sim.url}/sim/faults`, { method: 'POST', headers: json, body: JSON.stringify({ kind: 'explode' }) });
  assert.equal(res.status, 400);
});

test('POST return shape: an auto-submitting form to return_url; admin page lists traffic', async () => {
  const postSim = await startProcessorSim({ port: 0, mpAccessToken: MP_TOKEN, mpWebhookSecret: MP_SECRET, settings: { returnMethod: 'POST' }, tickMs: 0 });
  try {
    const t = webpay(postSim.url);
    const created = (await t.create('p-1', 'sess', 1000, 'http://shop.test/return')) as { token: string; url: string };
    const page = await (await postForm(created.url, { token_ws: created.token })).text();
    assert.match(page, /name="card_number"/);
    const res = await postForm(`${postSim.url}/webpayserver/pay`, { token_ws: created.token, action: 'abort' });
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /<form method="post" action="http:\/\/shop.test\/return"/);
    assert.match(html, /name="TBK_TOKEN" value="[0-9a-f]{64}"/);
    assert.match(html, /name="TBK_ORDEN_COMPRA" value="p-1"/);
    assert.match(html, /name="TBK_ID_SESION" value="sess"/);

    const admin = await (await fetch(`${postSim.url}/sim`)).text();
    assert.match(admin, /POST \/rswebpaytransaction\/api\/webpay\/v1.2\/transactions/);
  } finally {
    await postSim.close();
  }
});

test('the control API moves the simulator clock: a token older than 5 minutes is refused', async () => {
  const created = (await tx.create('clk-1', 's', 1000, 'http://shop.test/r')) as { token: string; url: string };
  const moved = await fetch(`${sim.url}/sim/clock/advance`, { method: 'POST', headers: json, body: JSON.stringify({ ms: 6 * 60_000 }) });
  assert.equal(moved.status, 200);
  assert.equal((await postForm(created.url, { token_ws: created.token })).status, 410);
});

test('no card data in the simulator log (PAN stays on the form)', async () => {
  const log = (await (await fetch(`${sim.url}/sim/log`)).json()) as { summary: string }[];
  assert.ok(log.length > 0);
  assert.ok(log.every((e) => !e.summary.includes(VISA_OK)));
});
