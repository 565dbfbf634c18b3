import { z } from 'zod';
import { defineEvent, type EventDefinition } from '../events/index.js';

/** `catalog.sku_changed` v1: the SKU as it is after the change (a public contract). */
export const SkuChangedV1 = z
  .object({
    sku: z.string(),
    productId: z.string().uuid(),
    name: z.string(),
    category: z.string(),
    price: z.number().int().nonnegative(),
    currency: z.literal('CLP'),
    active: z.boolean(),
    attributes: z.record(z.string(), z.string()),
  })
  .strict();
export type SkuChangedV1 = z.infer<typeof SkuChangedV1>;

/** `catalog.product_changed` v1: the product after the change. */
export const ProductChangedV1 = z
  .object({
    productId: z.string().uuid(),
    name: z.string(),
    description: z.string(),
    category: z.string(),
    active: z.boolean(),
  })
  .strict();
export type ProductChangedV1 = z.infer<typeof ProductChangedV1>;

export const CATALOG_SKU_CHANGED = 'catalog.sku_changed';
export const CATALOG_PRODUCT_CHANGED = 'catalog.product_changed';

/** The event types catalog publishes, registered with the bus for the generated catalogue. */
export const CATALOG_EVENTS: readonly EventDefinition[] = [
  defineEvent({
    type: CATALOG_SKU_CHANGED, version: 1, aggregateType: 'sku', schema: SkuChangedV1,
    description: 'A SKU was created or changed (price, name, category, active, attributes): the SKU as it is after the change.',
  }),
  defineEvent({
    type: CATALOG_PRODUCT_CHANGED, version: 1, aggregateType: 'product', schema: ProductChangedV1,
    description: 'A product was created or changed: the product as it is after the change (its SKUs follow as `catalog.sku_changed`).',
  }),
];
