// Processor faults: time-outs, 5xx, resets, late and duplicated webhooks, a late approval
// after a rejection. Every order must end in the state its payment says; nobody is charged twice.
import assert from 'node:assert/strict';
import test from 'node:test';
import { runLive } from '../../src/simulate/index.js';
import { freshDatabase } from '../support/db.js';
import { fastForward, invariantViolations, SHORT, startStack } from './support.js';

const post = async (url: string, body: unknown) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, await res.text());
};

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

  // A late approval after a rejection: the processor changes its mind on a rejected card payment.
  const { rows: rejected } = await db.query<{ ref: string; order_id: string }>(
    `SELECT e.processor_ref AS ref, e.order_id FROM payment_attempt_events e JOIN payment_attempts a ON a.id = e.attempt_id
      WHERE e.status = 'rejected' AND a.method = 'mercadopago_card' AND e.processor_ref IS NOT NULL LIMIT 1`);
  if (rejected[0]) await post(`${sim}/sim/mp/payments/${rejected[0].ref}/status`, { status: 'approved', status_detail: 'accredited' });
  await new Promise((r) => setTimeout(r, 3000));
  await post(`${sim}/sim/webhooks/release`, {});
  await fetch(`${sim}/sim/faults`, { method: 'DELETE' });
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
  if (rejected[0]) {
    const { rows: [late] } = await db.query<{ status: string }>('SELECT status FROM orders WHERE id::text = $1', [rejected[0].order_id]);
    assert.ok(late && ['paid', 'refunding', 'refunded'].includes(late.status), `late approval settled the order: ${late?.status}`);
  }
});
