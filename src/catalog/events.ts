import { z } from 'zod';

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
