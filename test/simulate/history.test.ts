import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import test from 'node:test';
import { buildServices } from '../../src/main/contexts.js';
import { generatePlan, planSummary, simulateHistory } from '../../src/simulate/index.js';
import { createLogger } from '../../src/platform/log.js';
import { freshDatabase } from '../support/db.js';
import { testConfig } from '../support/platform.js';

const options = { seed: 'history-test', from: new Date('2026-05-31T04:00:00Z'), to: new Date('2026-06-02T04:00:00Z'), ordersPerDay: 5, skuCount: 150, customerCount: 60, fraudEveryDays: 4 };

test('history writes orders, payments and stock movements that keep every invariant', async () => {
  const { db, url } = await freshDatabase();
  const config = testConfig(url, { kek: randomBytes(32).toString('base64') });
  const plan = generatePlan(options);
  const summary = planSummary(plan);
  assert.ok((summary.buy ?? 0) > 15, `a few days with CyberDay inside: ${JSON.stringify(summary)}`);
  const r = await simulateHistory({ config, db, logger: createLogger('silent'), buildServices, plan });
  assert.ok(r);
  console.log(JSON.stringify(r));
  assert.equal(Object.values(r.errors).reduce((s, n) => s + n, 0), 0, `no step failed: ${JSON.stringify(r.errors)}`);
  assert.equal(r.orders + r.outOfStock, summary.buy, 'every planned purchase reached checkout');
  assert.ok(r.approved > 5 && r.declined > 0 && r.fulfilled > 0, JSON.stringify(r));

  // Orders were written in the past, spread over the plan's days.
  const { rows: [span] } = await db.query<{ first: Date; last: Date; days: number }>(
    `SELECT min(created_at) AS first, max(created_at) AS last, count(DISTINCT created_at::date)::int AS days FROM orders`);
  assert.ok(span && span.first >= options.from && span.last < options.to && span.days >= 2, JSON.stringify(span));
  // The CyberDay peak (first Monday of June) brings several times the day before's traffic
  // (sessions), and more orders reach the database on it (conversion is lower on a peak day).
  const localDay = (at: Date) => new Date(at.getTime() - 4 * 3_600_000).toISOString().slice(0, 10);
  const sessionsOn = (day: string) => plan.sessions.filter((x) => localDay(new Date(x.at)) === day).length;
  assert.ok(sessionsOn('2026-06-01') > 2 * sessionsOn('2026-05-31'), `sessions ${sessionsOn('2026-05-31')} → ${sessionsOn('2026-06-01')}`);
  const { rows: days } = await db.query<{ day: string; n: number }>(
    `SELECT (created_at - interval '4 hours')::date::text AS day, count(*)::int AS n FROM orders GROUP BY 1`);
  const byDay = new Map(days.map((d) => [d.day, d.n]));
  assert.ok((byDay.get('2026-06-01') ?? 0) > (byDay.get('2026-05-31') ?? 0), JSON.stringify(days));

  // Stock: on_hand = Σ movements, nothing negative.
  const services = buildServices({ config, db, logger: createLogger('silent'), metrics: (await import('../../src/platform/metrics.js')).createMetrics(), clock: { now: () => new Date() }, events: undefined as never });
  const report = await services.inventory.checkInvariants();
  assert.equal(report.ok, true, JSON.stringify(report));
  // Money: every ledger transaction balances.
  const balances = await services.payments.ledgerBalances();
  assert.equal(Object.values(balances).reduce((s, n) => s + Number(n), 0), 0, JSON.stringify(balances));
  // Each order charged at most once; each paid order has exactly one approved attempt.
  const { rows: twice } = await db.query(`SELECT order_id FROM payment_attempt_events WHERE status = 'approved' GROUP BY order_id HAVING count(*) > 1`);
  assert.deepEqual(twice, []);
  const { rows: [paid] } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM orders WHERE status IN ('paid','fulfilled','partially_refunded','refunded')`);
  assert.ok((paid?.n ?? 0) >= r.approved, `${paid?.n} paid orders for ${r.approved} approvals`);
});
