import { randomUUID } from 'node:crypto';
import { OrderEventV1 } from '../../src/checkout/index.js';
import { CustomerRegisteredV1 } from '../../src/customers/events.js';
import type { EventEnvelope } from '../../src/events/index.js';
import { StockChangedV1 } from '../../src/inventory/index.js';
import { LedgerPostedV1 } from '../../src/payments/events.js';
import { PaymentApprovedV1, PaymentPendingV1, RefundSucceededV1 } from '../../src/payments/index.js';

export interface Totals {
  gmv: number;
  units: number;
  refunds: number;
  approved: number;
  stock: Map<string, number>;
}

/** A deterministic pseudo-random generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COMUNAS = [
  ['Providencia', 'Metropolitana de Santiago', 'RM'], ['Ñuñoa', 'Metropolitana de Santiago', 'RM'], ['Viña del Mar', 'Valparaíso', 'V'],
  ['Concepción', 'Biobío', 'VIII'], ['Temuco', 'La Araucanía', 'IX'],
] as const;

/** A deterministic UUID (v4 layout) from a namespace digit and a counter. */
const uuid = (ns: number, n: number) => `${String(ns).padStart(8, '0')}-0000-4000-8000-${String(n).padStart(12, '0')}`;

/**
 * A month of events in the real published shapes (each payload validated against the
 * producing context's schema): customers registering, orders placed with lines and delivery
 * comuna/región, payment attempts pending then approved, ledger postings, stock changes,
 * refunds. Order payloads also carry PII a careless producer might leak (name, e-mail, phone,
 * street) to prove the silo never lets it through. Returns the OLTP-side totals they imply.
 */
export function generateMonth(orders: number, seed = 7, start = new Date('2026-10-01T00:00:00Z')): { events: EventEnvelope[]; totals: Totals } {
  const rand = rng(seed);
  const events: EventEnvelope[] = [];
  const totals: Totals = { gmv: 0, units: 0, refunds: 0, approved: 0, stock: new Map() };
  const onHand = new Map<string, number>();
  const registered = new Set<string>();
  let seq = 0;
  const month = 30 * 24 * 3600 * 1000;
  const push = (type: string, aggregateId: string, payload: unknown, at: Date) => {
    events.push({ seq: ++seq, id: randomUUID(), type, version: 1, context: type.split('.')[0] ?? '', aggregateType: 'x', aggregateId, payload, occurredAt: at });
  };
  for (let i = 0; i < orders; i++) {
    const at = new Date(start.getTime() + Math.floor((i / orders) * month));
    const orderId = uuid(seed, i);
    const customer = uuid(90_000_000 + seed, Math.floor(rand() * Math.max(1, orders / 4)));
    if (!registered.has(customer)) {
      registered.add(customer);
      push('customers.customer_registered', customer, CustomerRegisteredV1.parse({ customerId: customer, kind: 'registered', registeredAt: new Date(at.getTime() - 60_000).toISOString() }), new Date(at.getTime() - 60_000));
    }
    const [comuna, region, regionCode] = COMUNAS[Math.floor(rand() * COMUNAS.length)] ?? COMUNAS[0];
    const lines = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, k) => ({
      sku: `SKU-${(i * 3 + k) % 40}`, quantity: 1 + Math.floor(rand() * 4), unitPrice: 990 + Math.floor(rand() * 50) * 1000,
    }));
    const amount = lines.reduce((s, l) => s + l.quantity * l.unitPrice, 0);
    const attemptId = uuid(80_000_000 + seed, i);
    const order = OrderEventV1.parse({
      orderId, customerId: customer, status: 'pending_payment', previousStatus: null, reason: 'placed', currency: 'CLP',
      subtotal: amount, shipping: 0, total: amount, refundedAmount: 0, paymentMethod: 'webpay', paymentAttemptId: attemptId,
      lines, delivery: { comuna, region, regionCode }, placedAt: at.toISOString(), occurredAt: at.toISOString(),
    });
    push('checkout.order_placed', orderId, {
      ...order,
      customer: { name: `Juana Pérez ${i}`, email: `juana${i}@example.cl`, phone: `+5698765${String(i).padStart(4, '0')}` },
      delivery: { ...order.delivery, street: `Av. Providencia ${100 + i}` },
    }, at);
    totals.gmv += amount;
    totals.units += lines.reduce((s, l) => s + l.quantity, 0);
    push('payments.payment_pending', attemptId, PaymentPendingV1.parse({ attemptId, orderId, method: 'webpay' }), new Date(at.getTime() + 500));
    push('payments.payment_approved', attemptId, PaymentApprovedV1.parse({ attemptId, orderId, amount, currency: 'CLP', method: 'webpay', processor: 'transbank', processorRef: `tbk-${seed}-${i}` }), new Date(at.getTime() + 1000));
    totals.approved += amount;
    const captureTx = uuid(70_000_000 + seed, i);
    push('payments.ledger_posted', captureTx, LedgerPostedV1.parse({ transactionId: captureTx, kind: 'payment_captured', attemptId, entries: [
      { account: 'processor_clearing:transbank', amount }, { account: 'sales_revenue', amount: -amount }] }), new Date(at.getTime() + 1000));
    for (const l of lines) {
      const now = (onHand.get(l.sku) ?? 10_000) - l.quantity;
      onHand.set(l.sku, now);
      push('inventory.stock_changed', `${l.sku}@bodega-1`, StockChangedV1.parse({ sku: l.sku, locationId: 'bodega-1', onHand: now, reserved: 0, available: now }), new Date(at.getTime() + 2000));
    }
    if (rand() < 0.05) {
      const refund = Math.floor(amount / 2);
      const refundId = uuid(60_000_000 + seed, i);
      push('payments.refund_succeeded', refundId, RefundSucceededV1.parse({ orderId, attemptId, amount: refund, refundId, refundType: 'partial' }), new Date(at.getTime() + 3600_000));
      const refundTx = uuid(50_000_000 + seed, i);
      push('payments.ledger_posted', refundTx, LedgerPostedV1.parse({ transactionId: refundTx, kind: 'refund', attemptId, refundId, entries: [
        { account: 'refunds', amount: refund }, { account: 'processor_clearing:transbank', amount: -refund }] }), new Date(at.getTime() + 3600_000));
      totals.refunds += refund;
    }
  }
  totals.stock = onHand;
  return { events, totals };
}

