import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/log.js';
import { intervalWorker, type Worker } from '../platform/worker.js';
import type { Database } from '../platform/db.js';
import type { HttpModule } from '../platform/http.js';
import { customersRoutes, requireCustomer, type IdempotentRunner } from './http.js';
import { createCustomersService, type Customer, type CustomersService } from './service.js';
import type { FastifyRequest } from 'fastify';

export { CHILE_REGIONS, findComuna, findRegion, type ChileRegion } from './domain/chile-regions.js';
export { validateAddress, type AddressInput, type DeliveryAddress, type AddressProblem } from './domain/address.js';
export { AddressBody } from './http.js';
export type { Address, Customer, CustomersService, NewSession } from './service.js';
export type { CustomersErrorCode } from './errors.js';
export { CUSTOMERS_EVENTS } from './events.js';
export type { IdempotentRunner } from './http.js';

export interface CustomersDeps {
  db: Database;
  clock: Clock;
  /** Runs POST handlers under their Idempotency-Key (from the checkout context). */
  idempotent: IdempotentRunner;
  logger?: Logger;
  sessionTtlMs?: number;
}

export interface Customers {
  service: CustomersService;
  routes: HttpModule;
  /** Deletes expired sessions hourly. */
  workers: Worker[];
  /** The signed-in customer of a request; throws `unauthenticated` (401) otherwise. */
  requireCustomer: (req: FastifyRequest) => Promise<Customer>;
}

/**
 * The customers context: accounts (registered or guest), sessions and Chilean delivery
 * addresses.
 *
 * @example
 * const customers = createCustomers({ db, clock, idempotent });
 * const { token } = await customers.service.guest({ email: 'ana@example.cl' });
 */
export function createCustomers(deps: CustomersDeps): Customers {
  const service = createCustomersService(deps);
  return {
    service,
    routes: customersRoutes(service, deps.idempotent),
    workers: deps.logger ? [intervalWorker('customers-session-prune', 3_600_000, deps.logger, async () => { await service.pruneSessions(); })] : [],
    requireCustomer: (req) => requireCustomer(service, req),
  };
}
