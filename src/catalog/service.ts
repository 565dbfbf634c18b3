import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { appendEvents, type NewEvent } from '../events/index.js';
import type { Clock } from '../platform/clock.js';
import type { Db } from '../platform/db.js';
import { groupCommit } from '../platform/group-commit.js';
import { catalogError } from './errors.js';
import { CATALOG_PRODUCT_CHANGED, CATALOG_SKU_CHANGED, ProductChangedV1, SkuChangedV1 } from './events.js';
import { NewCategory, NewProduct, NewSku, ProductPatch, SkuPatch } from './domain/schemas.js';
import * as store from './store.js';
import type { ProductRow, SkuRow } from './store.js';

/** A SKU as other contexts see it (contract with checkout). */
export type SkuView = SkuRow;

export interface ProductView extends ProductRow {
  skus: SkuView[];
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw catalogError('invalid_catalog_input', 'the input is not valid', {
      issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  return result.data;
}

const skuEvent = (s: SkuView): NewEvent => ({
  type: CATALOG_SKU_CHANGED,
  version: 1,
  aggregateType: 'sku',
  aggregateId: s.sku,
  payload: SkuChangedV1.parse(s),
});

const productEvent = (p: ProductRow): NewEvent => ({
  type: CATALOG_PRODUCT_CHANGED,
  version: 1,
  aggregateType: 'product',
  aggregateId: p.id,
  payload: ProductChangedV1.parse({ productId: p.id, name: p.name, description: p.description, category: p.category, active: p.active }),
});

export function catalogService(db: Db, clock: Clock) {
  // Carts and checkouts price every line from here: concurrent lookups share one query (the
  // rows are read when the batch runs, so nothing older than the caller's own call is seen).
  const skusOf = groupCommit(async (lists: string[][]) => {
    const rows = await store.findSkus(db, [...new Set(lists.flat())]);
    if (lists.length === 1) return [rows];
    // Each caller's rows in the query's order (by SKU), as a query of its own would give them.
    return lists.map((list) => {
      const wanted = new Set(list);
      return rows.filter((r) => wanted.has(r.sku));
    });
  }, { maxInFlight: 4 });
  async function requireCategory(tx: Db, slug: string) {
    if (!(await store.categoryExists(tx, slug))) throw catalogError('category_not_found', `no category "${slug}"`, { category: slug });
  }

  async function getProduct(id: string, tx: Db = db): Promise<ProductView> {
    const product = await store.findProduct(tx, id);
    if (!product) throw catalogError('product_not_found', `no product ${id}`, { productId: id });
    return { ...product, skus: await store.skusOfProducts(tx, [id]) };
  }

  async function insertSkus(tx: Db, product: ProductRow, input: z.output<typeof NewSku>[]) {
    const dup = input.find((s, i) => input.findIndex((o) => o.sku === s.sku) !== i);
    if (dup) throw catalogError('sku_exists', `SKU ${dup.sku} appears twice`, { sku: dup.sku });
    const rows = input.map((s) => ({
      sku: s.sku,
      productId: product.id,
      name: s.name ?? product.name,
      price: s.price,
      currency: 'CLP' as const,
      attributes: s.attributes,
      active: s.active,
    }));
    const existing = await store.insertSkus(tx, rows, clock.now());
    if (existing.length > 0) throw catalogError('sku_exists', `SKU ${existing[0]} already exists`, { skus: existing });
    const views = rows.map((r) => ({ ...r, category: product.category, active: r.active && product.active }));
    await appendEvents(tx, views.map(skuEvent));
  }

  return {
    getProduct,

    async getSkus(skus: readonly string[]): Promise<SkuView[]> {
      if (skus.length === 0) return [];
      return skusOf([...new Set(skus)]);
    },

    listSkuCodes: () => store.allSkuCodes(db),

    listCategories: () => store.listCategories(db),

    async listProducts(filter: { category?: string; activeOnly?: boolean; limit?: number; offset?: number } = {}): Promise<ProductView[]> {
      const products = await store.listProducts(db, {
        category: filter.category,
        activeOnly: filter.activeOnly ?? true,
        limit: filter.limit ?? 50,
        offset: filter.offset ?? 0,
      });
      const skus = await store.skusOfProducts(db, products.map((p) => p.id));
      return products.map((p) => ({ ...p, skus: skus.filter((s) => s.productId === p.id) }));
    },

    async createCategory(input: NewCategory): Promise<{ slug: string; name: string }> {
      const c = parse(NewCategory, input);
      if (!(await store.insertCategory(db, c.slug, c.name))) {
        throw catalogError('category_exists', `category "${c.slug}" exists`, { category: c.slug });
      }
      return c;
    },

    async createProduct(input: NewProduct): Promise<ProductView> {
      const p = parse(NewProduct, input);
      return db.transaction(async (tx) => {
        await requireCategory(tx, p.category);
        const product: ProductRow = { id: randomUUID(), name: p.name, description: p.description, category: p.category, active: p.active };
        await store.insertProduct(tx, product, clock.now());
        await appendEvents(tx, [productEvent(product)]);
        await insertSkus(tx, product, p.skus);
        return getProduct(product.id, tx);
      });
    },

    async updateProduct(id: string, input: ProductPatch): Promise<ProductView> {
      const patch = parse(ProductPatch, input);
      return db.transaction(async (tx) => {
        const current = await store.findProduct(tx, id, true);
        if (!current) throw catalogError('product_not_found', `no product ${id}`, { productId: id });
        if (patch.category !== undefined) await requireCategory(tx, patch.category);
        const next: ProductRow = {
          ...current,
          ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
        };
        await store.updateProduct(tx, next, clock.now());
        const view = await getProduct(id, tx);
        // SKU views carry the category and the product's active flag: they changed too.
        await appendEvents(tx, [productEvent(next), ...view.skus.map(skuEvent)]);
        return view;
      });
    },

    async addSkus(productId: string, input: NewSku[]): Promise<ProductView> {
      const skus = input.map((s) => parse(NewSku, s));
      return db.transaction(async (tx) => {
        const product = await store.findProduct(tx, productId, true);
        if (!product) throw catalogError('product_not_found', `no product ${productId}`, { productId });
        await insertSkus(tx, product, skus);
        return getProduct(productId, tx);
      });
    },

    async updateSku(sku: string, input: SkuPatch): Promise<SkuView> {
      const patch = parse(SkuPatch, input);
      return db.transaction(async (tx) => {
        const current = await store.lockSku(tx, sku);
        if (!current) throw catalogError('sku_not_found', `no SKU ${sku}`, { sku });
        await store.updateSku(tx, {
          ...current,
          ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
        }, clock.now());
        const [view] = await store.findSkus(tx, [sku]);
        if (!view) throw catalogError('sku_not_found', `no SKU ${sku}`, { sku });
        await appendEvents(tx, [skuEvent(view)]);
        return view;
      });
    },
  };
}

export type CatalogService = ReturnType<typeof catalogService>;
