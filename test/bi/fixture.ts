import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createAnalytics, type Analytics } from '../../src/analytics/index.js';
import { createBi, type Bi, type BiPorts, type BiRole, type FraudReview, type FraudReviewQueue } from '../../src/bi/index.js';
import type { EventEnvelope } from '../../src/events/index.js';
import { PAYMENTS_EVENTS } from '../../src/payments/index.js';
import { systemClock } from '../../src/platform/clock.js';
import type { Database } from '../../src/platform/db.js';
import { createHttpApp, type HttpApp } from '../../src/platform/http.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetrics } from '../../src/platform/metrics.js';

/**
 * A small warehouse whose dashboard numbers are computed by hand (see EXPECTED), loaded through
 * the real analytics ETL (`ingest` → staging → marts → quality checks), and the BI over it.
 *
 *   order  day        customer region         lines (sku × qty @ price)   payment
 *   o1     2026-11-02 c1       Metropolitana  A×2@1000 + B×1@5000 = 7000  webpay approved (tbk-1)
 *   o2     2026-11-02 c2       Biobío         B×3@5000 = 15000            mercadopago_card approved (mp-2)
 *   o3     2026-11-03 c1       Metropolitana  C×1@12000 = 12000           webpay approved (tbk-3)
 *   o4     2026-11-04 c3       Valparaíso     A×5@1000 = 5000             rejected insufficient_funds; fraud review 55
 *   o5     2026-11-05 c2       Biobío         C×2@12000 = 24000           webpay approved (tbk-5); refund 4000
 *   o6     2026-11-05 c4       Metropolitana  A×10@1000 = 10000           rejected fraud_block; fraud block 92
 * Categories: A despensa, B bebidas, C electro. Settlement: tbk-1 7000 (fee 200) and mp-2 15000
 * (fee 450) on payout P1; tbk-3 reported as 11000 (fee 300) on P2; tbk-5 missing at the processor.
 * Chargeback 3000 on o2. Stock: A@bodega-1 40, B@bodega-1 0 (stockout), C@tienda-2 7.
 * Payments events carry their published payloads (src/payments/events.ts, checked below): a
 * `payments.ledger_posted` is a balanced transaction (capture: Dr processor_clearing:<processor>,
 * Cr sales_revenue; refund: Dr refunds, Cr clearing; chargeback: Dr chargebacks, Cr clearing).
 */
export const EXPECTED = {
  gmv: 73_000,
  gmvBiobio: 39_000,
  gmvElectro: 36_000,
  gmvWebpay: 43_000,
  approved: 58_000,
  refunds: 4_000,
  fees: 950,
  chargebacks: 3_000,
  netRevenue: 58_000 - 4_000 - 950 - 3_000,
  approvalRate: 4 / 6,
  orders: 6,
  aov: Math.round(73_000 / 6),
  units: 24,
  customers: 4,
  underReview: 1,
  blockedAmount: 10_000,
  stockouts: 1,
  newCustomersOrders: 4,
  returningOrders: 2,
  breaks: { amount_mismatch: 1, missing_at_processor: 1 },
};

export const CATEGORIES = new Map([['A', 'despensa'], ['B', 'bebidas'], ['C', 'electro']]);