/** Shuffles a copy (deterministically). */
export function shuffled<T>(items: readonly T[], seed = 3): T[] {
  const rand = rng(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** The categories, regiones, methods and locations `generateVaried` uses. */
export const VARIED = {
  categories: ['hogar', 'ropa', 'tecno', 'juguetes'],
  regions: ['Metropolitana', 'Biobío', 'Valparaíso'],
  methods: ['webpay', 'oneclick', 'mercadopago_card'],
  locations: ['bodega-1', 'tienda-2'],
};

/**
 * Three weeks of events that exercise every global filter: SKUs in four categories (one SKU
 * never catalogued, one re-categorised later), orders with lines of several categories,
 * orders whose first attempt (another method) was declined before one approved, declines
 * without a method (as `payments.payment_rejected` publishes them), pending-only attempts,
 * refunds, chargebacks, fraud decisions of every kind (some just after midnight of the next
 * day), a settlement report with mismatches and gaps, and stock at two locations.
 */
export function generateVaried(orders = 160, seed = 11): { events: EventEnvelope[]; settlement: { reportDate: string; payoutId: string; processorRef: string; amount: number; fee: number }[] } {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const events: EventEnvelope[] = [];
  const settlement: { reportDate: string; payoutId: string; processorRef: string; amount: number; fee: number }[] = [];
  let seq = 0;
  const push = (type: string, aggregateId: string, payload: unknown, at: Date) => {
    events.push({ seq: ++seq, id: randomUUID(), type, version: 1, context: type.split('.')[0] ?? '', aggregateType: 'x', aggregateId, payload, occurredAt: at });
  };
  const skus = Array.from({ length: 12 }, (_, i) => ({ sku: `V-${i}`, category: i < 11 ? VARIED.categories[i % 4] : undefined, price: 1000 * (1 + (i % 5)) }));
  for (const s of skus) {
    if (s.category) push('catalog.sku_changed', s.sku, { sku: s.sku, productId: uuid(5, Number(s.sku.slice(2))), name: s.sku, category: s.category, price: s.price, currency: 'CLP', active: true, attributes: {} }, new Date('2026-10-30T00:00:00Z'));
  }
  // V-2 moves from `tecno` to `ropa` later: the latest catalogue state is the one that counts.
  push('catalog.sku_changed', 'V-2', { sku: 'V-2', productId: uuid(5, 2), name: 'V-2', category: 'ropa', price: 3000, currency: 'CLP', active: true, attributes: {} }, new Date('2026-11-10T00:00:00Z'));
  const start = Date.parse('2026-11-01T00:00:00Z');
  for (let i = 0; i < orders; i++) {
    // Some orders at 23:59:59.9: their fraud decision (100 ms later) falls on the next day.
    const dayStart = start + Math.floor(rand() * 21) * 86_400_000;
    const at = new Date(i % 17 === 0 ? dayStart + 86_399_900 : dayStart + Math.floor(rand() * 86_000_000));
    const orderId = uuid(seed, i);
    const customerId = uuid(90_000_000 + seed, Math.floor(rand() * 40));
    const region = pick(VARIED.regions);
    const lines = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => {
      const s = pick(skus);
      return { sku: s.sku, quantity: 1 + Math.floor(rand() * 3), unitPrice: s.price };
    });
    const amount = lines.reduce((n, l) => n + l.quantity * l.unitPrice, 0);
    const t = (ms: number) => new Date(at.getTime() + ms);
    const method = pick(VARIED.methods);
    push('checkout.order_placed', orderId, { orderId, customerId, lines, total: amount, currency: 'CLP', paymentMethod: method,
      delivery: { comuna: `comuna-${region}`, region, regionCode: 'XX' } }, at);
    const score = Math.floor(rand() * 101);
    const decision = score < 60 ? 'allow' : score < 85 ? 'review' : 'block';
    push('fraud.decision_made', orderId, { orderId, decisionId: `d-${i}`, decision, score, reasons: [], ruleVersion: 1, amount, currency: 'CLP', method }, t(100));
    const approve = (attemptId: string, m: string, ms: number) => {
      const ref = `ref-${seed}-${i}-${m}`;
      push('payments.payment_approved', attemptId, { attemptId, orderId, amount, currency: 'CLP', method: m, processor: 'transbank', processorRef: ref }, t(ms));
      push('payments.ledger_posted', `tx-${attemptId}`, { transactionId: `tx-${attemptId}`, kind: 'payment_captured', attemptId,
        entries: [{ account: 'processor_clearing:transbank', amount }, { account: 'sales_revenue', amount: -amount }] }, t(ms));
      const r = rand();
      const reportDate = new Date(at.getTime() + 2 * 86_400_000).toISOString().slice(0, 10);
      if (r < 0.7) settlement.push({ reportDate, payoutId: `P-${reportDate}`, processorRef: ref, amount, fee: Math.round(amount * 0.02) });
      else if (r < 0.8) settlement.push({ reportDate, payoutId: `P-${reportDate}`, processorRef: ref, amount: amount - 100, fee: Math.round(amount * 0.02) });
      if (rand() < 0.15) {
        const refundId = `rf-${attemptId}`;
        push('payments.refund_succeeded', refundId, { orderId, attemptId, amount: Math.floor(amount / 2), refundId, refundType: 'partial' }, t(3 * 86_400_000));
        push('payments.ledger_posted', `tx-${refundId}`, { transactionId: `tx-${refundId}`, kind: 'refund', attemptId, refundId,
          entries: [{ account: 'refunds', amount: Math.floor(amount / 2) }, { account: 'processor_clearing:transbank', amount: -Math.floor(amount / 2) }] }, t(3 * 86_400_000));
      }
      if (rand() < 0.08) {
        push('payments.ledger_posted', `cb-${attemptId}`, { transactionId: `cb-${attemptId}`, kind: 'chargeback', attemptId,
          entries: [{ account: 'chargebacks', amount }, { account: 'processor_clearing:transbank', amount: -amount }] }, t(5 * 86_400_000));
      }
    };
    const r = rand();
    const a1 = `att-${seed}-${i}-1`;
    if (r < 0.55) {
      push('payments.payment_pending', a1, { attemptId: a1, orderId, method }, t(500));
      approve(a1, method, 1000);
    } else if (r < 0.7) {
      // Declined first with one method, approved with another.
      push('payments.payment_rejected', a1, { attemptId: a1, orderId, reason: 'insufficient_funds' }, t(1000));
      push('payments.payment_pending', a1, { attemptId: a1, orderId, method }, t(500));
      const other = VARIED.methods[(VARIED.methods.indexOf(method) + 1) % VARIED.methods.length] ?? 'webpay';
      const a2 = `att-${seed}-${i}-2`;
      push('payments.payment_pending', a2, { attemptId: a2, orderId, method: other }, t(60_000));
      approve(a2, other, 61_000);
    } else if (r < 0.85) {
      push('payments.payment_rejected', a1, { attemptId: a1, orderId, reason: pick(['insufficient_funds', 'do_not_honor', 'fraud_block']) }, t(1000));
    } else if (r < 0.93) {
      push('payments.payment_pending', a1, { attemptId: a1, orderId, method }, t(500));
    }
  }
  // Reported by the processor, unknown here (missing_here: no order behind it).
  settlement.push({ reportDate: '2026-11-12', payoutId: 'P-2026-11-12', processorRef: `ref-${seed}-unknown`, amount: 4321, fee: 86 });
  for (const s of skus) {
    for (const [k, loc] of VARIED.locations.entries()) {
      const onHand = (Number(s.sku.slice(2)) * 7 + k * 3) % 11 === 0 ? 0 : 5 + ((Number(s.sku.slice(2)) + k) % 9) * 4;
      push('inventory.stock_changed', `${s.sku}@${loc}`, { sku: s.sku, locationId: loc, onHand, reserved: 0, available: onHand }, new Date('2026-11-21T08:00:00Z'));
    }
  }
  return { events, settlement };
}
