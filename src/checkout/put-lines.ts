import { prepared, type Db } from '../platform/db.js';
import type { PutLineResult } from './store.js';

/** One line change for {@link putLines}: as store.putLine takes it, limits aside. */
export interface PutLineInput {
  cartId: string;
  customerId: string;
  sku: string;
  quantity: number;
  add: boolean;
}

/**
 * store.putLine for several carts in one statement (each cart at most once): locks the carts'
 * rows (in id order, so two batches cannot deadlock), checks each one's limits, upserts its
 * line, bumps it and returns its lines; answers in input order, undefined for a cart that is
 * not the customer's. Per cart it decides and writes exactly what putLine would (`fresh`
 * false: another change committed while it waited for the cart's lock, nothing written).
 */
export async function putLines(
  db: Db, inputs: readonly PutLineInput[], limits: { maxQuantity: number; maxLines: number }, now: Date,
): Promise<(PutLineResult | undefined)[]> {
  const { rows } = await db.query<{
    cart_id: string; status: PutLineResult['status']; order_id: string | null; fresh: boolean; current: number; n: number; next: number;
    written: boolean; sku: string | null; quantity: number | null;
  }>(prepared(
    `WITH input AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::boolean[]) AS t(cart_id, customer_id, sku, quantity, add)),
     locked AS (
       SELECT c.id, c.status, c.order_id, c.xmin AS v FROM carts c
        WHERE (c.id, c.customer_id) IN (SELECT cart_id, customer_id FROM input) ORDER BY c.id FOR UPDATE),
     seen AS (SELECT c.id, c.xmin AS v FROM carts c WHERE c.id IN (SELECT cart_id FROM input)),
     plan AS (
       SELECT l.id, i.sku, l.status, l.order_id, l.v = s.v AS fresh, q.current, q.n,
              CASE WHEN i.add THEN q.current + i.quantity ELSE i.quantity END AS next
         FROM locked l JOIN input i ON i.cart_id = l.id JOIN seen s ON s.id = l.id
         CROSS JOIN LATERAL (
           SELECT coalesce(max(cl.quantity) FILTER (WHERE cl.sku = i.sku), 0)::int AS current, count(*)::int AS n
             FROM cart_lines cl WHERE cl.cart_id = l.id) q),
     ok AS (SELECT * FROM plan WHERE fresh AND status = 'open' AND next <= $7 AND (current > 0 OR n < $8)),
     upserted AS (
       INSERT INTO cart_lines (cart_id, sku, quantity, added_at) SELECT id, sku, next, $6 FROM ok
       ON CONFLICT (cart_id, sku) DO UPDATE SET quantity = EXCLUDED.quantity
       RETURNING cart_id, sku, quantity, added_at),
     bumped AS (UPDATE carts c SET updated_at = $6 FROM ok WHERE c.id = ok.id RETURNING c.id)
     SELECT p.id AS cart_id, p.status, p.order_id, p.fresh, p.current, p.n, p.next, p.id IN (SELECT id FROM bumped) AS written, l.sku, l.quantity
       FROM plan p LEFT JOIN LATERAL (
         SELECT cl.sku, cl.quantity, cl.added_at FROM cart_lines cl WHERE cl.cart_id = p.id AND cl.sku <> p.sku AND p.id IN (SELECT id FROM ok)
         UNION ALL SELECT u.sku, u.quantity, u.added_at FROM upserted u WHERE u.cart_id = p.id) l ON true
      ORDER BY p.id, l.added_at, l.sku`),
    [inputs.map((i) => i.cartId), inputs.map((i) => i.customerId), inputs.map((i) => i.sku), inputs.map((i) => i.quantity), inputs.map((i) => i.add),
      now, limits.maxQuantity, limits.maxLines],
  );
  const byCart = new Map<string, PutLineResult>();
  for (const r of rows) {
    let out = byCart.get(r.cart_id);
    if (!out) {
      out = { status: r.status, orderId: r.order_id, fresh: r.fresh, current: r.current, lineCount: r.n, next: r.next, written: r.written, lines: [] };
      byCart.set(r.cart_id, out);
    }
    if (r.sku !== null && r.quantity !== null) out.lines.push({ sku: r.sku, quantity: r.quantity });
  }
  return inputs.map((i) => byCart.get(i.cartId.toLowerCase()));
}
