import { randomUUID } from 'node:crypto';
import type { EventEnvelope } from '../../src/events/index.js';

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

const COMUNAS = [['Providencia', 'Metropolitana'], ['Ñuñoa', 'Metropolitana'], ['Viña del Mar', 'Valparaíso'], ['Concepción', 'Biobío'], ['Temuco', 'Araucanía']] as const;

/**
 * A month of events (orders with lines and PII-bearing delivery data, approvals, refunds,
 * stock changes) and the OLTP-side totals they imply.
 */
export function generateMonth(orders: number, seed = 7, start = new Date('2026-10-01T00:00:00Z')): { events: EventEnvelope[]; totals: Totals } {
  const rand = rng(seed);
  const events: EventEnvelope[] = [];
  const totals: Totals = { gmv: 0, units: 0, refunds: 0, approved: 0, stock: new Map() };
  const onHand = new Map<string, number>();
  let seq = 0;
  const month = 30 * 24 * 3600 * 1000;
  const push = (type: string, aggregateId: string, payload: unknown, at: Date) => {
    events.push({ seq: ++seq, id: randomUUID(), type, version: 1, context: type.split('.')[0] ?? '', aggregateType: 'x', aggregateId, payload, occurredAt: at });
  };
  for (let i = 0; i < orders; i++) {
    const at = new Date(start.getTime() + Math.floor((i / orders) * month));
    const orderId = `ord-${seed}-${i}`;
    const customer = `cus-${Math.floor(rand() * Math.max(1, orders / 4))}`;
    const [comuna, region] = COMUNAS[Math.floor(rand() * COMUNAS.length)] ?? COMUNAS[0];
    const lines = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, k) => ({
      sku: `SKU-${(i * 3 + k) % 40}`, quantity: 1 + Math.floor(rand() * 4), unitPrice: 990 + Math.floor(rand() * 50) * 1000,
    }));
    const amount = lines.reduce((s, l) => s + l.quantity * l.unitPrice, 0);
    push('checkout.order_placed', orderId, {
      orderId, customerId: customer, lines, total: amount, currency: 'CLP',
      customer: { name: `Juana Pérez ${i}`, email: `juana${i}@example.cl`, phone: `+5698765${String(i).padStart(4, '0')}` },
      delivery: { street: `Av. Providencia ${100 + i}`, comuna, region },
    }, at);
    totals.gmv += amount;
    totals.units += lines.reduce((s, l) => s + l.quantity, 0);
    const attemptId = `att-${seed}-${i}`;
    push('payments.payment_pending', attemptId, { attemptId, orderId }, new Date(at.getTime() + 500));
    push('payments.payment_approved', attemptId, { attemptId, orderId, amount, currency: 'CLP', method: 'webpay', processor: 'transbank', processorRef: `tbk-${i}` }, new Date(at.getTime() + 1000));
    totals.approved += amount;
    push('payments.ledger_posted', attemptId, { postingId: `post-${i}`, account: 'processor_receivable', orderId, attemptId, processorRef: `tbk-${i}`, amount }, new Date(at.getTime() + 1000));
    for (const l of lines) {
      const now = (onHand.get(l.sku) ?? 10_000) - l.quantity;
      onHand.set(l.sku, now);
      push('inventory.stock_changed', l.sku, { sku: l.sku, locationId: 'bodega-1', onHand: now, reserved: 0, available: now }, new Date(at.getTime() + 2000));
    }
    if (rand() < 0.05) {
      const refund = Math.floor(amount / 2);
      push('payments.refund_succeeded', orderId, { orderId, attemptId, amount: refund, refundId: `ref-${i}` }, new Date(at.getTime() + 3600_000));
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
