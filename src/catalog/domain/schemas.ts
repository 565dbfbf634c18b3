import { z } from 'zod';

/** Input shapes of the catalog's use cases (validated at the edge and again in the service). */
export const SkuCode = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, . _ - (max 64)');
export const CategorySlug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'lowercase slug (max 64)');
/** CLP pesos: an integer, at most one trillion. */
export const Price = z.number().int().min(0).max(1_000_000_000_000);
export const Attributes = z
  .record(z.string().min(1).max(64), z.string().max(200))
  .refine((a) => Object.keys(a).length <= 50, 'at most 50 attributes');

export const NewSku = z
  .object({
    sku: SkuCode,
    name: z.string().min(1).max(200).optional(),
    price: Price,
    attributes: Attributes.default({}),
    active: z.boolean().default(true),
  })
  .strict();
export type NewSku = z.input<typeof NewSku>;

export const NewProduct = z
  .object({
    name: z.string().min(1).max(200),
    description: z.string().max(5000).default(''),
    category: CategorySlug,
    active: z.boolean().default(true),
    skus: z.array(NewSku).min(1).max(100),
  })
  .strict();
export type NewProduct = z.input<typeof NewProduct>;

export const ProductPatch = z
  .object({
    name: z.string().min(1).max(200).optional(),
    description: z.string().max(5000).optional(),
    category: CategorySlug.optional(),
    active: z.boolean().optional(),
  })
  .strict();
export type ProductPatch = z.input<typeof ProductPatch>;

export const SkuPatch = z
  .object({
    name: z.string().min(1).max(200).optional(),
    price: Price.optional(),
    attributes: Attributes.optional(),
    active: z.boolean().optional(),
  })
  .strict();
export type SkuPatch = z.input<typeof SkuPatch>;

export const NewCategory = z.object({ slug: CategorySlug, name: z.string().min(1).max(200) }).strict();
export type NewCategory = z.input<typeof NewCategory>;
