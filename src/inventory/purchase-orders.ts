import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../platform/clock.js';
import type { Db } from '../platform/db.js';
import { PurchaseOrderInput } from './domain/schemas.js';
import { inventoryError } from './errors.js';
import { parseInput } from './ledger.js';
import type { StockService } from './service.js';

export type PurchaseOrderStatus = 'draft' | 'sent' | 'received' | 'cancelled';

export interface PurchaseOrder {
  id: string;
  supplier: string;
  locationId: string;
  expectedDate: string | null;
  status: PurchaseOrderStatus;
  lines: { sku: string; quantity: number; unitCost: number }[];
  total: number;
}

/** The purchase-order state machine: which state each action may start from. */
const TRANSITIONS: Record<'send' | 'cancel' | 'receive', { from: PurchaseOrderStatus[]; to: PurchaseOrderStatus }> = {
  send: { from: ['draft'], to: 'sent' },
  cancel: { from: ['draft', 'sent'], to: 'cancelled' },
  receive: { from: ['sent'], to: 'received' },
};

const Uuid = z.string().uuid();

export function purchaseOrderService(db: Db, clock: Clock, stock: StockService) {
  async function load(tx: Db, id: string, lock: boolean): Promise<PurchaseOrder> {
    if (!Uuid.safeParse(id).success) throw inventoryError('purchase_order_not_found', `no purchase order ${id}`, { purchaseOrderId: id });
    const { rows } = await tx.query<{ id: string; supplier: string; location_id: string; expected_date: string | null; status: PurchaseOrderStatus }>(
      `SELECT id, supplier, location_id, to_char(expected_date, 'YYYY-MM-DD') AS expected_date, status
       FROM inventory_purchase_orders WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
      [id],
    );
    const po = rows[0];
    if (!po) throw inventoryError('purchase_order_not_found', `no purchase order ${id}`, { purchaseOrderId: id });
    const lines = await tx.query<{ sku: string; quantity: number; unit_cost: number }>(
      'SELECT sku, quantity, unit_cost FROM inventory_purchase_order_lines WHERE purchase_order_id = $1 ORDER BY line_no',
      [id],
    );
    const ls = lines.rows.map((l) => ({ sku: l.sku, quantity: l.quantity, unitCost: l.unit_cost }));
    return {
      id: po.id,
      supplier: po.supplier,
      locationId: po.location_id,
      expectedDate: po.expected_date,
      status: po.status,
      lines: ls,
      total: ls.reduce((n, l) => n + l.quantity * l.unitCost, 0),
    };
  }

  async function transition(id: string, action: keyof typeof TRANSITIONS): Promise<PurchaseOrder> {
    return db.transaction(async (tx) => {
      const po = await load(tx, id, true);
      const rule = TRANSITIONS[action];
      if (po.status === rule.to) return po; // repeating an action is a no-op
      if (!rule.from.includes(po.status)) {
        throw inventoryError('invalid_transition', `a ${po.status} purchase order cannot be ${rule.to}`, { status: po.status, action });
      }
      if (action === 'receive') {
        // Receiving posts one receipt movement per line, in the same transaction.
        for (const line of po.lines) {
          await stock.receive({ sku: line.sku, locationId: po.locationId, quantity: line.quantity, reference: `po:${po.id}` }, tx);
        }
      }
      await tx.query('UPDATE inventory_purchase_orders SET status = $2, updated_at = $3 WHERE id = $1', [id, rule.to, clock.now()]);
      return { ...po, status: rule.to };
    });
  }

  return {
    async create(input: unknown): Promise<PurchaseOrder> {
      const po = parseInput(PurchaseOrderInput, input);
      return db.transaction(async (tx) => {
        const loc = await tx.query('SELECT 1 FROM inventory_locations WHERE id = $1', [po.locationId]);
        if (!loc.rowCount) throw inventoryError('unknown_location', `no location ${po.locationId}`, { locationId: po.locationId });
        const skus = [...new Set(po.lines.map((l) => l.sku))];
        const known = await tx.query<{ sku: string }>('SELECT sku FROM inventory_items WHERE sku = ANY($1::text[])', [skus]);
        const missing = skus.filter((s) => !known.rows.some((r) => r.sku === s));
        // A PO may order a SKU never stocked before: register it (receipts check the catalogue).
        for (const sku of missing) await stock.assertSku(tx, sku);
        if (missing.length > 0) {
          await tx.query('INSERT INTO inventory_items (sku) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING', [missing]);
        }
        const id = randomUUID();
        const now = clock.now();
        await tx.query(
          `INSERT INTO inventory_purchase_orders (id, supplier, location_id, expected_date, status, created_at, updated_at)
           VALUES ($1, $2, $3, $4, 'draft', $5, $5)`,
          [id, po.supplier, po.locationId, po.expectedDate ?? null, now],
        );
        await tx.query(
          `INSERT INTO inventory_purchase_order_lines (purchase_order_id, line_no, sku, quantity, unit_cost)
           SELECT $1, n, sku, q, c FROM unnest($2::text[], $3::int[], $4::bigint[]) WITH ORDINALITY AS t(sku, q, c, n)`,
          [id, po.lines.map((l) => l.sku), po.lines.map((l) => l.quantity), po.lines.map((l) => l.unitCost)],
        );
        return load(tx, id, false);
      });
    },
    get: (id: string) => load(db, id, false),
    send: (id: string) => transition(id, 'send'),
    cancel: (id: string) => transition(id, 'cancel'),
    receive: (id: string) => transition(id, 'receive'),
    async list(status?: PurchaseOrderStatus): Promise<PurchaseOrder[]> {
      const { rows } = await db.query<{ id: string }>(
        'SELECT id FROM inventory_purchase_orders WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at DESC, id LIMIT 200',
        [status ?? null],
      );
      return Promise.all(rows.map((r) => load(db, r.id, false)));
    },
  };
}

export type PurchaseOrderService = ReturnType<typeof purchaseOrderService>;
