import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { HttpModule } from '../platform/http.js';
import { LocationId, SkuCode } from './domain/schemas.js';
import type { ReplenishmentService } from './replenishment.js';

const Suggestion = z.object({
  sku: z.string(), locationId: z.string(), onHand: z.number().int(), available: z.number().int(),
  dailyDemand: z.number(), demandStdDev: z.number(), leadTimeDays: z.number(),
  reorderPoint: z.number().int(), safetyStock: z.number(), orderQuantity: z.number().int(),
  daysOfCover: z.number().nullable(), supplierId: z.string().nullable(), reason: z.string(), purchaseOrderId: z.string().nullable(),
});
const Supplier = z.object({ id: LocationId, name: z.string().min(1).max(200), leadTimeDays: z.number().positive().max(365), orderCost: z.number().int().min(0) });
const PolicyBody = z.object({
  supplierId: LocationId,
  leadTimeDays: z.number().positive().max(365).nullable().default(null),
  serviceLevel: z.number().gt(0.5).lt(1).default(0.95),
  method: z.enum(['eoq', 'minmax']).default('eoq'),
  maxQty: z.number().int().positive().nullable().default(null),
  minOrderQty: z.number().int().min(1).default(1),
  packSize: z.number().int().min(1).default(1),
  unitCost: z.number().int().min(0).default(0),
  holdingRate: z.number().min(0).max(10).default(0.25),
  sendMode: z.enum(['draft', 'auto']).default('draft'),
}).strict();
const tags = ['inventory-admin'];

/** Replenishment: suggestions with their reasoning, a run on demand, suppliers and policies. */
export function replenishmentRoutes(r: ReplenishmentService, onRequest: (req: FastifyRequest) => Promise<void>): HttpModule {
  return (app) => {
    app.get('/admin/inventory/replenishment/suggestions', {
      onRequest,
      schema: { tags, querystring: z.object({ sku: SkuCode.optional() }).strict(), response: { 200: z.object({ suggestions: z.array(Suggestion) }) } },
    }, async (req) => ({ suggestions: await r.suggestions(req.query.sku ? { skus: [req.query.sku] } : {}) }));

    app.post('/admin/inventory/replenishment/run', {
      onRequest,
      schema: { tags, response: { 200: z.object({ purchaseOrders: z.array(z.string()), suggestions: z.array(Suggestion) }) } },
    }, async () => {
      const out = await r.run();
      return { purchaseOrders: out.created.map((p) => p.id), suggestions: out.suggestions };
    });

    app.get('/admin/inventory/suppliers', { onRequest, schema: { tags, response: { 200: z.array(Supplier) } } }, async () => r.suppliers.list());
    app.put('/admin/inventory/suppliers/:id', {
      onRequest,
      schema: { tags, params: z.object({ id: LocationId }).strict(), body: Supplier.omit({ id: true }).strict(), response: { 200: Supplier } },
    }, async (req) => r.suppliers.upsert({ id: req.params.id, ...req.body }));

    app.get('/admin/inventory/replenishment/policies', { onRequest, schema: { tags } }, async () => ({ policies: await r.policies.list() }));
    app.put('/admin/inventory/replenishment/policies/:sku/:locationId', {
      onRequest,
      schema: { tags, params: z.object({ sku: SkuCode, locationId: LocationId }).strict(), body: PolicyBody },
    }, async (req) => r.policies.set({ sku: req.params.sku, locationId: req.params.locationId, ...req.body }));
  };
}
