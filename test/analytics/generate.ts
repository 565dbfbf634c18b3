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