function fixtureEvents(): EventEnvelope[] {
  const events: EventEnvelope[] = [];
  let seq = 0;
  const payments = new Map(PAYMENTS_EVENTS.map((d) => [d.type, d.schema]));
  const push = (type: string, aggregateId: string, payload: Record<string, unknown>, at: string) => {
    payments.get(type)?.parse(payload);
    events.push({ seq: ++seq, id: randomUUID(), type, version: 1, context: type.split('.')[0] ?? '', aggregateType: 'x', aggregateId, payload, occurredAt: new Date(at) });
  };
  // The catalogue's own events give the warehouse its categories (what the filters and the aggregates use).
  for (const [sku, category] of CATEGORIES) {
    push('catalog.sku_changed', sku, { sku, productId: randomUUID(), name: `Product ${sku}`, category, price: 1000, currency: 'CLP', active: true, attributes: {} }, '2026-11-01T00:00:00Z');
  }
  const orders = [
    { id: 'o1', at: '2026-11-02T10:15:00Z', customer: 'c1', comuna: 'Providencia', region: 'Metropolitana', lines: [['A', 2, 1000], ['B', 1, 5000]], pay: { status: 'approved', method: 'webpay', processor: 'transbank', ref: 'tbk-1' }, fraud: ['allow', 10] },
    { id: 'o2', at: '2026-11-02T14:40:00Z', customer: 'c2', comuna: 'Concepción', region: 'Biobío', lines: [['B', 3, 5000]], pay: { status: 'approved', method: 'mercadopago_card', processor: 'mercadopago', ref: 'mp-2' }, fraud: ['allow', 20] },
    { id: 'o3', at: '2026-11-03T09:05:00Z', customer: 'c1', comuna: 'Providencia', region: 'Metropolitana', lines: [['C', 1, 12000]], pay: { status: 'approved', method: 'webpay', processor: 'transbank', ref: 'tbk-3' }, fraud: ['allow', 35] },
    { id: 'o4', at: '2026-11-04T20:30:00Z', customer: 'c3', comuna: 'Viña del Mar', region: 'Valparaíso', lines: [['A', 5, 1000]], pay: { status: 'rejected', reason: 'insufficient_funds' }, fraud: ['review', 55] },
    { id: 'o5', at: '2026-11-05T11:00:00Z', customer: 'c2', comuna: 'Concepción', region: 'Biobío', lines: [['C', 2, 12000]], pay: { status: 'approved', method: 'webpay', processor: 'transbank', ref: 'tbk-5' }, fraud: ['allow', 5] },
    { id: 'o6', at: '2026-11-05T23:00:00Z', customer: 'c4', comuna: 'Ñuñoa', region: 'Metropolitana', lines: [['A', 10, 1000]], pay: { status: 'rejected', reason: 'fraud_block' }, fraud: ['block', 92] },
  ] as const;
  for (const o of orders) {
    const lines = o.lines.map(([sku, quantity, unitPrice]) => ({ sku, quantity, unitPrice }));
    const amount = lines.reduce((s, l) => s + l.quantity * l.unitPrice, 0);
    const t = (ms: number) => new Date(Date.parse(o.at) + ms).toISOString();
    push('checkout.order_placed', o.id, { orderId: o.id, customerId: o.customer, lines, total: amount, currency: 'CLP', paymentMethod: o.pay.status === 'approved' ? o.pay.method : 'webpay', delivery: { comuna: o.comuna, region: o.region, regionCode: 'XX' } }, o.at);
    push('fraud.decision_made', o.id, { orderId: o.id, decisionId: `d-${o.id}`, decision: o.fraud[0], score: o.fraud[1], reasons: [], ruleVersion: 1, amount, currency: 'CLP', method: 'webpay' }, t(100));
    const attemptId = `att-${o.id}`;
    if (o.pay.status === 'approved') {
      push('payments.payment_pending', attemptId, { attemptId, orderId: o.id, method: o.pay.method }, t(500));
      push('payments.payment_approved', attemptId, { attemptId, orderId: o.id, amount, currency: 'CLP', method: o.pay.method, processor: o.pay.processor, processorRef: o.pay.ref }, t(1000));
      push('payments.ledger_posted', `tx-${o.id}`, { transactionId: `tx-${o.id}`, kind: 'payment_captured', attemptId, entries: [{ account: `processor_clearing:${o.pay.processor}`, amount }, { account: 'sales_revenue', amount: -amount }] }, t(1000));
    } else {
      push('payments.payment_rejected', attemptId, { attemptId, orderId: o.id, reason: o.pay.reason }, t(1000));
    }
  }
  push('payments.refund_succeeded', 'ref-o5', { orderId: 'o5', attemptId: 'att-o5', amount: 4000, refundId: 'ref-o5', refundType: 'NULLIFIED' }, '2026-11-06T12:00:00Z');
  push('payments.ledger_posted', 'tx-ref-o5', { transactionId: 'tx-ref-o5', kind: 'refund', attemptId: 'att-o5', refundId: 'ref-o5', entries: [{ account: 'refunds', amount: 4000 }, { account: 'processor_clearing:transbank', amount: -4000 }] }, '2026-11-06T12:00:00Z');
  push('payments.ledger_posted', 'tx-cb-o2', { transactionId: 'tx-cb-o2', kind: 'chargeback', attemptId: 'att-o2', entries: [{ account: 'chargebacks', amount: 3000 }, { account: 'processor_clearing:mercadopago', amount: -3000 }] }, '2026-11-20T12:00:00Z');
  const stock: [string, string, number][] = [['A', 'bodega-1', 40], ['B', 'bodega-1', 0], ['C', 'tienda-2', 7]];
  for (const [sku, locationId, onHand] of stock) push('inventory.stock_changed', sku, { sku, locationId, onHand, reserved: 0, available: onHand }, '2026-11-06T08:00:00Z');
  return events;
}

