import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The SQL of one checkout in one transaction, as pgbench runs it: session lookup, the
 * idempotency key, catalog prices, the stock reservation of three lines (levels, reservation,
 * its lines, ledger rows, stock events), the order with lines, transition, status row and
 * event, a payment attempt with its event, and the stored response; then the consumers' wake-up
 * after the commit, as the app sends it (events' `outboxWaker`: a NOTIFY inside the transaction
 * would hold the cluster-wide notify lock through the flush). It is the floor the HTTP path is
 * compared with (`ratio`). The stock rows are locked in one global order, as the app's
 * reservations lock them: updated in whatever order the scan met them, two clients buying
 * overlapping SKUs deadlocked (a few times a run), and each deadlock stalled its clients for the
 * 1 s deadlock_timeout and ended the client that lost (pgbench does not retry), so the
 * baseline swung from 256 to 573 tps between runs of the same code. The idempotency key is
 * completed by its primary key, as the app completes it (the key comes back from the INSERT
 * through `\gset`): matched with LIKE on a prepared pattern, the UPDATE read every key pgbench
 * had written so far (3 ms at 5,000), so the baseline slowed down as its run went on.
 */
export const CHECKOUT_SQL = String.raw`
\set s1 random(1, :skus)
\set s2 random(1, :skus)
\set s3 random(1, :skus)
\set cust random(1, :customers)
\set k random(1, 2000000000)
BEGIN;
SELECT c.id FROM customer_sessions s JOIN customers c ON c.id = s.customer_id WHERE s.token_hash = sha256(convert_to('pgbench-' || :cust, 'UTF8'));
INSERT INTO checkout_idempotency_keys (scope, key, fingerprint, state, owner, lease_until, created_at)
  VALUES ('pgbench', :client_id || ':' || :k || ':' || clock_timestamp(), '\x00', 'running', gen_random_uuid(), now(), now()) ON CONFLICT DO NOTHING RETURNING key AS idem_key \gset
SELECT sku, price, active FROM catalog_skus WHERE sku IN ('B-' || :s1, 'B-' || :s2, 'B-' || :s3);
WITH lk AS (
  SELECT sku FROM inventory_stock WHERE sku IN ('B-' || :s1, 'B-' || :s2, 'B-' || :s3) AND location_id = 'bench'
  ORDER BY sku, location_id FOR UPDATE),
st AS (
  UPDATE inventory_stock s SET reserved = s.reserved + 1, version = s.version + 1 FROM lk
  WHERE s.sku = lk.sku AND s.location_id = 'bench' AND s.on_hand - s.reserved >= 1
  RETURNING s.sku, s.on_hand, s.reserved),
r AS (INSERT INTO inventory_reservations (id, status, reference, expires_at, created_at)
  VALUES (gen_random_uuid(), 'active', 'pgbench', now() + interval '10 minutes', now()) RETURNING id),
rl AS (INSERT INTO inventory_reservation_lines (reservation_id, line_no, sku, location_id, quantity)
  SELECT r.id, row_number() OVER (), st.sku, 'bench', 1 FROM r, st RETURNING 1),
mv AS (INSERT INTO inventory_movements (sku, location_id, kind, on_hand_delta, reserved_delta, reservation_id)
  SELECT st.sku, 'bench', 'reservation', 0, 1, r.id FROM r, st RETURNING 1)
INSERT INTO events_outbox (event_id, type, version, context, aggregate_type, aggregate_id, payload)
  SELECT gen_random_uuid(), 'inventory.stock_changed', 1, 'inventory', 'sku', st.sku,
    jsonb_build_object('sku', st.sku, 'locationId', 'bench', 'onHand', st.on_hand, 'reserved', st.reserved, 'available', st.on_hand - st.reserved)
  FROM st;
WITH o AS (
  INSERT INTO orders (id, customer_id, cart_id, status, currency, subtotal, shipping, total, payment_method, reservation_id,
    reservation_expires_at, delivery, created_at, updated_at)
  VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'pending_payment', 'CLP', 29970, 3990, 33960, 'oneclick',
    gen_random_uuid()::text, now() + interval '10 minutes',
    jsonb_build_object('recipientName', 'Ana', 'street', 'Av. Providencia', 'number', '1234', 'apartment', NULL, 'comuna', 'Providencia',
      'region', 'Metropolitana de Santiago', 'regionCode', '13', 'phone', NULL, 'reference', NULL),
    now(), now())
  RETURNING id, customer_id, total, created_at),
l AS (INSERT INTO order_lines (order_id, sku, name, quantity, unit_price, line_total)
  SELECT o.id, s.sku, s.sku, 1, 9990, 9990 FROM o, (SELECT DISTINCT unnest(ARRAY['B-' || :s1, 'B-' || :s2, 'B-' || :s3]) AS sku) s RETURNING 1),
t AS (INSERT INTO order_transitions (order_id, from_status, to_status, reason, cause, occurred_at)
  SELECT o.id, NULL, 'pending_payment', 'placed', 'pgbench', now() FROM o RETURNING 1),
v AS (INSERT INTO checkout_order_status (order_id, customer_id, status, total, currency, version, updated_at)
  SELECT o.id, o.customer_id, 'pending_payment', o.total, 'CLP', 1, now() FROM o RETURNING 1),
c AS (UPDATE carts SET status = 'checked_out' WHERE id = (SELECT id FROM o) RETURNING 1)
INSERT INTO events_outbox (event_id, type, version, context, aggregate_type, aggregate_id, payload)
  SELECT gen_random_uuid(), 'checkout.order_placed', 1, 'checkout', 'order', o.id::text,
    jsonb_build_object('orderId', o.id, 'total', o.total, 'lines', jsonb_build_array(jsonb_build_object('sku', 'B-' || :s1, 'quantity', 1, 'unitPrice', 9990)))
  FROM o;
INSERT INTO bench_payment_attempts (id, order_id, amount, status, processor_ref, created_at)
  VALUES (gen_random_uuid(), gen_random_uuid(), 33960, 'approved', 'pgbench', now());
INSERT INTO events_outbox (event_id, type, version, context, aggregate_type, aggregate_id, payload)
  VALUES (gen_random_uuid(), 'payments.payment_approved', 1, 'payments', 'payment_attempt', 'pgbench',
    jsonb_build_object('orderId', gen_random_uuid(), 'amount', 33960, 'currency', 'CLP', 'method', 'oneclick'));
UPDATE checkout_idempotency_keys SET state = 'done', status_code = 201, body = json_build_object('ok', true), completed_at = now()
  WHERE scope = 'pgbench' AND key = :idem_key;
COMMIT;
SELECT set_config('synchronous_commit', 'off', true), pg_notify('embudo_outbox', '');
`;

/** Runs pgbench with the checkout script; returns its transactions per second. */
export async function pgbenchTps(url: string, opts: { clients: number; seconds: number; skus: number; customers: number }): Promise<{ tps: number; output: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'embudo-pgbench-'));
  const file = path.join(dir, 'checkout.sql');
  writeFileSync(file, CHECKOUT_SQL);
  const args = ['-n', '-M', 'prepared', '-c', String(opts.clients), '-j', '2', '-T', String(opts.seconds),
    '-D', `skus=${opts.skus}`, '-D', `customers=${opts.customers}`, '-f', file, url];
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('pgbench', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`pgbench exited ${code}:\n${out}`))));
  });
  const m = /tps = ([\d.]+)/.exec(output);
  if (!m?.[1]) throw new Error(`no tps in pgbench output:\n${output}`);
  return { tps: Number(m[1]), output };
}
