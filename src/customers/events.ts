import { z } from 'zod';
import { defineEvent, type EventDefinition } from '../events/index.js';

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

/** The event types customers publishes, registered with the bus for the generated catalogue. */
export const CUSTOMERS_EVENTS: readonly EventDefinition[] = [
  defineEvent({
    type: 'customers.customer_registered', version: 1, aggregateType: 'customer', schema: CustomerRegisteredV1,
    description: 'A customer registered (or a guest checked out for the first time). No email or name.',
  }),
  defineEvent({
    type: 'customers.address_added', version: 1, aggregateType: 'customer', schema: AddressAddedV1,
    description: 'A delivery address was added: comuna and región only (no street, number or recipient).',
  }),
];
