import { outboxInsert, outboxWaker, type NewEvent } from '../events/index.js';
import { prepared, type Db } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import type { PricedLine } from './domain/totals.js';
import { ORDER_EVENT_TYPE, OrderEventV1 } from './events.js';
import type { OrderRow } from './store.js';

/** A new order as checkout hands it over: the row, its priced lines. */
export interface OrderDraft {
  order: OrderRow;
  lines: PricedLine[];
}

interface Pending {
  draft: OrderDraft;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Group commit for placing orders. Concurrent checkouts queue their new order; one
 * statement writes a whole batch (orders, lines, first transition, status rows, carts
 * marked checked out, one `checkout.order_placed` event each), and each caller is answered
 * once it has committed. If a batch fails, its
 * orders are retried one by one so one bad draft cannot fail the others.
 */
export function orderWriter(db: Db, logger: Logger, options: { maxBatch?: number; maxInFlight?: number } = {}) {
  const maxBatch = options.maxBatch ?? 128;
  const maxInFlight = options.maxInFlight ?? 2;
  const queue: Pending[] = [];
  let inFlight = 0;
  // Each batch wakes the consumers after its commit instead of a NOTIFY inside it: notifying
  // commits queue behind each other's flush, this one need not.
  const wake = outboxWaker(db);
  const write = async (drafts: OrderDraft[]) => {
    await writeOrders(db, drafts);
    wake();
  };

  const pump = () => {
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = queue.splice(0, maxBatch);
      inFlight++;
      void run(batch).finally(() => {
        inFlight--;
        pump();
      });
    }
  };

  const run = async (batch: Pending[]) => {
    try {
      await write(batch.map((p) => p.draft));
      for (const p of batch) p.resolve();
    } catch (err) {
      if (batch.length === 1) {
        batch[0]?.reject(err);
        return;
      }
      logger.warn({ err, size: batch.length }, 'order batch failed; placing its orders one by one');
      for (const p of batch) {
        try {
          await write([p.draft]);
          p.resolve();
        } catch (e) {
          p.reject(e);
        }
      }
    }
  };

  return {
    /** Resolves once the order, its first transition and its event are committed. */
    place(draft: OrderDraft): Promise<void> {
      return new Promise((resolve, reject) => {
        queue.push({ draft, resolve, reject });
        pump();
      });
    },
  };
}

/**
 * Writes new orders in `pending_payment` with everything that goes with them in one
 * statement (data-modifying CTEs; the foreign keys are checked at its end): one round trip
 * for every row of the batch, atomic on its own (no BEGIN/COMMIT round trips). The caller
 * wakes the outbox consumers after it.
 */
export async function writeOrders(db: Db, drafts: OrderDraft[]): Promise<void> {
  const o = drafts.map((d) => d.order);
  const lines = drafts.flatMap((d) => d.lines.map((l) => ({ orderId: d.order.id, ...l })));
  const events: NewEvent[] = drafts.map(({ order, lines: ls }) => ({
    type: ORDER_EVENT_TYPE.pending_payment,
    version: 1,
    aggregateType: 'order',
    aggregateId: order.id,
    occurredAt: order.created_at,
    payload: OrderEventV1.parse({
      orderId: order.id, customerId: order.customer_id, status: 'pending_payment', previousStatus: null, reason: 'placed',
      currency: 'CLP', subtotal: order.subtotal, shipping: order.shipping, total: order.total, refundedAmount: 0,
      paymentMethod: order.payment_method, paymentAttemptId: null,
      lines: ls.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPrice: l.unitPrice })),
      delivery: { comuna: order.delivery.comuna, region: order.delivery.region, regionCode: order.delivery.regionCode },
      placedAt: order.created_at.toISOString(), occurredAt: order.created_at.toISOString(),
    }),
  }));
  const params: unknown[] = [
    o.map((x) => x.id), o.map((x) => x.customer_id), o.map((x) => x.cart_id), o.map((x) => x.subtotal), o.map((x) => x.shipping),
    o.map((x) => x.total), o.map((x) => x.payment_method), o.map((x) => x.reservation_id), o.map((x) => x.reservation_expires_at),
    o.map((x) => JSON.stringify(x.delivery)), o.map((x) => x.created_at),
    lines.map((l) => l.orderId), lines.map((l) => l.sku), lines.map((l) => l.name), lines.map((l) => l.quantity),
    lines.map((l) => l.unitPrice), lines.map((l) => l.lineTotal),
  ];
  const outbox = outboxInsert(events, params.length + 1);
  await db.query(prepared(
    `WITH o AS (
       INSERT INTO orders (id, customer_id, cart_id, status, currency, subtotal, shipping, total, payment_method,
         reservation_id, reservation_expires_at, delivery, created_at, updated_at)
       SELECT id, customer_id, cart_id, 'pending_payment', 'CLP', subtotal, shipping, total, method, reservation_id, expires_at, delivery, created_at, created_at
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::int[], $6::int[], $7::text[], $8::text[], $9::timestamptz[], $10::jsonb[], $11::timestamptz[])
         AS t(id, customer_id, cart_id, subtotal, shipping, total, method, reservation_id, expires_at, delivery, created_at)
       RETURNING id, customer_id, cart_id, total, created_at
     ), l AS (
       INSERT INTO order_lines (order_id, sku, name, quantity, unit_price, line_total)
       SELECT * FROM unnest($12::uuid[], $13::text[], $14::text[], $15::int[], $16::int[], $17::int[])
     ), t AS (
       INSERT INTO order_transitions (order_id, from_status, to_status, reason, cause, occurred_at)
       SELECT id, NULL, 'pending_payment', 'placed', 'cart:' || cart_id, created_at FROM o
     ), s AS (
       INSERT INTO checkout_order_status (order_id, customer_id, status, total, currency, version, updated_at)
       SELECT id, customer_id, 'pending_payment', total, 'CLP', 1, created_at FROM o
     ), c AS (
       UPDATE carts SET status = 'checked_out', updated_at = now() WHERE id = ANY($3::uuid[])
     )
     ${outbox.sql}`),
    [...params, ...outbox.params],
  );
  outbox.appended();
}
