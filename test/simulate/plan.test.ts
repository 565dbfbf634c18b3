import assert from 'node:assert/strict';
import test from 'node:test';
import { createRng, generatePlan, momentAt, peaksOf, planSummary } from '../../src/simulate/index.js';

const options = { seed: 42, from: new Date('2026-05-01T00:00:00Z'), to: new Date('2026-07-01T00:00:00Z'), ordersPerDay: 30, skuCount: 3000, customerCount: 1500 };

test('the same seed gives the same plan; another seed a different one', () => {
  const a = generatePlan(options);
  const b = generatePlan(options);
  assert.equal(JSON.stringify(a), JSON.stringify(b));
  const c = generatePlan({ ...options, seed: 43 });
  assert.notEqual(JSON.stringify(a.sessions.slice(0, 50)), JSON.stringify(c.sessions.slice(0, 50)));
  const r1 = createRng('x');
  const r2 = createRng('x');
  assert.deepEqual(Array.from({ length: 100 }, () => r1.next()), Array.from({ length: 100 }, () => r2.next()));
});

test('a plan looks like a Chilean shop: a few thousand SKUs, regions by population, a realistic session mix', () => {
  const plan = generatePlan(options);
  const s = planSummary(plan);
  assert.ok(plan.catalogue.skus.length >= 2900 && plan.catalogue.skus.length <= 3100, `${plan.catalogue.skus.length} SKUs`);
  assert.ok(plan.catalogue.categories.length >= 8);
  assert.equal(new Set(plan.catalogue.skus.map((k) => k.sku)).size, plan.catalogue.skus.length, 'SKU codes are unique');
  // Santiago's region is the largest, but far from all.
  const byRegion = new Map<string, number>();
  for (const c of plan.customers) byRegion.set(c.address.region, (byRegion.get(c.address.region) ?? 0) + 1);
  const metro = byRegion.get('Metropolitana de Santiago') ?? 0;
  assert.ok(metro > 0.3 * plan.customers.length && metro < 0.55 * plan.customers.length, JSON.stringify([...byRegion]));
  assert.ok(byRegion.size >= 12, 'customers in most regions');
  // Browse > buy > abandon; some declines, refunds and fraud.
  assert.ok((s.browse ?? 0) > (s.buy ?? 0) && (s.buy ?? 0) > (s.abandon ?? 0), JSON.stringify(s));
  assert.ok((s.declines ?? 0) > 0 && (s.refunds ?? 0) > 0 && (s.fraud ?? 0) > 0, JSON.stringify(s));
  const methods = new Map<string, number>();
  for (const x of plan.sessions.filter((x) => x.kind === 'buy' && !x.fraud)) methods.set(x.method, (methods.get(x.method) ?? 0) + 1);
  assert.equal(methods.size, 4, 'all four payment methods are used');
  assert.ok((methods.get('webpay') ?? 0) > (methods.get('mercadopago_cash') ?? 0));
  // Card testing: bursts of small declined card payments by one account.
  const testing = plan.sessions.filter((x) => x.fraud === 'card_testing');
  assert.ok(testing.length >= 8 && testing.filter((x) => x.outcome === 'decline').length > testing.length / 2);
  // Stolen cards: approved, then charged back.
  assert.ok(plan.sessions.filter((x) => x.fraud === 'stolen_card').every((x) => x.outcome === 'approve' && x.after.chargebackMs !== undefined));
});

test('daily and weekly cycles and the yearly peaks', () => {
  const at = (iso: string) => momentAt(new Date(iso)).intensity;
  // 21:00 local (UTC−4 in June) is busier than 04:00.
  assert.ok(at('2026-05-20T01:00:00Z') > 5 * at('2026-05-20T08:00:00Z'));
  // CyberDay 2026 starts on Monday 1 June; Black Friday on 27 November.
  const peaks = peaksOf(2026);
  assert.equal(peaks.find((p) => p.name === 'cyberday')?.from.toISOString().slice(0, 10), '2026-06-01');
  assert.equal(peaks.find((p) => p.name === 'black_friday')?.from.toISOString().slice(0, 10), '2026-11-27');
  assert.ok(at('2026-06-01T23:00:00Z') >= 4 * at('2026-05-25T23:00:00Z'));
  assert.ok(at('2026-11-28T00:30:00Z') > 2.5 * at('2026-11-14T00:30:00Z'));
  assert.ok(at('2026-12-22T23:00:00Z') > 1.8 * at('2026-12-01T23:00:00Z'));
  // The plan follows the calendar: CyberDay week has several times the orders of the week before.
  const plan = generatePlan(options);
  const buys = (from: string, to: string) => plan.sessions.filter((x) => x.kind === 'buy' && !x.fraud && x.at >= new Date(from) && x.at < new Date(to)).length;
  assert.ok(buys('2026-06-01T04:00:00Z', '2026-06-04T04:00:00Z') > 2.5 * buys('2026-05-25T04:00:00Z', '2026-05-28T04:00:00Z'));
});
