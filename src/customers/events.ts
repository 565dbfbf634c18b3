import { z } from 'zod';

/** Events the customers context publishes (public contracts; no email or street in them). */
export const CustomerRegisteredV1 = z.object({
  customerId: z.uuid(),
  kind: z.enum(['registered', 'guest']),
  registeredAt: z.string(),
});
export type CustomerRegisteredV1 = z.infer<typeof CustomerRegisteredV1>;

export const AddressAddedV1 = z.object({
  customerId: z.uuid(),
  addressId: z.uuid(),
  comuna: z.string(),
  region: z.string(),
  regionCode: z.string(),
});
export type AddressAddedV1 = z.infer<typeof AddressAddedV1>;
