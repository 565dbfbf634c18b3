import { CATALOG_EVENTS, createCatalog } from '../catalog/index.js';
import { createInventory, INVENTORY_EVENTS, type DemandPort } from '../inventory/index.js';
import { CHECKOUT_EVENTS, createCheckout, createIdempotencyGuard, FREE_SHIPPING_FROM, shippingFee } from '../checkout/index.js';
import { CHILE_REGIONS, createCustomers, CUSTOMERS_EVENTS } from '../customers/index.js';
import { consumerLag, createEventBus, type EventBus, type EventDefinition } from '../events/index.js';
import { createAnalytics } from '../analytics/index.js';
import { createBi } from '../bi/index.js';
import type { Config } from '../platform/config.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db.js';
import type { HttpModule, ReadinessCheck } from '../platform/http.js';
import type { Logger } from '../platform/log.js';
import type { Metrics } from '../platform/metrics.js';
import type { Worker } from '../platform/worker.js';
import { ROLES, type Role } from './roles.js';
import { createPayments, PAYMENTS_EVENTS } from '../payments/index.js';
import { createStorefront } from '../storefront/index.js';
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
export { ROLES, type Role } from './roles.js';

/** One context as the composition root sees it. */
export interface ContextRuntime {
  name: string;
  /** The roles that serve this context; every context is served by `all`. */
  roles: Role[];
  routes?: HttpModule[];
  workers?: Worker[];
  readiness?: Record<string, ReadinessCheck>;
  /** Runs once after migrations (e.g. demo seed on first start), beside the other seeds. */
  seed?: () => Promise<void>;
  /** Contexts whose seed must be done before this one's starts (when they seed in this process). */
  seedAfter?: string[];
  /**
   * Like `seed`, but after the platform serves requests: a slow first-start seed (the demo
   * history) that must not hold back readiness. Workers start once it is done; `signal`
   * aborts when the platform stops meanwhile.
   */
  seedInBackground?: (signal: AbortSignal) => Promise<void>;
  close?: () => Promise<void>;
}

/** Every event type the contexts publish (their versioned public contracts), for the catalogue. */
export const EVENT_DEFINITIONS: readonly EventDefinition[] = [
  ...CATALOG_EVENTS, ...INVENTORY_EVENTS, ...CUSTOMERS_EVENTS, ...CHECKOUT_EVENTS, ...PAYMENTS_EVENTS,
];

/**
 * Builds every context with plain factories, wiring each to the interfaces of the others.
 * Each context adds itself here.
 */
