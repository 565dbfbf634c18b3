import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import { adminTokenCheck } from '../platform/admin-token.js';
import type { HttpModule } from '../platform/http.js';
import { AdjustmentInput, LocationInput, PurchaseOrderInput, ReceiptInput, SkuCode, TransferInput } from './domain/schemas.js';
import { inventoryError } from './errors.js';
import type { Inventory } from './index.js';

const Level = z.object({ locationId: z.string(), onHand: z.number().int(), reserved: z.number().int(), available: z.number().int() });
const Location = z.object({ id: z.string(), name: z.string(), kind: z.enum(['warehouse', 'store']), priority: z.number().int() });
const PurchaseOrder = z.object({
  id: z.string(),
  supplier: z.string(),
  locationId: z.string(),
  expectedDate: z.string().nullable(),
  status: z.enum(['draft', 'sent', 'received', 'cancelled']),
  lines: z.array(z.object({ sku: z.string(), quantity: z.number().int(), unitCost: z.number().int() })),
  total: z.number().int(),
});
const StockView = z.object({
  sku: z.string(),
  safetyThreshold: z.number().int(),
  onHand: z.number().int(),
  reserved: z.number().int(),
  available: z.number().int(),
  belowThreshold: z.boolean(),
  locations: z.array(Level),
});
const Drift = z.object({
  sku: z.string(),
  locationId: z.string(),
  onHand: z.number().int(),
  reserved: z.number().int(),
  ledgerOnHand: z.number().int(),
  ledgerReserved: z.number().int(),
  activeReserved: z.number().int(),
  problems: z.array(z.string()),
});
const PoId = z.object({ id: z.string().min(1).max(100) }).strict();
const SkuParam = z.object({ sku: SkuCode }).strict();
const tags = ['inventory-admin'];

/**
 * The staff guard (an `onRequest` hook): `x-admin-token` must equal EMBUDO_ADMIN_TOKEN
 * (config.adminToken); without a configured token the guarded routes are off (`admin_disabled`).
 */
export function inventoryAdminGuard(adminToken: string | undefined): (req: FastifyRequest) => Promise<void> {
  const check = adminTokenCheck(adminToken);
  return async (req) => {
    switch (check(req)) {
      case 'admin_disabled':
        throw inventoryError('admin_disabled', 'admin routes are disabled (no admin token configured)');
      case 'forbidden':
        throw inventoryError('forbidden', 'a valid x-admin-token is required');
      case undefined:
        return;
    }
  };
}

/**
 * Admin inventory API: locations, receipts, adjustments, transfers, returns, stock, ledger, POs.
 * Staff only: every route wants `x-admin-token` = EMBUDO_ADMIN_TOKEN (config.adminToken), and
 * is refused (`admin_disabled`) when no token is configured.
 */
export function inventoryAdminRoutes(inventory: Inventory, onRequest: (req: FastifyRequest) => Promise<void>): HttpModule {
  return (app) => {
    app.get('/admin/inventory/locations', { onRequest, schema: { tags, response: { 200: z.array(Location) } } }, async () =>
      inventory.listLocations(),
    );
    app.post(
      '/admin/inventory/locations',
      { onRequest, schema: { tags, body: LocationInput, response: { 201: Location } } },
      async (req, reply) => reply.code(201).send(await inventory.createLocation(req.body)),
    );
    app.post(
      '/admin/inventory/receipts',
      { onRequest, schema: { tags, body: ReceiptInput, response: { 201: Level } } },
      async (req, reply) => reply.code(201).send(await inventory.receive(req.body)),
    );
    app.post(
      '/admin/inventory/returns',
      { onRequest, schema: { tags, body: ReceiptInput, response: { 201: Level } } },
      async (req, reply) => reply.code(201).send(await inventory.returnStock(req.body)),
    );
    app.post(
      '/admin/inventory/adjustments',
      { onRequest, schema: { tags, body: AdjustmentInput, response: { 201: Level } } },
      async (req, reply) => reply.code(201).send(await inventory.adjust(req.body)),
    );
    app.post(
      '/admin/inventory/transfers',
      { onRequest, schema: { tags, body: TransferInput, response: { 201: z.object({ from: Level, to: Level }) } } },
      async (req, reply) => reply.code(201).send(await inventory.transfer(req.body)),
    );
    app.get(
      '/admin/inventory/stock/:sku',
      { onRequest, schema: { tags, params: SkuParam, response: { 200: StockView } } },
      async (req) => inventory.stock(req.params.sku),
    );
    app.put(
      '/admin/inventory/items/:sku/safety-threshold',
      {
        onRequest,
        schema: {
          tags,
          params: SkuParam,
          body: z.object({ safetyThreshold: z.number().int().min(0).max(1_000_000_000) }).strict(),
          response: { 200: StockView },
        },
      },
      async (req) => {
        await inventory.setSafetyThreshold(req.params.sku, req.body.safetyThreshold);
        return inventory.stock(req.params.sku);
      },
    );
    app.get(
      '/admin/inventory/movements',
      {
        onRequest,
        schema: {
          tags,
          querystring: z.object({ sku: SkuCode.optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) }).strict(),
        },
      },
      async (req) => (await inventory.movements(req.query)).map((m) => ({ ...m, createdAt: m.createdAt.toISOString() })),
    );
    app.get(
      '/admin/inventory/invariants',
      {
        onRequest,
        schema: {
          tags,
          description: 'Checks on_hand and reserved against the ledger and active reservations for every SKU-location.',
          response: { 200: z.object({ ok: z.boolean(), checked: z.number().int(), drift: z.array(Drift) }) },
        },
      },
      async () => inventory.checkInvariants(),
    );

    app.post(
      '/admin/inventory/purchase-orders',
      { onRequest, schema: { tags, body: PurchaseOrderInput, response: { 201: PurchaseOrder } } },
      async (req, reply) => reply.code(201).send(await inventory.purchaseOrders.create(req.body)),
    );
    app.get(
      '/admin/inventory/purchase-orders',
      {
        onRequest,
        schema: {
          tags,
          querystring: z.object({ status: z.enum(['draft', 'sent', 'received', 'cancelled']).optional() }).strict(),
          response: { 200: z.array(PurchaseOrder) },
        },
      },
      async (req) => inventory.purchaseOrders.list(req.query.status),
    );
    app.get(
      '/admin/inventory/purchase-orders/:id',
      { onRequest, schema: { tags, params: PoId, response: { 200: PurchaseOrder } } },
      async (req) => inventory.purchaseOrders.get(req.params.id),
    );
    for (const action of ['send', 'cancel', 'receive'] as const) {
      app.post(
        `/admin/inventory/purchase-orders/:id/${action}`,
        { onRequest, schema: { tags, params: PoId, response: { 200: PurchaseOrder } } },
        async (req) => inventory.purchaseOrders[action](req.params.id),
      );
    }
  };
}
