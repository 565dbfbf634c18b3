// `npm run bench -- fraud`: the time the fraud check adds before each authorization, under
// concurrent payments on PostgreSQL (a scratch database on BENCH_DATABASE_URL), with the
// default rules and a mix of shoppers, IPs, devices and declines. The processor answers at
// once (a stand-in), so the decision's share of the payment call is as large as it can be.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { PaymentConnector } from '../src/payments/connectors/port.js';
import { createPayments } from '../src/payments/index.js';
import { loadConfig } from '../src/platform/config.js';
import { systemClock } from '../src/platform/clock.js';
import { createDatabase } from '../src/platform/db.js';
import { withDatabase } from '../src/platform/embedded-postgres.js';
import { createLogger } from '../src/platform/log.js';
import { createMetrics } from '../src/platform/metrics.js';
import { migrate } from '../src/platform/migrations.js';
import { fraudDecisionP99Ms } from './checkout/fraud.js';
import { percentile } from './checkout/load.js';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB_NAME = 'embudo_bench_fraud';
const PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 4000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  await admin(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${DB_NAME}`);
  const url = withDatabase(ADMIN_URL, DB_NAME);
  const db = createDatabase({ connectionString: url, max: CONCURRENCY + 4, applicationName: 'embudo-bench-fraud' });
  await migrate(db);
  const metrics = createMetrics();
  let n = 0;
  const processor: PaymentConnector = {
    processor: 'mercadopago',
    authorize: async () => (++n % 10 === 0 ? { status: 'rejected', reason: 'cc_rejected_other_reason' } : { status: 'approved', processorRef: `p-${n}` }),
    startRedirect: () => Promise.reject(new Error('unused')),
    commitRedirect: () => Promise.reject(new Error('unused')),
    status: async () => ({ status: 'unknown' }),
    refund: async () => ({ status: 'failed', reason: 'unused' }),
    refundStatus: async () => ({ status: 'unknown', reason: 'unused' }),
    parseNotification: () => undefined,
  };
  const config = loadConfig({ DATABASE_URL: url, LOG_LEVEL: 'warn', EMBUDO_NO_SIM: '1' });
  const payments = createPayments({ config, db, logger: createLogger('warn'), metrics, clock: systemClock, connectors: { mercadopago: processor } });
  const customers = Array.from({ length: 500 }, () => randomUUID());
  const pay = (i: number) => payments.startPayment({
    orderId: randomUUID(), amount: 5_000 + ((i * 7_919) % 200) * 1_000, currency: 'CLP', customerId: customers[i % customers.length] as string,
    method: 'mercadopago_card', cardToken: 't', paymentMethodId: 'visa', payerEmail: i % 50 === 0 ? 'x@mailinator.com' : 'a@example.cl',
    risk: { ip: `10.0.${i % 200}.${i % 7}`, deviceId: `d-${i % 300}`, cardFingerprint: `c-${i % 600}`, deliveryRegion: i % 9 === 0 ? '5' : '13' },
  }).catch(() => undefined);
  for (let i = 0; i < 200; i++) await pay(i); // warm-up: plans, rule cache
  const latencies: number[] = [];
  let next = 200;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < PAYMENTS + 200) {
      const i = next++;
      const t0 = performance.now();
      await pay(i);
      latencies.push(performance.now() - t0);
    }
  }));
  const elapsed = performance.now() - started;
  const { rows } = await db.query<{ decision: string; n: number; p99_us: number }>(
    `SELECT decision, count(*)::int AS n, percentile_disc(0.99) WITHIN GROUP (ORDER BY duration_us)::int AS p99_us FROM fraud_decisions GROUP BY decision ORDER BY decision`);
  const decisionP99 = await fraudDecisionP99Ms(metrics);
  await db.close();
  if (process.env.BENCH_KEEP_DB !== '1') await admin(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
  const sorted = latencies.sort((a, b) => a - b);
  const p99 = percentile(sorted, 99);
  return {
    fraud_decision_p99_ms: decisionP99,
    start_payment_p50_ms: Number(percentile(sorted, 50).toFixed(2)),
    start_payment_p99_ms: Number(p99.toFixed(2)),
    decision_share_of_p99: decisionP99 === null ? null : Number((decisionP99 / p99).toFixed(2)),
    payments_per_s: Math.round((latencies.length / elapsed) * 1000),
    decisions: Object.fromEntries(rows.map((r) => [r.decision, r.n])),
    read_and_evaluate_p99_ms: Object.fromEntries(rows.map((r) => [r.decision, r.p99_us / 1000])),
    concurrency: CONCURRENCY,
    fraud_features_read_p99_ms: await fraudDecisionP99Ms(metrics, 'embudo_fraud_features_read_seconds'),
    note: 'payments started directly (no checkout announcing them with readAhead, so the features read starts only when the payment asks: the worst case; the checkout bench measures the checkout path). fraud_decision = what the decision adds to the payment path: the wait for its features read beyond the batch\'s own locks and reads, plus the rules; fraud_features_read = each read; decision, counters and event are written in the attempt transaction',
  };
}
