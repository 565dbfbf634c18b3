import { z } from 'zod';

/** Input shapes of inventory use cases, shared by the HTTP edge and the service. */
export const SkuCode = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, . _ - (max 64)');
export const LocationId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'lowercase slug (max 64)');
/** A quantity of units: positive, at most one million in one operation. */
export const Quantity = z.number().int().min(1).max(1_000_000);
const Reference = z.string().min(1).max(200);

export const ReserveInput = z
  .object({
    lines: z
      .array(z.object({ sku: SkuCode, quantity: Quantity, locationId: LocationId.optional() }).strict())
      .min(1)
      .max(100),
    ttlSeconds: z.number().int().min(1).max(7 * 24 * 3600).optional(),
    reference: Reference.optional(),
  })
  .strict();
export type ReserveInput = z.input<typeof ReserveInput>;

export const ReceiptInput = z
  .object({ sku: SkuCode, locationId: LocationId, quantity: Quantity, reference: Reference.optional() })
  .strict();
export type ReceiptInput = z.input<typeof ReceiptInput>;

export const ReturnInput = ReceiptInput;
export type ReturnInput = ReceiptInput;

export const AdjustmentInput = z
  .object({
    sku: SkuCode,
    locationId: LocationId,
    delta: z.number().int().min(-1_000_000).max(1_000_000).refine((d) => d !== 0, 'must not be zero'),
    reason: z.string().min(1).max(500),
  })
  .strict();
export type AdjustmentInput = z.input<typeof AdjustmentInput>;

export const TransferInput = z
  .object({ sku: SkuCode, fromLocationId: LocationId, toLocationId: LocationId, quantity: Quantity, reference: Reference.optional() })
  .strict()
  .refine((t) => t.fromLocationId !== t.toLocationId, { message: 'from and to must differ', path: ['toLocationId'] });
export type TransferInput = z.input<typeof TransferInput>;

export const LocationInput = z
  .object({
    id: LocationId,
    name: z.string().min(1).max(200),
    kind: z.enum(['warehouse', 'store']),
    priority: z.number().int().min(0).max(1_000_000).default(100),
  })
  .strict();
export type LocationInput = z.input<typeof LocationInput>;

export const PurchaseOrderInput = z
  .object({
    supplier: z.string().min(1).max(200),
    locationId: LocationId,
    expectedDate: z.string().date().optional(),
    lines: z
      .array(z.object({ sku: SkuCode, quantity: Quantity, unitCost: z.number().int().min(0).max(1_000_000_000_000) }).strict())
      .min(1)
      .max(500),
  })
  .strict();
export type PurchaseOrderInput = z.input<typeof PurchaseOrderInput>;
