import type { Clock } from '../platform/clock.js';
import type { Database, Db } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { demandStats, planReorder, type ReplenishmentPolicy } from './domain/replenishment.js';
import { inventoryError } from './errors.js';
import { purchaseOrderService, type PurchaseOrder } from './purchase-orders.js';
import type { StockService } from './service.js';

/** Daily units sold per SKU-location (analytics' `demandSeries`, passed in by the composition root). */
export interface DemandSeries {
  sku: string;
  locationId: string;
  days: { date: string; units: number }[];
}
export type DemandPort = (q: { from: string; to: string; skus?: string[]; include?: { sku: string; locationId: string }[] }) => Promise<DemandSeries[]>;

export interface ReorderSuggestion {
  sku: string; locationId: string; onHand: number; available: number;
  dailyDemand: number; demandStdDev: number; leadTimeDays: number;
  reorderPoint: number; safetyStock: number; orderQuantity: number;
  daysOfCover: number | null; supplierId: string | null; reason: string;
  purchaseOrderId: string | null;
}

export interface Supplier {
  id: string;
  name: string;
  leadTimeDays: number;
  orderCost: number;
}

export interface PolicyView {
  sku: string;
  locationId: string;
  supplierId: string;
  leadTimeDays: number | null;
  serviceLevel: number;
  method: 'eoq' | 'minmax';
  maxQty: number | null;
  minOrderQty: number;
  packSize: number;
  unitCost: number;
  holdingRate: number;
  sendMode: 'draft' | 'auto';
}

/** Without a policy: suggest with these, but order nothing (no supplier). */
const DEFAULTS = { leadTimeDays: 7, serviceLevel: 0.95 };
const SLUG = /^[a-z0-9][a-z0-9-]{0,63}$/;

type Row = {
  sku: string; location_id: string; on_hand: number; reserved: number; on_order: number; open_po: string | null;
  supplier_id: string | null; lead_time_days: string | null; supplier_lead_time: string | null; order_cost: string | null;
  service_level: string | null; method: 'eoq' | 'minmax' | null; max_qty: number | null; min_order_qty: number | null;
  pack_size: number | null; unit_cost: string | null; holding_rate: string | null; send_mode: 'draft' | 'auto' | null;
};

const round = (x: number, d = 2) => Number(x.toFixed(d));
const dayOf = (t: Date) => t.toISOString().slice(0, 10);
const addDays = (day: string, n: number) => dayOf(new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000));

function validPolicy(p: PolicyView): void {
  const bad = (msg: string) => inventoryError('invalid_inventory_input', msg, { sku: p.sku, locationId: p.locationId });
  if (!SLUG.test(p.supplierId)) throw bad('supplierId must be a slug');
  if (p.leadTimeDays !== null && !(p.leadTimeDays > 0 && p.leadTimeDays <= 365)) throw bad('leadTimeDays must be in (0, 365]');
  if (!(p.serviceLevel > 0.5 && p.serviceLevel < 1)) throw bad('serviceLevel must be in (0.5, 1)');
  if (p.method === 'minmax' && !(Number.isInteger(p.maxQty) && (p.maxQty ?? 0) > 0)) throw bad('min/max needs a positive integer maxQty');
  for (const [k, v] of [['minOrderQty', p.minOrderQty], ['packSize', p.packSize]] as const) if (!Number.isInteger(v) || v < 1) throw bad(`${k} must be an integer ≥ 1`);
  if (!Number.isSafeInteger(p.unitCost) || p.unitCost < 0) throw bad('unitCost must be a non-negative integer (CLP)');
  if (!(p.holdingRate >= 0 && p.holdingRate <= 10)) throw bad('holdingRate must be in [0, 10]');
}

/**
 * Automatic replenishment: per SKU-location, demand from the warehouse (moving average,
 * standard deviation, weekly seasonality), the reorder point and order quantity for its
 * supplier's lead time and service level; `run()` (the scheduled worker) turns every
 * SKU-location at or under its reorder point into purchase orders — drafts, or sent at once
 * where the policy says `auto`. Receiving them posts the stock.
 */
