import { defineErrors } from '../platform/errors.js';

/** The customers context's error codes. */
export const customersError = defineErrors({
  email_taken: 'conflict',
  invalid_credentials: 'unauthorized',
  unauthenticated: 'unauthorized',
  weak_password: 'invalid',
  invalid_address: 'invalid',
  address_not_found: 'not_found',
  customer_not_found: 'not_found',
  too_many_addresses: 'conflict',
});

export type CustomersErrorCode = Parameters<typeof customersError>[0];