export async function buildContexts(base: Omit<PlatformDeps, 'events'> & { events?: EventBus }): Promise<ContextRuntime[]> {
  const events = base.events ?? createEventBus({
    db: base.db, logger: base.logger, metrics: base.metrics, clock: base.clock,
    natsUrl: base.config.natsUrl, dataDir: base.config.dataDir,
  });
  events.registerEvents(...EVENT_DEFINITIONS);
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
export function buildServices(deps: PlatformDeps, extra: { demand?: DemandPort } = {}): Services {
  const { db, logger, metrics, clock, config, events } = deps;
  // catalog ⇄ inventory: the catalogue shows availability; receipts check the catalogue.
  const inventory = createInventory({
    db, logger, metrics, clock,
    catalog: (skus) => catalog.getSkus(skus),
    reservationTtlSeconds: config.reservationTtlSeconds,
    adminToken: config.adminToken,
    // Replenishment forecasts from the warehouse's daily sales (analytics), where it runs.
    ...(extra.demand ? { demand: extra.demand } : {}),
  });
  const catalog = createCatalog({ db, logger, clock, availability: (skus) => inventory.availability(skus), adminToken: config.adminToken });
  // customers + checkout share the Idempotency-Key store (owned by checkout).
  const idempotency = createIdempotencyGuard({ db, clock });
  const customers = createCustomers({ db, clock, logger, idempotent: idempotency.idempotent });
  const payments = createPayments(deps);
  const checkout = createCheckout({
    db, clock, logger, metrics, customers, catalog, inventory, payments, events, idempotency, adminToken: config.adminToken,
  });
  return { catalog, inventory, customers, payments, checkout };
}

const ANALYTICS_STREAM_MS = 1_000;

/** The business contexts, each wired to the others' interfaces and to the bus. */
function contextsOf(deps: PlatformDeps): ContextRuntime[] {
  const { db, logger, metrics, clock, config, events } = deps;
  // The warehouse follows the OLTP database once a second (within seconds, as promised): each
  // streaming load has a fixed cost on DuckDB's threads, which share the CPU with the shop.
  // Under the 200/s live load: 41 -> 45 orders/s, platform CPU 19.6 -> 17.7 ms/order vs 250 ms.
  const analytics = createAnalytics({ ...deps, dataDir: config.dataDir, events, streamIntervalMs: ANALYTICS_STREAM_MS });
  const { catalog, inventory, customers, payments, checkout } = buildServices(deps, { demand: (q) => analytics.demandSeries(q) });
  const bi = createBi({
    db, logger, metrics, clock,
    secureCookies: config.publicBaseUrl?.startsWith('https:') ?? false,
    ports: {
      warehouse: analytics,
      skuCategories: async () => {
        const map = new Map<string, string>();
        for (let offset = 0; ; offset += 500) {
          const page = await catalog.listProducts({ activeOnly: false, limit: 500, offset });
          for (const p of page) for (const s of p.skus) map.set(s.sku, p.category);
          if (page.length < 500) return map;
        }
      },
      paymentsOperations: () => payments.operations(),
      consumerLag: () => consumerLag(db, clock.now()),
      purchaseOrders: async () => [...await inventory.purchaseOrders.list('draft'), ...await inventory.purchaseOrders.list('sent')],
      fraudReviews: payments.fraudReviews,
      fraudRuleReport: () => payments.fraudRuleReport(),
      reorderSuggestions: () => inventory.replenishment.suggestions(),
    },
  });
  const storefront = createStorefront({
    cards: payments.cards,
    requireCustomer: customers.requireCustomer,
    // Card tokenization goes from the browser straight to the processor (the simulator here).
    settings: () => ({
      mercadoPago: {
        baseUrl: config.payments.mpDefaulted && deps.simulator ? deps.simulator.url : config.payments.mpBaseUrl,
        publicKey: config.payments.mpPublicKey,
      },
      // What checkout will charge for delivery, so the pay button shows the real total.
      shipping: { freeFrom: FREE_SHIPPING_FROM, fees: Object.fromEntries(CHILE_REGIONS.map((r) => [r.code, shippingFee(0, r.code)])) },
    }),
  });
  return [
    { name: 'catalog', roles: ['api', 'catalog'], routes: catalog.routes, seed: () => catalog.seedDemo() },
    {
      name: 'inventory',
      roles: ['api', 'inventory'],
      routes: inventory.routes,
      workers: inventory.workers,
      seed: async () => inventory.seedDemo(await catalog.listSkuCodes()),
      seedAfter: ['catalog'],
      close: () => inventory.close(),
    },
    { name: 'customers', roles: ['api', 'checkout', 'storefront'], routes: [customers.routes], workers: customers.workers },
    { name: 'payments', roles: ['api', 'payments'], routes: [payments.routes], workers: payments.workers, close: () => payments.settle() },
    { name: 'checkout', roles: ['api', 'checkout'], routes: checkout.routes, workers: checkout.workers },
    { name: 'storefront', roles: ['storefront'], routes: storefront.routes },
    // After the demo catalogue: a few weeks of simulated past orders, while the shop already serves.
    { name: 'simulate', roles: ['api'], seedInBackground: async (signal) => void (await seedDemoHistory(deps, signal)) },
    { name: 'analytics', roles: ['analytics'], workers: analytics.workers, readiness: analytics.readiness, close: () => analytics.close() },
    // Where the warehouse is: the reorder job reads demand from it and writes purchase orders.
    { name: 'replenishment', roles: ['analytics'], workers: [inventory.replenishment.worker] },
    { name: 'bi', roles: ['bi'], routes: bi.routes, workers: bi.workers, seed: async () => void (await bi.ensureAdmin()) },
  ];
}
