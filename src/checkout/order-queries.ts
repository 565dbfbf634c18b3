import { isUuid, type Database } from '../platform/db.js';
import { groupCommit } from '../platform/group-commit.js';
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
export function createOrderQueries(db: Database) {
  // The polled status of concurrent clients in one read per batch (every live order polls it).
  // A batch's snapshot is taken after each of its reads was asked for: none sees an older row
  // than one read on its own would.
  const statusRows = groupCommit(async (ids: string[]) => {
    const rows = new Map((await store.findStatuses(db, ids)).map((r) => [r.order_id, r]));
    return ids.map((id) => rows.get(id.toLowerCase()));
  }, { maxInFlight: 4 });
  const findStatus = (orderId: string) => (isUuid(orderId) ? statusRows(orderId) : Promise.resolve(undefined));
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
      return statusView(await findStatus(orderId), customerId);
    },

    /**
     * The polled status, served from a replica when one has replayed at least `after` (the
     * position the client last saw) or else from the primary; returns the position the client
     * has now seen, so it never sees an older status than one it was shown. An order a replica
     * does not have yet (placed a moment ago) is read on the primary.
     */
    async consistentStatus(orderId: string, customerId: string, after?: string): Promise<{ view: OrderStatusView; position?: string }> {
      // No replicas: everything is read on the primary, one cheap query (the hot poll).
      if (db.topology().replicas.length === 0) return { view: statusView(await findStatus(orderId), customerId) };
      const read = await db.consistentRead((tx) => store.findStatus(tx, orderId), after === undefined ? {} : { after });
      if (read.value) return { view: statusView(read.value, customerId), position: read.position };
      const onPrimary = await db.transaction(async (tx) => ({
        row: await store.findStatus(tx, orderId),
        position: (await tx.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]?.lsn ?? read.position,
      }));
      return { view: statusView(onPrimary.row, customerId), position: onPrimary.position };
    },
  };
}

export type OrderQueries = ReturnType<typeof createOrderQueries>;

function statusView(row: store.StatusRow | undefined, customerId?: string): OrderStatusView {
  if (!row || (customerId !== undefined && row.customer_id !== customerId)) throw checkoutError('order_not_found', 'no such order');
  return {
    orderId: row.order_id, status: row.status, paymentStatus: row.payment_status, total: row.total, currency: row.currency,
    next: row.next_action ?? null, version: row.version, updatedAt: row.updated_at.toISOString(),
  };
}

function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || !/^[0-9a-f-]{36}$/.test(id) || Number.isNaN(createdAt.getTime())) throw checkoutError('invalid_cursor', 'bad cursor');
  return { createdAt, id };
}
