import type { DeliveryAddress } from '../customers/index.js';
import { prepared, queryScript, sqlArray, sqlLiteral, type Db } from '../platform/db.js';
import type { OrderStatus } from './domain/order-state.js';

export interface CartRow {
  id: string;
  customer_id: string;
  status: 'open' | 'checking_out' | 'checked_out';
  order_id: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface OrderRow {
  id: string;
  customer_id: string;
  cart_id: string;
  status: OrderStatus;
  currency: 'CLP';
  subtotal: number;
  shipping: number;
  total: number;
  refunded_amount: number;
  payment_method: string;
  payment_attempt_id: string | null;
  reservation_id: string;
  reservation_expires_at: Date;
  delivery: Delivery;
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** The address snapshot an order keeps (the customer may edit or delete theirs later). */
export type Delivery = DeliveryAddress;

export interface OrderLineRow {
  sku: string;
  name: string;
  quantity: number;
  unit_price: number;
  line_total: number;
}

export interface StatusRow {
  order_id: string;
  customer_id: string;
  status: OrderStatus;
  total: number;
  currency: string;
  payment_status: string | null;
  next_action: unknown;
  version: number;
  updated_at: Date;
}

type R<T> = T & Record<string, unknown>;

// ── carts ────────────────────────────────────────────────────────────────────────────────

/** New open carts, in one statement; answered in the order given. */
export async function insertCarts(db: Db, carts: readonly { id: string; customerId: string; now: Date }[]): Promise<CartRow[]> {
  const { rows } = await db.query<R<CartRow>>(
    prepared(`INSERT INTO carts (id, customer_id, status, created_at, updated_at)
       SELECT id, customer_id, 'open', now, now FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS t(id, customer_id, now)
       RETURNING *`),
    [carts.map((c) => c.id), carts.map((c) => c.customerId), carts.map((c) => c.now)],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  return carts.map((c) => byId.get(c.id) as CartRow);
}

export async function findCart(db: Db, id: string, lock = false): Promise<CartRow | undefined> {
  const { rows } = await db.query<R<CartRow>>(`SELECT * FROM carts WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0];
}

/** A cart and its lines (in the order they were added), in one read; undefined when absent. */
export async function findCartWithLines(db: Db, id: string): Promise<{ cart: CartRow; lines: CartLine[] } | undefined> {
  const { rows } = await db.query<R<CartRow> & { sku: string | null; quantity: number | null }>(prepared(
    `SELECT c.*, l.sku, l.quantity FROM carts c LEFT JOIN cart_lines l ON l.cart_id = c.id WHERE c.id = $1 ORDER BY l.added_at, l.sku`),
    [id],
  );
  const first = rows[0];
  if (!first) return undefined;
  const { sku: _sku, quantity: _quantity, ...cart } = first;
  return { cart, lines: rows.flatMap((r) => (r.sku !== null && r.quantity !== null ? [{ sku: r.sku, quantity: r.quantity }] : [])) };
}

export type CartLine = { sku: string; quantity: number };

/** What {@link putLine} saw and did. */
export interface PutLineResult {
  status: CartRow['status'];
  orderId: string | null;
  /**
   * False when another change to the cart committed after this statement's snapshot was
   * taken (it waited for that change's lock): `current`, `lineCount` and `lines` may be
   * stale and nothing was written. Run it again holding the cart's lock.
   */
  fresh: boolean;
  /** The line's quantity before, 0 when the cart had no such line. */
  current: number;
  /** Lines in the cart before. */
  lineCount: number;
  /** The quantity asked for the line: `current + quantity` when adding. */
  next: number;
  /** The cart's lines after the change (in the order they were added); [] when nothing was written. */
  lines: CartLine[];
  written: boolean;
}

/**
 * Adds units to (or sets) one line of an open cart of the customer, in one statement: locks
 * the cart row, checks the limits, upserts the line, bumps the cart and returns its lines.
 * Writes nothing when the cart is not the customer's (undefined), not open, over a limit or
 * `fresh` is false. Every writer of cart_lines updates its cart row in the same transaction,
 * so an unchanged cart row version (xmin) since the snapshot means the lines read are current.
 */
export async function putLine(
  db: Db,
  p: { cartId: string; customerId: string; sku: string; quantity: number; add: boolean; maxQuantity: number; maxLines: number; now: Date },
): Promise<PutLineResult | undefined> {
  const { rows } = await db.query<{
    status: CartRow['status']; order_id: string | null; fresh: boolean; current: number; n: number; next: number;
    written: boolean; sku: string | null; quantity: number | null;
  }>(prepared(
    `WITH locked AS (
       SELECT id, status, order_id, xmin AS v FROM carts WHERE id = $1 AND customer_id = $2 FOR UPDATE),
     seen AS (SELECT xmin AS v FROM carts WHERE id = $1),
     plan AS (
       SELECT l.id, l.status, l.order_id, l.v = s.v AS fresh, q.current, q.n,
              CASE WHEN $5::boolean THEN q.current + $4::int ELSE $4::int END AS next
         FROM locked l CROSS JOIN seen s CROSS JOIN LATERAL (
           SELECT coalesce(max(quantity) FILTER (WHERE sku = $3), 0)::int AS current, count(*)::int AS n
             FROM cart_lines WHERE cart_id = $1) q),
     ok AS (SELECT * FROM plan WHERE fresh AND status = 'open' AND next <= $7 AND (current > 0 OR n < $8)),
     upserted AS (
       INSERT INTO cart_lines (cart_id, sku, quantity, added_at) SELECT id, $3, next, $6 FROM ok
       ON CONFLICT (cart_id, sku) DO UPDATE SET quantity = EXCLUDED.quantity
       RETURNING sku, quantity, added_at),
     bumped AS (UPDATE carts c SET updated_at = $6 FROM ok WHERE c.id = ok.id RETURNING c.id)
     SELECT p.status, p.order_id, p.fresh, p.current, p.n, p.next, EXISTS (SELECT 1 FROM bumped) AS written, l.sku, l.quantity
       FROM plan p LEFT JOIN (
         SELECT sku, quantity, added_at FROM cart_lines WHERE cart_id = $1 AND sku <> $3 AND EXISTS (SELECT 1 FROM ok)
         UNION ALL SELECT sku, quantity, added_at FROM upserted) l ON true
      ORDER BY l.added_at, l.sku`),
    [p.cartId, p.customerId, p.sku, p.quantity, p.add, p.now, p.maxQuantity, p.maxLines],
  );
  const first = rows[0];
  if (!first) return undefined;
  return {
    status: first.status, orderId: first.order_id, fresh: first.fresh, current: first.current, lineCount: first.n, next: first.next,
    written: first.written,
    lines: rows.flatMap((r) => (r.sku !== null && r.quantity !== null ? [{ sku: r.sku, quantity: r.quantity }] : [])),
  };
}

export async function deleteLine(db: Db, cartId: string, sku: string, now: Date): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM cart_lines WHERE cart_id = $1 AND sku = $2', [cartId, sku]);
  await db.query('UPDATE carts SET updated_at = $2 WHERE id = $1', [cartId, now]);
  return (rowCount ?? 0) > 0;
}

/** Moves an open cart to checking_out for one order; undefined when it was not open. */
/**
 * Claims several carts for checkout and returns the lines of each claimed cart (a claimed
 * cart with no lines maps to []). Carts not claimed (not open, not the customer's) are absent.
 * Each cart must appear once. One round trip, two statements in one implicit transaction: the
 * lines are read by the second statement, whose snapshot is taken after the claim holds the
 * carts' row locks, so a line added while the claim waited for such a lock is in the order
 * (read in the claim's own statement, its snapshot from before the wait, it was left out while
 * the add answered 201). A line add after the claim finds the cart no longer open.
 * The claim does not wait for its WAL flush (synchronous_commit off): the checkout answers
 * only after later commits that wait for theirs, which covers the claim's (the WAL is flushed
 * in order); a crash in between loses the claim with the order it was for.
 */
export async function claimCarts(
  db: Db, claims: { cartId: string; customerId: string; orderId: string }[], now: Date,
): Promise<Map<string, { sku: string; quantity: number }[]>> {
  const ids = sqlArray(claims.map((c) => c.cartId), 'uuid');
  const [claimed, lines] = await queryScript(db, [
    `SELECT set_config('synchronous_commit', 'off', true)`,
    `UPDATE carts c SET status = 'checking_out', order_id = t.order_id, updated_at = ${sqlLiteral(now.toISOString())}::timestamptz
       FROM unnest(${ids}, ${sqlArray(claims.map((c) => c.customerId), 'uuid')}, ${sqlArray(claims.map((c) => c.orderId), 'uuid')}) AS t(id, customer_id, order_id)
      WHERE c.id = t.id AND c.customer_id = t.customer_id AND c.status = 'open'
     RETURNING c.id`,
    `SELECT l.cart_id AS id, l.sku, l.quantity FROM cart_lines l
       JOIN carts c ON c.id = l.cart_id AND c.status = 'checking_out'
      WHERE l.cart_id = ANY(${ids}) ORDER BY l.cart_id, l.added_at, l.sku`,
  ]).then((r) => r.slice(1));
  const out = new Map<string, { sku: string; quantity: number }[]>();
  for (const r of (claimed?.rows ?? []) as { id: string }[]) out.set(r.id, []);
  for (const r of (lines?.rows ?? []) as { id: string; sku: string; quantity: number }[]) out.get(r.id)?.push({ sku: r.sku, quantity: r.quantity });
  return out;
}

/** Reopens carts whose checkout failed before its order existed (each only while still claimed for that order). */
export async function reopenCarts(db: Db, carts: readonly { cartId: string; orderId: string }[], now: Date): Promise<void> {
  await db.query(
    prepared(`UPDATE carts c SET status = 'open', order_id = NULL, updated_at = $3
       FROM unnest($1::uuid[], $2::uuid[]) AS t(id, order_id)
      WHERE c.id = t.id AND c.order_id = t.order_id AND c.status = 'checking_out'`),
    [carts.map((c) => c.cartId), carts.map((c) => c.orderId), now],
  );
}

// ── orders ───────────────────────────────────────────────────────────────────────────────

export async function findOrder(db: Db, id: string, lock = false): Promise<OrderRow | undefined> {
  const { rows } = await db.query<R<OrderRow>>(`SELECT * FROM orders WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0];
}

export async function orderLines(db: Db, orderId: string): Promise<OrderLineRow[]> {
  const { rows } = await db.query<R<OrderLineRow>>(
    'SELECT sku, name, quantity, unit_price, line_total FROM order_lines WHERE order_id = $1 ORDER BY sku',
    [orderId],
  );
  return rows;
}

export async function updateOrderState(
  db: Db,
  o: { id: string; status: OrderStatus; paymentAttemptId: string | null; refundedAmount: number; reservationId?: string; now: Date },
): Promise<number> {
  const { rows } = await db.query<{ version: number }>(
    `UPDATE orders SET status = $2, payment_attempt_id = $3, refunded_amount = $4,
       reservation_id = coalesce($5, reservation_id), version = version + 1, updated_at = $6
     WHERE id = $1 RETURNING version`,
    [o.id, o.status, o.paymentAttemptId, o.refundedAmount, o.reservationId ?? null, o.now],
  );
  return rows[0]?.version ?? 0;
}

export async function insertTransition(
  db: Db,
  t: { orderId: string; from: OrderStatus | null; to: OrderStatus; reason: string; cause: string | null; now: Date },
): Promise<void> {
  await db.query(
    'INSERT INTO order_transitions (order_id, from_status, to_status, reason, cause, occurred_at) VALUES ($1, $2, $3, $4, $5, $6)',
    [t.orderId, t.from, t.to, t.reason, t.cause, t.now],
  );
}

export async function transitions(db: Db, orderId: string) {
  const { rows } = await db.query<{ from_status: OrderStatus | null; to_status: OrderStatus; reason: string; cause: string | null; occurred_at: Date }>(
    'SELECT from_status, to_status, reason, cause, occurred_at FROM order_transitions WHERE order_id = $1 ORDER BY id',
    [orderId],
  );
  return rows;
}

export async function setStatusView(db: Db, orderId: string, status: OrderStatus, now: Date, paymentStatus?: string): Promise<void> {
  await db.query(
    prepared(`UPDATE checkout_order_status SET status = $2, version = version + 1, updated_at = $3,
       payment_status = coalesce($4, payment_status),
       next_action = CASE WHEN $2 = 'pending_payment' THEN next_action ELSE NULL END
     WHERE order_id = $1`),
    [orderId, status, now, paymentStatus ?? null],
  );
}

/** The payment part of several pending orders' status rows, in one statement (each order at most once). */
export async function setPaymentViews(db: Db, views: readonly { orderId: string; paymentStatus: string; nextAction: unknown }[], now: Date): Promise<void> {
  await db.query(
    prepared(`UPDATE checkout_order_status s SET payment_status = t.payment_status, next_action = t.next_action, version = s.version + 1, updated_at = $4
       FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS t(order_id, payment_status, next_action)
      WHERE s.order_id = t.order_id AND s.status = 'pending_payment'`),
    [views.map((v) => v.orderId), views.map((v) => v.paymentStatus), views.map((v) => (v.nextAction === null ? null : JSON.stringify(v.nextAction))), now],
  );
}

export async function findStatus(db: Db, orderId: string): Promise<StatusRow | undefined> {
  const { rows } = await db.query<R<StatusRow>>(prepared('SELECT * FROM checkout_order_status WHERE order_id = $1'), [orderId]);
  return rows[0];
}

/** Several orders' status rows in one read (order ids must be UUIDs). */
export async function findStatuses(db: Db, orderIds: readonly string[]): Promise<StatusRow[]> {
  const { rows } = await db.query<R<StatusRow>>(prepared('SELECT * FROM checkout_order_status WHERE order_id = ANY($1::uuid[])'), [orderIds]);
  return rows;
}

export async function insertRefund(db: Db, r: { refundId: string; orderId: string; amount: number; now: Date }): Promise<boolean> {
  const { rowCount } = await db.query(
    'INSERT INTO order_refunds (refund_id, order_id, amount, applied_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
    [r.refundId, r.orderId, r.amount, r.now],
  );
  return (rowCount ?? 0) > 0;
}

export async function duePendingOrders(db: Db, now: Date, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM orders WHERE status = 'pending_payment' AND reservation_expires_at < $1 ORDER BY reservation_expires_at LIMIT $2`,
    [now, limit],
  );
  return rows.map((r) => r.id);
}

export interface OrderFilter {
  customerId?: string;
  status?: OrderStatus;
  from?: Date;
  to?: Date;
  comuna?: string;
  limit: number;
  /** Keyset cursor: orders created strictly before this (created_at, id). */
  before?: { createdAt: Date; id: string };
}

export async function listOrders(db: Db, f: OrderFilter): Promise<OrderRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (f.customerId) add('customer_id = ?', f.customerId);
  if (f.status) add('status = ?', f.status);
  if (f.from) add('created_at >= ?', f.from);
  if (f.to) add('created_at < ?', f.to);
  if (f.comuna) add(`delivery->>'comuna' = ?`, f.comuna);
  if (f.before) {
    params.push(f.before.createdAt, f.before.id);
    where.push(`(created_at, id) < ($${params.length - 1}, $${params.length})`);
  }
  params.push(f.limit);
  const { rows } = await db.query<R<OrderRow>>(
    `SELECT * FROM orders ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  return rows;
}

/** The stock reservation taken again for an order's late approval, if one was recorded. */
export async function lateReservation(db: Db, orderId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ reservation_id: string }>('SELECT reservation_id FROM checkout_late_reservations WHERE order_id = $1', [orderId]);
  return rows[0]?.reservation_id;
}

/** Records (or replaces, when the earlier one lapsed unsold) an order's late-approval reservation. */
export async function recordLateReservation(db: Db, orderId: string, reservationId: string, now: Date): Promise<void> {
  await db.query(
    `INSERT INTO checkout_late_reservations (order_id, reservation_id, created_at) VALUES ($1, $2, $3)
     ON CONFLICT (order_id) DO UPDATE SET reservation_id = EXCLUDED.reservation_id, created_at = EXCLUDED.created_at`,
    [orderId, reservationId, now],
  );
}