export function replenishmentService(deps: { db: Database; clock: Clock; logger: Logger; stock: StockService; demand?: DemandPort | undefined; windowDays?: number }) {
  const { db, clock } = deps;
  const windowDays = deps.windowDays ?? 28;

  async function rows(tx: Db, skus?: string[]): Promise<Row[]> {
    const { rows: r } = await tx.query<Row>(
      `SELECT st.sku, st.location_id, st.on_hand, st.reserved,
              coalesce((SELECT sum(l.quantity) FROM inventory_purchase_order_lines l JOIN inventory_purchase_orders po ON po.id = l.purchase_order_id
                         WHERE l.sku = st.sku AND po.location_id = st.location_id AND po.status IN ('draft', 'sent')), 0)::int AS on_order,
              (SELECT r.purchase_order_id FROM inventory_replenishment_orders r JOIN inventory_purchase_orders po ON po.id = r.purchase_order_id
                WHERE r.sku = st.sku AND r.location_id = st.location_id AND po.status IN ('draft', 'sent') ORDER BY r.created_at DESC LIMIT 1) AS open_po,
              p.supplier_id, p.lead_time_days, s.lead_time_days AS supplier_lead_time, s.order_cost, p.service_level, p.method, p.max_qty,
              p.min_order_qty, p.pack_size, p.unit_cost, p.holding_rate, p.send_mode
         FROM inventory_stock st
         LEFT JOIN inventory_replenishment_policies p ON p.sku = st.sku AND p.location_id = st.location_id
         LEFT JOIN inventory_suppliers s ON s.id = p.supplier_id
        WHERE ($1::text[] IS NULL OR st.sku = ANY($1))
        ORDER BY st.sku, st.location_id`,
      [skus ?? null],
    );
    return r;
  }

  async function suggestFrom(found: Row[]): Promise<{ suggestion: ReorderSuggestion; row: Row; unitCost: number }[]> {
    const today = dayOf(clock.now());
    const from = addDays(today, -windowDays);
    const series = deps.demand && found.length > 0
      ? await deps.demand({ from, to: today, skus: [...new Set(found.map((r) => r.sku))] })
      : [];
    const bySkuLoc = new Map(series.map((s) => [`${s.sku}\u0000${s.locationId}`, s]));
    return found.map((r) => {
      const s = bySkuLoc.get(`${r.sku}\u0000${r.location_id}`);
      const stats = s ? demandStats(s.days.map((d) => d.units), s.days.map((d) => d.date), windowDays) : { mean: 0, stdDev: 0, seasonality: [] as number[], days: 0 };
      const leadTimeDays = Number(r.lead_time_days ?? r.supplier_lead_time ?? DEFAULTS.leadTimeDays);
      const policy: ReplenishmentPolicy = {
        method: r.method ?? 'eoq',
        serviceLevel: Number(r.service_level ?? DEFAULTS.serviceLevel),
        leadTimeDays,
        orderCost: Number(r.order_cost ?? 0),
        unitCost: Number(r.unit_cost ?? 0),
        holdingRate: Number(r.holding_rate ?? 0.25),
        maxQty: r.max_qty,
        minOrderQty: r.min_order_qty ?? 1,
        packSize: r.pack_size ?? 1,
      };
      const available = r.on_hand - r.reserved;
      const position = available + r.on_order;
      const plan = planReorder(stats, today, position, policy);
      const dailyDemand = round(plan.dailyDemand);
      const why: string[] = [
        stats.days === 0 ? 'no sales data' : `demand ${dailyDemand}/day (σ ${round(plan.demandStdDev)}) over ${stats.days} days`,
        `lead time ${leadTimeDays} d → ${round(plan.leadTimeDemand, 1)} units + safety ${round(plan.safetyStock, 1)} (z ${round(plan.z)} for ${round(policy.serviceLevel * 100, 1)}% service) = reorder point ${plan.reorderPoint}`,
        `position ${position} (available ${available} + on order ${r.on_order})`,
      ];
      if (plan.orderQuantity > 0) {
        const how = policy.method === 'minmax' ? `up to max ${policy.maxQty ?? plan.reorderPoint}` : plan.eoq !== null ? `EOQ ${round(plan.eoq, 1)}` : 'to the reorder point';
        why.push(`at or under the reorder point: order ${plan.orderQuantity} (${how}; raw ${plan.rawQuantity}, supplier minimum ${policy.minOrderQty}, pack ${policy.packSize})`);
      } else {
        why.push(stats.mean === 0 ? 'no demand: nothing to order' : r.on_order > 0 && available <= plan.reorderPoint ? 'covered by open purchase orders' : 'above the reorder point');
      }
      if (!r.supplier_id) why.push('no supplier policy: suggestion only');
      return {
        row: r,
        unitCost: policy.unitCost,
        suggestion: {
          sku: r.sku, locationId: r.location_id, onHand: r.on_hand, available,
          dailyDemand, demandStdDev: round(plan.demandStdDev), leadTimeDays,
          reorderPoint: plan.reorderPoint, safetyStock: round(plan.safetyStock), orderQuantity: plan.orderQuantity,
          daysOfCover: plan.dailyDemand > 0 ? round(available / plan.dailyDemand, 1) : null,
          supplierId: r.supplier_id, reason: why.join('; '), purchaseOrderId: r.open_po,
        },
      };
    });
  }

  return {
    /**
     * The reorder suggestion of every stocked SKU-location, with its reasoning.
     * @example
     * const list = await inventory.replenishment.suggestions();
     * list.filter((s) => s.orderQuantity > 0);
     */
    async suggestions(opts: { skus?: string[] } = {}): Promise<ReorderSuggestion[]> {
      return (await suggestFrom(await rows(db, opts.skus))).map((x) => x.suggestion);
    },

    /**
     * One replenishment pass (what the worker runs): a purchase order per supplier and
     * location for every SKU-location at or under its reorder point with no open order; sent at
     * once when every line's policy says `auto`. Several processes may run it: they serialise
     * on a lock and the second finds the orders already open.
     */
    async run(): Promise<{ created: PurchaseOrder[]; suggestions: ReorderSuggestion[] }> {
      const planned = await suggestFrom(await rows(db));
      const due = planned.filter((p) => p.suggestion.orderQuantity > 0 && p.suggestion.supplierId !== null && p.suggestion.purchaseOrderId === null);
      if (due.length === 0) return { created: [], suggestions: planned.map((p) => p.suggestion) };
      const today = dayOf(clock.now());
      const created = await db.transaction(async (tx) => {
        await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('inventory:replenishment', 0))`);
        // Another run may have ordered since we read: only what is still uncovered.
        const fresh = new Map((await rows(tx, [...new Set(due.map((d) => d.row.sku))])).map((r) => [`${r.sku}\u0000${r.location_id}`, r]));
        const groups = new Map<string, typeof due>();
        for (const d of due) {
          const now = fresh.get(`${d.row.sku}\u0000${d.row.location_id}`);
          if (!now || now.on_order !== d.row.on_order) continue;
          const key = `${d.row.supplier_id}\u0000${d.row.location_id}\u0000${d.row.send_mode}`;
          groups.set(key, [...(groups.get(key) ?? []), d]);
        }
        const pos = purchaseOrderService(tx, clock, deps.stock);
        const out: PurchaseOrder[] = [];
        for (const lines of groups.values()) {
          const first = lines[0] as (typeof due)[number];
          const lead = Math.max(...lines.map((l) => l.suggestion.leadTimeDays));
          let po = await pos.create({
            supplier: first.row.supplier_id, locationId: first.row.location_id, expectedDate: addDays(today, Math.ceil(lead)),
            lines: lines.map((l) => ({ sku: l.row.sku, quantity: l.suggestion.orderQuantity, unitCost: l.unitCost })),
          });
          await tx.query(
            `INSERT INTO inventory_replenishment_orders (purchase_order_id, sku, location_id, quantity, reason, created_at)
             SELECT $1, unnest($2::text[]), $3, unnest($4::int[]), unnest($5::text[]), $6`,
            [po.id, lines.map((l) => l.row.sku), first.row.location_id, lines.map((l) => l.suggestion.orderQuantity), lines.map((l) => l.suggestion.reason), clock.now()],
          );
          if (first.row.send_mode === 'auto') po = await pos.send(po.id);
          for (const l of lines) l.suggestion.purchaseOrderId = po.id;
          out.push(po);
        }
        return out;
      });
      if (created.length > 0) deps.logger.info({ purchaseOrders: created.map((p) => p.id) }, 'replenishment created purchase orders');
      return { created, suggestions: planned.map((p) => p.suggestion) };
    },

    suppliers: {
      async upsert(s: Supplier): Promise<Supplier> {
        if (!SLUG.test(s.id)) throw inventoryError('invalid_inventory_input', 'supplier id must be a lowercase slug');
        if (!s.name || s.name.length > 200) throw inventoryError('invalid_inventory_input', 'supplier name is required (≤ 200 chars)');
        if (!(s.leadTimeDays > 0 && s.leadTimeDays <= 365)) throw inventoryError('invalid_inventory_input', 'leadTimeDays must be in (0, 365]');
        if (!Number.isSafeInteger(s.orderCost) || s.orderCost < 0) throw inventoryError('invalid_inventory_input', 'orderCost must be a non-negative integer');
        await db.query(
          `INSERT INTO inventory_suppliers (id, name, lead_time_days, order_cost, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, lead_time_days = EXCLUDED.lead_time_days, order_cost = EXCLUDED.order_cost, updated_at = EXCLUDED.updated_at`,
          [s.id, s.name, s.leadTimeDays, s.orderCost, clock.now()],
        );
        return s;
      },
      async list(): Promise<Supplier[]> {
        const { rows: r } = await db.query<{ id: string; name: string; lead_time_days: string; order_cost: string }>('SELECT id, name, lead_time_days, order_cost FROM inventory_suppliers ORDER BY id');
        return r.map((x) => ({ id: x.id, name: x.name, leadTimeDays: Number(x.lead_time_days), orderCost: Number(x.order_cost) }));
      },
    },

    policies: {
      /** Sets the replenishment policy of a SKU at a location (the SKU must be stocked there). */
      async set(p: PolicyView): Promise<PolicyView> {
        validPolicy(p);
        await db.transaction(async (tx) => {
          const { rowCount } = await tx.query('SELECT 1 FROM inventory_stock WHERE sku = $1 AND location_id = $2', [p.sku, p.locationId]);
          if (!rowCount) throw inventoryError('unknown_sku', `no stock of ${p.sku} at ${p.locationId}`, { sku: p.sku, locationId: p.locationId });
          const sup = await tx.query('SELECT 1 FROM inventory_suppliers WHERE id = $1', [p.supplierId]);
          if (!sup.rowCount) throw inventoryError('invalid_inventory_input', `no supplier ${p.supplierId}`, { supplierId: p.supplierId });
          await tx.query(
            `INSERT INTO inventory_replenishment_policies (sku, location_id, supplier_id, lead_time_days, service_level, method, max_qty, min_order_qty,
                                                          pack_size, unit_cost, holding_rate, send_mode, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (sku, location_id) DO UPDATE SET supplier_id = EXCLUDED.supplier_id, lead_time_days = EXCLUDED.lead_time_days,
               service_level = EXCLUDED.service_level, method = EXCLUDED.method, max_qty = EXCLUDED.max_qty, min_order_qty = EXCLUDED.min_order_qty,
               pack_size = EXCLUDED.pack_size, unit_cost = EXCLUDED.unit_cost, holding_rate = EXCLUDED.holding_rate, send_mode = EXCLUDED.send_mode,
               updated_at = EXCLUDED.updated_at`,
            [p.sku, p.locationId, p.supplierId, p.leadTimeDays, p.serviceLevel, p.method, p.maxQty, p.minOrderQty, p.packSize, p.unitCost, p.holdingRate, p.sendMode, clock.now()],
          );
        });
        return p;
      },
      async list(): Promise<PolicyView[]> {
        const { rows: r } = await db.query<Record<string, unknown>>('SELECT * FROM inventory_replenishment_policies ORDER BY sku, location_id');
        return r.map((x) => ({
          sku: x.sku as string, locationId: x.location_id as string, supplierId: x.supplier_id as string,
          leadTimeDays: x.lead_time_days === null ? null : Number(x.lead_time_days), serviceLevel: Number(x.service_level),
          method: x.method as 'eoq' | 'minmax', maxQty: x.max_qty as number | null, minOrderQty: x.min_order_qty as number,
          packSize: x.pack_size as number, unitCost: Number(x.unit_cost), holdingRate: Number(x.holding_rate), sendMode: x.send_mode as 'draft' | 'auto',
        }));
      },
    },
  };
}

export type ReplenishmentService = ReturnType<typeof replenishmentService>;
