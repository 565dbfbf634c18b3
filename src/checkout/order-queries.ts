import type { Db } from '../platform/db.js';
import type { OrderStatus } from './domain/order-state.js';
import { checkoutError } from './errors.js';
import * as store from './store.js';

export interface OrderView {
  id: string;
  customerId: string;
  status: OrderStatus;
  currency: 'CLP';
  subtotal: number;
  shipping: number;
  total: number;
  refundedAmount: number;
  paymentMethod: string;
  paymentAttemptId: string | null;
  delivery: store.Delivery;
  lines: { sku: string; name: string; quantity: number; unitPrice: number; lineTotal: number }[];
  createdAt: string;
  updatedAt: string;
  history?: { from: OrderStatus | null; to: OrderStatus; reason: string; at: string }[];
}

export interface OrderStatusView {
  orderId: string;
  status: OrderStatus;
  paymentStatus: string | null;
  total: number;
  currency: string;
  next: unknown;
  version: number;
  updatedAt: string;
}

/** Read side of orders: single orders, lists with keyset cursors, the polled status row. */
export function createOrderQueries(db: Db) {
  const toView = (o: store.OrderRow, lines: store.OrderLineRow[]): OrderView => ({
    id: o.id, customerId: o.customer_id, status: o.status, currency: o.currency, subtotal: o.subtotal, shipping: o.shipping,
    total: o.total, refundedAmount: o.refunded_amount, paymentMethod: o.payment_method, paymentAttemptId: o.payment_attempt_id,
    delivery: o.delivery,
    lines: lines.map((l) => ({ sku: l.sku, name: l.name, quantity: l.quantity, unitPrice: l.unit_price, lineTotal: l.line_total })),
    createdAt: o.created_at.toISOString(), updatedAt: o.updated_at.toISOString(),
  });

  return {
    /** An order with lines and history; `customerId` limits it to its owner. */
    async getOrder(id: string, customerId?: string): Promise<OrderView> {
      const o = await store.findOrder(db, id);
      if (!o || (customerId !== undefined && o.customer_id !== customerId)) throw checkoutError('order_not_found', 'no such order');
      const [lines, history] = await Promise.all([store.orderLines(db, id), store.transitions(db, id)]);
      return {
        ...toView(o, lines),
        history: history.map((t) => ({ from: t.from_status, to: t.to_status, reason: t.reason, at: t.occurred_at.toISOString() })),
      };
    },

    async listOrders(filter: Omit<store.OrderFilter, 'before'> & { cursor?: string | undefined }): Promise<{ orders: OrderView[]; nextCursor: string | null }> {
      const before = filter.cursor ? decodeCursor(filter.cursor) : undefined;
      const rows = await store.listOrders(db, { ...filter, ...(before ? { before } : {}) });
      const lines = await Promise.all(rows.map((r) => store.orderLines(db, r.id)));
      const last = rows.at(-1);
      return {
        orders: rows.map((r, i) => toView(r, lines[i] ?? [])),
        nextCursor: last && rows.length === filter.limit ? encodeCursor(last.created_at, last.id) : null,
      };
    },

    async status(orderId: string, customerId?: string): Promise<OrderStatusView> {
      const row = await store.findStatus(db, orderId);
      if (!row || (customerId !== undefined && row.customer_id !== customerId)) throw checkoutError('order_not_found', 'no such order');
      return {
        orderId: row.order_id, status: row.status, paymentStatus: row.payment_status, total: row.total, currency: row.currency,
        next: row.next_action ?? null, version: row.version, updatedAt: row.updated_at.toISOString(),
      };
    },
  };
}

export type OrderQueries = ReturnType<typeof createOrderQueries>;

function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || !/^[0-9a-f-]{36}$/.test(id) || Number.isNaN(createdAt.getTime())) throw checkoutError('invalid_cursor', 'bad cursor');
  return { createdAt, id };
}
