// Small stand-ins for contexts not merged into this branch yet (catalog, inventory,
// payments, event bus), following CONTRACTS.md. Inventory keeps its stock in real
// PostgreSQL tables with conditional updates, so races here are real transaction races.
import { randomUUID } from 'node:crypto';
import type { CatalogPort, InventoryPort, PaymentsPort, SkuView, StartPaymentInput, StartPaymentResult } from '../../../src/checkout/index.js';
import { appendEvents, type EventEnvelope } from '../../../src/events/index.js';
import type { Database, Db } from '../../../src/platform/db.js';
import { systemClock, type Clock } from '../../../src/platform/clock.js';
import { defineErrors } from '../../../src/platform/errors.js';

const fail = defineErrors({ insufficient_stock: 'conflict', unknown_sku: 'not_found', reservation_expired: 'conflict', saved_card_not_found: 'not_found', refund_exceeds_captured: 'conflict' });

export function standInCatalog(skus: { sku: string; name: string; price: number; active?: boolean }[]): CatalogPort & { set(sku: string, patch: Partial<Omit<SkuView, 'currency'>> & { currency?: string }): void } {
  const map = new Map<string, SkuView>(skus.map((s) => [s.sku, { productId: `p-${s.sku}`, category: 'test', attributes: {}, currency: 'CLP', active: true, ...s }]));
  return {
    async getSkus(list) {
      return list.flatMap((sku) => (map.has(sku) ? [map.get(sku) as SkuView] : []));
    },
    set(sku, patch) {
      const v = map.get(sku);
      if (v) map.set(sku, { ...v, ...patch } as SkuView);
    },
  };
}

export async function standInInventory(db: Database, stock: Record<string, number>, clock: Clock = systemClock) {
  await db.query(`CREATE TABLE IF NOT EXISTS t_stock (sku text PRIMARY KEY, on_hand int NOT NULL, reserved int NOT NULL DEFAULT 0,
    CHECK (reserved >= 0 AND reserved <= on_hand))`);
  await db.query(`CREATE TABLE IF NOT EXISTS t_reservations (id uuid PRIMARY KEY, status text NOT NULL, lines jsonb NOT NULL, reference text, commits int NOT NULL DEFAULT 0)`);
  for (const [sku, n] of Object.entries(stock)) {
    await db.query('INSERT INTO t_stock (sku, on_hand) VALUES ($1, $2) ON CONFLICT (sku) DO UPDATE SET on_hand = $2, reserved = 0', [sku, n]);
  }
  type Line = { sku: string; quantity: number };
  const settle = async (tx: Db, id: string, to: 'committed' | 'released' | 'expired') => {
    const { rows } = await tx.query<{ status: string; lines: Line[] }>('SELECT status, lines FROM t_reservations WHERE id = $1 FOR UPDATE', [id]);
    const r = rows[0];
    if (!r) throw fail('reservation_expired', 'no such reservation');
    if (r.status === to) return;
    if (r.status !== 'active') {
      if (to === 'committed') throw fail('reservation_expired', `reservation is ${r.status}`);
      return;
    }
    for (const l of r.lines) {
      await tx.query(
        to === 'committed' ? 'UPDATE t_stock SET on_hand = on_hand - $2, reserved = reserved - $2 WHERE sku = $1' : 'UPDATE t_stock SET reserved = reserved - $2 WHERE sku = $1',
        [l.sku, l.quantity],
      );
    }
    await tx.query(`UPDATE t_reservations SET status = $2, commits = commits + $3 WHERE id = $1`, [id, to, to === 'committed' ? 1 : 0]);
  };
  const port: InventoryPort & { expire(id: string): Promise<void>; stock(sku: string): Promise<{ onHand: number; reserved: number }>; setStock(sku: string, n: number): Promise<void> } = {
    async reserve(input) {
      return db.transaction(async (tx) => {
        for (const l of [...input.lines].sort((a, b) => a.sku.localeCompare(b.sku))) {
          const { rowCount } = await tx.query('UPDATE t_stock SET reserved = reserved + $2 WHERE sku = $1 AND on_hand - reserved >= $2', [l.sku, l.quantity]);
          if (rowCount === 0) {
            const { rows } = await tx.query<{ available: number }>('SELECT on_hand - reserved AS available FROM t_stock WHERE sku = $1', [l.sku]);
            if (!rows[0]) throw fail('unknown_sku', `unknown ${l.sku}`, { sku: l.sku });
            throw fail('insufficient_stock', `only ${rows[0].available} of ${l.sku}`, { sku: l.sku, requested: l.quantity, available: rows[0].available });
          }
        }
        const id = randomUUID();
        await tx.query(`INSERT INTO t_reservations (id, status, lines, reference) VALUES ($1, 'active', $2, $3)`, [id, JSON.stringify(input.lines), input.reference ?? null]);
        return { id, status: 'active' as const, expiresAt: new Date(clock.now().getTime() + (input.ttlSeconds ?? 900) * 1000), allocations: [] };
      });
    },
    commit: (id) => db.transaction((tx) => settle(tx, id, 'committed')),
    release: (id) => db.transaction((tx) => settle(tx, id, 'released')),
    expire: (id) => db.transaction((tx) => settle(tx, id, 'expired')),
    async stock(sku) {
      const { rows } = await db.query<{ on_hand: number; reserved: number }>('SELECT on_hand, reserved FROM t_stock WHERE sku = $1', [sku]);
      return { onHand: rows[0]?.on_hand ?? 0, reserved: rows[0]?.reserved ?? 0 };
    },
    async setStock(sku, n) {
      await db.query('UPDATE t_stock SET on_hand = reserved + $2 WHERE sku = $1', [sku, n]);
    },
  };
  return port;
}

