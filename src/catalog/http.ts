import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import { adminTokenCheck } from '../platform/admin-token.js';
import type { HttpModule } from '../platform/http.js';
import { CategorySlug, NewCategory, NewProduct, NewSku, ProductPatch, SkuCode, SkuPatch } from './domain/schemas.js';
import { catalogError } from './errors.js';
import type { CatalogService, ProductView, SkuView } from './service.js';

/** Availability lookup the public read API shows beside each SKU (inventory's interface). */
export type AvailabilityPort = (skus: string[]) => Promise<{ sku: string; available: number }[]>;

const SkuBody = z.object({
  sku: z.string(),
  productId: z.string(),
  name: z.string(),
  category: z.string(),
  price: z.number().int(),
  currency: z.literal('CLP'),
  active: z.boolean(),
  attributes: z.record(z.string(), z.string()),
});
const ProductBody = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  category: z.string(),
  active: z.boolean(),
  skus: z.array(SkuBody),
});
const PublicSku = SkuBody.extend({ available: z.number().int() });
const PublicProduct = ProductBody.extend({ skus: z.array(PublicSku) });
const Category = z.object({ slug: z.string(), name: z.string() });
const ProductId = z.object({ id: z.string().uuid() }).strict();
const SkuParam = z.object({ sku: SkuCode }).strict();

/**
 * Public read API, and the admin API (`/admin/catalog/*`) for staff: it wants `x-admin-token`
 * = EMBUDO_ADMIN_TOKEN (config.adminToken) and is refused (`admin_disabled`) without one configured.
 */
export function catalogRoutes(catalog: CatalogService, availability: AvailabilityPort, adminToken?: string): HttpModule {
  const check = adminTokenCheck(adminToken);
  const onRequest = async (req: FastifyRequest) => {
    switch (check(req)) {
      case 'admin_disabled':
        throw catalogError('admin_disabled', 'admin routes are disabled (no admin token configured)');
      case 'forbidden':
        throw catalogError('forbidden', 'a valid x-admin-token is required');
      case undefined:
        return;
    }
  };
  const withAvailability = async (products: ProductView[]) => {
    const skus = products.flatMap((p) => p.skus.map((s) => s.sku));
    const levels = new Map((skus.length > 0 ? await availability(skus) : []).map((a) => [a.sku, a.available]));
    const sku = (s: SkuView) => ({ ...s, available: levels.get(s.sku) ?? 0 });
    return products.map((p) => ({ ...p, skus: p.skus.filter((s) => s.active).map(sku) }));
  };

  return (app) => {
    // Public read API: active products and SKUs with live availability.
    app.get('/catalog/categories', { schema: { tags: ['catalog'], response: { 200: z.array(Category) } } }, async () =>
      catalog.listCategories(),
    );
    app.get(
      '/catalog/products',
      {
        schema: {
          tags: ['catalog'],
          querystring: z
            .object({
              category: CategorySlug.optional(),
              limit: z.coerce.number().int().min(1).max(200).default(50),
              offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
            })
            .strict(),
          response: { 200: z.array(PublicProduct) },
        },
      },
      async (req) => withAvailability(await catalog.listProducts({ ...req.query, activeOnly: true })),
    );
    app.get(
      '/catalog/products/:id',
      { schema: { tags: ['catalog'], params: ProductId, response: { 200: PublicProduct } } },
      async (req) => {
        const [product] = await withAvailability([await catalog.getProduct(req.params.id)]);
        return product;
      },
    );

    app.get(
      '/catalog/skus',
      {
        schema: {
          tags: ['catalog'],
          description: 'The listed SKUs (comma-separated, at most 200) with price and live availability.',
          querystring: z.object({ skus: z.string().min(1).max(13_000) }).strict(),
          response: { 200: z.array(PublicSku) },
        },
      },
      async (req) => {
        const codes = [...new Set(req.query.skus.split(',').map((s) => s.trim()).filter((s) => SkuCode.safeParse(s).success))].slice(0, 200);
        const views = await catalog.getSkus(codes);
        const levels = new Map((views.length > 0 ? await availability(views.map((v) => v.sku)) : []).map((a) => [a.sku, a.available]));
        return views.map((v) => ({ ...v, available: levels.get(v.sku) ?? 0 }));
      },
    );

    // Admin API (staff only: x-admin-token).
    app.post(
      '/admin/catalog/categories',
      { onRequest, schema: { tags: ['catalog-admin'], body: NewCategory, response: { 201: Category } } },
      async (req, reply) => reply.code(201).send(await catalog.createCategory(req.body)),
    );
    app.post(
      '/admin/catalog/products',
      { onRequest, schema: { tags: ['catalog-admin'], body: NewProduct, response: { 201: ProductBody } } },
      async (req, reply) => reply.code(201).send(await catalog.createProduct(req.body)),
    );
    app.patch(
      '/admin/catalog/products/:id',
      { onRequest, schema: { tags: ['catalog-admin'], params: ProductId, body: ProductPatch, response: { 200: ProductBody } } },
      async (req) => catalog.updateProduct(req.params.id, req.body),
    );
    app.post(
      '/admin/catalog/products/:id/skus',
      {
        onRequest,
        schema: {
          tags: ['catalog-admin'],
          params: ProductId,
          body: z.object({ skus: z.array(NewSku).min(1).max(100) }).strict(),
          response: { 201: ProductBody },
        },
      },
      async (req, reply) => reply.code(201).send(await catalog.addSkus(req.params.id, req.body.skus)),
    );
    app.patch(
      '/admin/catalog/skus/:sku',
      { onRequest, schema: { tags: ['catalog-admin'], params: SkuParam, body: SkuPatch, response: { 200: SkuBody } } },
      async (req) => catalog.updateSku(req.params.sku, req.body),
    );
    app.get(
      '/admin/catalog/products',
      {
        onRequest,
        schema: {
          tags: ['catalog-admin'],
          querystring: z
            .object({
              category: CategorySlug.optional(),
              limit: z.coerce.number().int().min(1).max(200).default(50),
              offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
            })
            .strict(),
          response: { 200: z.array(ProductBody) },
        },
      },
      async (req) => catalog.listProducts({ ...req.query, activeOnly: false }),
    );
  };
}
