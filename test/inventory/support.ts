import { createCatalog, type Catalog } from '../../src/catalog/index.js';
import { createInventory, type Inventory, type InventoryDeps } from '../../src/inventory/index.js';
import { manualClock } from '../../src/platform/clock.js';
import type { Database } from '../../src/platform/db.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { capturingLogger } from '../support/platform.js';

export type ManualClock = ReturnType<typeof manualClock>;

/** Catalog + inventory on one database with a hand-moved clock, wired as in contexts.ts. */
export function buildInventory(db: Database, options: Partial<InventoryDeps> & { clock?: ManualClock } = {}) {
  const clock = options.clock ?? manualClock();
  const { logger } = capturingLogger('warn');
  const metrics = createMetrics();
  const holder: { catalog?: Catalog } = {};
  const inventory: Inventory = createInventory({
    db,
    logger,
    metrics,
    clock,
    catalog: (skus) => (holder.catalog ? holder.catalog.getSkus(skus) : Promise.resolve([])),
    ...options,
  });
  const catalog = createCatalog({ db, logger, clock, availability: (skus) => inventory.availability(skus) });
  holder.catalog = catalog;
  return { inventory, catalog, clock, logger, metrics };
}

let n = 0;
/** Creates a product with the given SKUs (price 1000 CLP each), a category on first use. */
export async function createSkus(catalog: Catalog, skus: string[]): Promise<void> {
  await catalog.createCategory({ slug: `cat-${++n}`, name: `Categoría ${n}` });
  await catalog.createProduct({ name: `Producto ${n}`, category: `cat-${n}`, skus: skus.map((sku) => ({ sku, price: 1000 })) });
}

export async function createLocations(inventory: Inventory, ids: string[]): Promise<void> {
  for (const [i, id] of ids.entries()) await inventory.createLocation({ id, name: id, kind: i === 0 ? 'warehouse' : 'store', priority: (i + 1) * 10 });
}

export async function count(db: Database, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT (${sql})::int AS n`, params);
  return rows[0]?.n ?? 0;
}