/**
 * Payments as checkout sees it: oneclick answers at once (card "card-declined" is rejected),
 * webpay redirects, Mercado Pago cash stays pending. Outcomes are published to the outbox
 * like the real payments context does; refunds publish refund_succeeded.
 */
export function standInPayments(db: Database) {
  const started: StartPaymentInput[] = [];
  const refunds: { orderId: string; amount: number; reason: string; key?: string }[] = [];
  /** Approved amount per order (approved through this stand-in): refunds beyond it are refused, as payments refuses them. */
  const captured = new Map<string, number>();
  const publish = (type: string, payload: Record<string, unknown>) =>
    db.transaction(async (tx) => {
      await appendEvents(tx, [{ type, version: 1, aggregateType: 'payment_attempt', aggregateId: String(payload.attemptId ?? payload.refundId), payload }]);
    });
  const port: PaymentsPort & { started: typeof started; refunds: typeof refunds; approve(orderId: string, attemptId: string, amount: number): Promise<void> } = {
    started,
    refunds,
    async startPayment(input): Promise<StartPaymentResult> {
      started.push(input);
      const attemptId = randomUUID();
      switch (input.method) {
        case 'oneclick':
          if (input.savedCardId === 'card-missing') throw fail('saved_card_not_found', 'no such saved card');
          if (input.savedCardId === 'card-declined') {
            await publish('payments.payment_rejected', { attemptId, orderId: input.orderId, reason: 'declined' });
            return { attemptId, status: 'rejected', reason: 'declined' };
          }
          captured.set(input.orderId, input.amount);
          await publish('payments.payment_approved', { attemptId, orderId: input.orderId, amount: input.amount, currency: 'CLP', method: 'oneclick', processor: 'transbank', processorRef: 'x' });
          return { attemptId, status: 'approved' };
        case 'webpay':
          return { attemptId, status: 'redirect', redirect: { url: 'http://sim/webpay', token: `tok-${attemptId}`, method: 'POST', field: 'token_ws' } };
        case 'mercadopago_card':
        case 'mercadopago_cash':
          await publish('payments.payment_pending', { attemptId, orderId: input.orderId, method: input.method });
          return { attemptId, status: 'pending' };
      }
    },
    async refund(input) {
      // The contract checkout relies on: a repeated key gets its first refund back; a refund
      // beyond what was captured is refused.
      const first = input.key === undefined ? undefined : refunds.find((r) => r.orderId === input.orderId && r.key === input.key);
      if (first) return { ok: true, repeated: true };
      const standing = refunds.filter((r) => r.orderId === input.orderId).reduce((sum, r) => sum + r.amount, 0);
      const cap = captured.get(input.orderId); // unknown when a test approved it with a made-up event
      if (cap !== undefined && standing + input.amount > cap) throw fail('refund_exceeds_captured', 'refunds would exceed the captured amount');
      refunds.push(input);
      await publish('payments.refund_succeeded', { orderId: input.orderId, amount: input.amount, refundId: randomUUID(), attemptId: 'a', refundType: 'NULLIFIED' });
      return { ok: true };
    },
    approve: (orderId, attemptId, amount) =>
      (captured.set(orderId, amount), publish('payments.payment_approved', { attemptId, orderId, amount, currency: 'CLP', method: 'webpay', processor: 'transbank', processorRef: 'y' })),
  };
  return port;
}

/** Delivers outbox events of the given types to a handler once each (a minimal bus with an inbox). */
export async function deliver(db: Database, handle: (tx: Db, e: EventEnvelope) => Promise<void>, prefix = 'payments.'): Promise<number> {
  await db.query('CREATE TABLE IF NOT EXISTS t_inbox (event_id uuid PRIMARY KEY)');
  const { rows } = await db.query<{ id: number; event_id: string; type: string; version: number; context: string; aggregate_type: string; aggregate_id: string; payload: unknown; occurred_at: Date }>(
    `SELECT * FROM events_outbox o WHERE type LIKE $1 AND NOT EXISTS (SELECT 1 FROM t_inbox i WHERE i.event_id = o.event_id) ORDER BY id`,
    [`${prefix}%`],
  );
  let n = 0;
  for (const r of rows) {
    await db.transaction(async (tx) => {
      const { rowCount } = await tx.query('INSERT INTO t_inbox VALUES ($1) ON CONFLICT DO NOTHING', [r.event_id]);
      if (rowCount === 0) return;
      await handle(tx, envelope(r));
      n++;
    });
  }
  return n;
}

export function envelope(r: { id: number; event_id: string; type: string; version: number; context: string; aggregate_type: string; aggregate_id: string; payload: unknown; occurred_at: Date }): EventEnvelope {
  return { seq: r.id, id: r.event_id, type: r.type, version: r.version, context: r.context, aggregateType: r.aggregate_type, aggregateId: r.aggregate_id, payload: r.payload, occurredAt: r.occurred_at };
}

export function fakeEnvelope(type: string, payload: unknown): EventEnvelope {
  return { seq: 0, id: randomUUID(), type, version: 1, context: type.split('.')[0] ?? '', aggregateType: 'payment_attempt', aggregateId: 'x', payload, occurredAt: new Date() };
}
