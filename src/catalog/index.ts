import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db.js';
import type { HttpModule } from '../platform/http.js';
import type { Logger } from '../platform/log.js';
import { DEMO_CATEGORIES, DEMO_PRODUCTS } from './demo.js';
import { catalogRoutes, type AvailabilityPort } from './http.js';
import { catalogService, type CatalogService } from './service.js';
import * as store from './store.js';

export type { SkuView, ProductView, CatalogService } from './service.js';
export type { NewProduct, NewSku, ProductPatch, SkuPatch, NewCategory } from './domain/schemas.js';
export type { CatalogErrorCode } from './errors.js';
export type { AvailabilityPort } from './http.js';
export { SkuChangedV1, ProductChangedV1, CATALOG_SKU_CHANGED, CATALOG_PRODUCT_CHANGED, CATALOG_EVENTS } from './events.js';

export interface CatalogDeps {
  db: Database;
  logger: Logger;
  clock: Clock;
  /** Live availability shown by the public read API (inventory.availability). */
  availability?: AvailabilityPort;
  /** Staff token for /admin/catalog routes (EMBUDO_ADMIN_TOKEN); those routes are off without it. */
  adminToken?: string | undefined;
}

export interface Catalog extends CatalogService {
  routes: HttpModule[];
  /** Loads the demo catalogue (categories, ~30 SKUs) unless it is already there. */
  seedDemo(): Promise<void>;
}

/**
 * The catalog context: products, SKUs (price in CLP, attributes, active flag), categories.
 *
 * @example
 * const catalog = createCatalog({ db, logger, clock, availability: (skus) => inventory.availability(skus) });
 * const [view] = await catalog.getSkus(['ARROZ-1KG']); // { sku, price: 1590, currency: 'CLP', ... }
 */
export function createCatalog(deps: CatalogDeps): Catalog {
  const service = catalogService(deps.db, deps.clock);
  const availability: AvailabilityPort =
    deps.availability ?? (async (skus) => skus.map((sku) => ({ sku, available: 0 })));
  return {
    ...service,
    routes: [catalogRoutes(service, availability, deps.adminToken)],
    async seedDemo() {
      // One transaction (savepoints inside): a first start commits once instead of ~30 times.
      const created = await deps.db.transaction(async (tx) => {
        const seeding = catalogService(tx, deps.clock);
        for (const c of DEMO_CATEGORIES) await store.insertCategory(tx, c.slug, c.name);
        const existing = new Set(await store.allSkuCodes(tx));
        let n = 0;
        for (const product of DEMO_PRODUCTS) {
          if (product.skus.some((s) => existing.has(s.sku))) continue;
          await seeding.createProduct(product);
          n += 1;
        }
        return n;
      });
      if (created > 0) deps.logger.info({ products: created }, 'demo catalogue seeded');
    },
  };
}
