import { createCatalog } from '../catalog/index.js';
import { createInventory } from '../inventory/index.js';
import { createCheckout, createIdempotencyGuard } from '../checkout/index.js';
import { createCustomers } from '../customers/index.js';
import { createEventBus, type EventBus } from '../events/index.js';
import { createAnalytics } from '../analytics/index.js';
import type { Config } from '../platform/config.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db.js';
import type { HttpModule, ReadinessCheck } from '../platform/http.js';
import type { Logger } from '../platform/log.js';
import type { Metrics } from '../platform/metrics.js';
import type { Worker } from '../platform/worker.js';
import { createPayments } from '../payments/index.js';
import { seedDemoHistory } from './simulate-cli.js';

/** What every context factory receives: one typed deps object, no container. */
export interface PlatformDeps {
  config: Config;
  db: Database;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  /** The event backbone, built first by buildContexts (tests may pass their own). */
  events: EventBus;
  /**
   * The processor simulator this process started (embedded role 'all'), with the Mercado Pago
   * credentials it was given, so payments can default to it. Absent when none runs here.
   */
  simulator?: { url: string; mpAccessToken: string; mpWebhookSecret: string };
}

/** The roles `embudo serve --role` accepts; `all` is the embedded single process. */
export const ROLES = ['api', 'catalog', 'inventory', 'checkout', 'payments', 'events', 'analytics', 'bi', 'storefront'] as const;
export type Role = (typeof ROLES)[number];

/** One context as the composition root sees it. */
export interface ContextRuntime {
  name: string;
  /** The roles that serve this context; every context is served by `all`. */
  roles: Role[];
  routes?: HttpModule[];
  workers?: Worker[];
  readiness?: Record<string, ReadinessCheck>;
  /** Runs once after migrations (e.g. demo seed on first start). */
  seed?: () => Promise<void>;
  close?: () => Promise<void>;
}

/**
 * Builds every context with plain factories, wiring each to the interfaces of the others.
 * Each context adds itself here.
 */
export async function buildContexts(base: Omit<PlatformDeps, 'events'> & { events?: EventBus }): Promise<ContextRuntime[]> {
  const events = base.events ?? createEventBus({
    db: base.db, logger: base.logger, metrics: base.metrics, clock: base.clock,
    natsUrl: base.config.natsUrl, dataDir: base.config.dataDir,
  });
  const deps: PlatformDeps = { ...base, events };
  const eventsRuntime = events.runtime();
  return [
    { name: 'events', roles: ['events'], workers: eventsRuntime.workers, readiness: eventsRuntime.readiness },
    ...contextsOf(deps),
    // Last, so it closes after the contexts: every process holds the bus (LISTEN, NATS link).
    { name: 'events-bus', roles: [...ROLES], close: () => events.close() },
  ];
}

/** The business contexts' interfaces, wired to each other (what `embudo simulate` drives). */
export interface Services {
  catalog: ReturnType<typeof createCatalog>;
  inventory: ReturnType<typeof createInventory>;
  customers: ReturnType<typeof createCustomers>;
  payments: ReturnType<typeof createPayments>;
  checkout: ReturnType<typeof createCheckout>;
}

/**
 * Builds the business contexts with plain factories, each wired to the others' interfaces and
 * to the bus. `embudo simulate history` calls it with a manual clock set in the past.
 */
export function buildServices(deps: PlatformDeps): Services {
  const { db, logger, metrics, clock, config, events } = deps;
  // catalog ⇄ inventory: the catalogue shows availability; receipts check the catalogue.
  const inventory = createInventory({
    db, logger, metrics, clock,
    catalog: (skus) => catalog.getSkus(skus),
    reservationTtlSeconds: config.reservationTtlSeconds,
  });
  const catalog = createCatalog({ db, logger, clock, availability: (skus) => inventory.availability(skus) });
  // customers + checkout share the Idempotency-Key store (owned by checkout).
  const idempotency = createIdempotencyGuard({ db, clock });
  const customers = createCustomers({ db, clock, logger, idempotent: idempotency.idempotent });
  const payments = createPayments(deps);
  const checkout = createCheckout({
    db, clock, logger, metrics, customers, catalog, inventory, payments, events, idempotency, adminToken: config.adminToken,
  });
  return { catalog, inventory, customers, payments, checkout };
}

/** The business contexts, each wired to the others' interfaces and to the bus. */
function contextsOf(deps: PlatformDeps): ContextRuntime[] {
  const { config, events } = deps;
  const { catalog, inventory, customers, payments, checkout } = buildServices(deps);
  const analytics = createAnalytics({ ...deps, dataDir: config.dataDir, events });
  return [
    { name: 'catalog', roles: ['api', 'catalog'], routes: catalog.routes, seed: () => catalog.seedDemo() },
    {
      name: 'inventory',
      roles: ['api', 'inventory'],
      routes: inventory.routes,
      workers: inventory.workers,
      seed: async () => inventory.seedDemo(await catalog.listSkuCodes()),
      close: () => inventory.close(),
    },
    { name: 'customers', roles: ['api', 'checkout', 'storefront'], routes: [customers.routes], workers: customers.workers },
    { name: 'payments', roles: ['api', 'payments'], routes: [payments.routes], workers: payments.workers, close: () => payments.settle() },
    { name: 'checkout', roles: ['api', 'checkout'], routes: checkout.routes, workers: checkout.workers },
    // Last of the seeds: a few weeks of simulated past orders over the demo catalogue.
    { name: 'simulate', roles: ['api'], seed: async () => void (await seedDemoHistory(deps)) },
    { name: 'analytics', roles: ['analytics'], workers: analytics.workers, readiness: analytics.readiness, close: () => analytics.close() },
  ];
}