/** An in-memory stand-in for the fraud helper's review queue (the optional port's contract). */
export function memoryReviewQueue(): FraudReviewQueue {
  const reviews: FraudReview[] = [
    { id: 'rev-1', orderId: 'o4', paymentAttemptId: 'att-o4', amount: 5000, currency: 'CLP', score: 55, reasons: ['new_card_high_amount'], status: 'open', createdAt: '2026-11-04T20:30:00.000Z', decidedAt: null, reviewer: null },
    { id: 'rev-2', orderId: 'o7', paymentAttemptId: null, amount: 8000, currency: 'CLP', score: 61, reasons: ['velocity'], status: 'open', createdAt: '2026-11-05T20:30:00.000Z', decidedAt: null, reviewer: null },
  ];
  return {
    list: async (opts) => reviews.filter((r) => !opts?.status || r.status === opts.status).slice(0, opts?.limit ?? 100),
    decide: async (id, input) => {
      const r = reviews.find((x) => x.id === id);
      if (!r) throw new Error('no review');
      Object.assign(r, { status: input.outcome === 'approve' ? 'approved' : 'rejected', decidedAt: new Date().toISOString(), reviewer: input.reviewer });
      return r;
    },
  };
}

export interface BiFixture {
  app: HttpApp;
  bi: Bi;
  analytics: Analytics;
  admin: { username: string; password: string };
  users: Record<BiRole, { username: string; password: string }>;
  close(): Promise<void>;
}

/** The fixture warehouse, the BI on it, an admin and one user per role. */
export async function startBiFixture(db: Database, options: { ports?: Partial<BiPorts>; explorerTimeoutMs?: number; roles?: BiRole[] } = {}): Promise<BiFixture> {
  const dir = mkdtempSync(path.join(tmpdir(), 'embudo-bi-'));
  const logger = createLogger('silent');
  const metrics = createMetrics();
  const analytics = createAnalytics({ db, logger, metrics, clock: systemClock, dataDir: dir });
  await analytics.ingest(fixtureEvents());
  await analytics.importSettlement([
    { reportDate: '2026-11-10', payoutId: 'P1', processorRef: 'tbk-1', amount: 7000, fee: 200 },
    { reportDate: '2026-11-10', payoutId: 'P1', processorRef: 'mp-2', amount: 15000, fee: 450 },
    { reportDate: '2026-11-12', payoutId: 'P2', processorRef: 'tbk-3', amount: 11000, fee: 300 },
  ]);
  const bi = createBi({
    db, logger, metrics, clock: systemClock,
    ports: { warehouse: analytics, skuCategories: async () => CATEGORIES, ...options.ports },
    explorer: { timeoutMs: options.explorerTimeoutMs ?? 3000, rowLimit: 10_000 },
  });
  const admin = await bi.ensureAdmin();
  if (!admin) throw new Error('fixture expects an empty bi_users table');
  const users = {} as BiFixture['users'];
  for (const role of options.roles ?? (['analyst', 'scientist', 'cdo', 'engineer', 'admin'] as const)) {
    const u = { username: `${role}-user`, password: `pw-${role}-${randomUUID().slice(0, 8)}` };
    await bi.auth.createUser({ ...u, roles: [role] }, 'fixture');
    users[role] = u;
  }
  const app = await createHttpApp({ logger, metrics, readiness: {}, modules: bi.routes });
  return {
    app, bi, analytics, admin, users,
    close: async () => {
      await app.close();
      await analytics.close();
    },
  };
}
