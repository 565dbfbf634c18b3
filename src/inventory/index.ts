import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db.js';
import type { HttpModule } from '../platform/http.js';
import type { Logger } from '../platform/log.js';
import type { Metrics } from '../platform/metrics.js';
import { counter, histogram } from '../platform/metrics.js';
import { intervalWorker, type Worker } from '../platform/worker.js';
import { reservationBatcher } from './batcher.js';
import { ReserveInput } from './domain/schemas.js';
import { availabilityFeed, type AvailabilityFeed } from './feed.js';
import { inventoryAdminGuard, inventoryAdminRoutes } from './http-admin.js';
import { inventoryRoutes } from './http.js';
import { parseInput } from './ledger.js';
import { purchaseOrderService, type PurchaseOrderService } from './purchase-orders.js';
import { replenishmentRoutes } from './http-replenishment.js';
import { replenishmentService, type DemandPort, type ReplenishmentService } from './replenishment.js';
import { reservationService, type Reservation } from './reservations.js';
import { stockService, type SkuCatalogPort, type StockService } from './service.js';
import { seedDemoStock } from './demo.js';

export type { Reservation } from './reservations.js';
export type { StockView, StockLevel, Location, InvariantReport, DriftRow, SkuCatalogPort } from './service.js';
export type { PurchaseOrder, PurchaseOrderStatus } from './purchase-orders.js';
export type { ReserveInput, ReceiptInput, AdjustmentInput, TransferInput, LocationInput, PurchaseOrderInput } from './domain/schemas.js';
export type { AvailabilityUpdate } from './feed.js';
export type { InventoryErrorCode } from './errors.js';
export type { DemandPort, DemandSeries, ReorderSuggestion, Supplier, PolicyView as ReplenishmentPolicy, ReplenishmentService } from './replenishment.js';
export { StockChangedV1, STOCK_CHANGED, INVENTORY_EVENTS } from './events.js';

export interface InventoryDeps {
  db: Database;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  /** Which SKUs exist (catalog.getSkus); receipts of other SKUs fail with `unknown_sku`. */
  catalog?: SkuCatalogPort;
  /** Default reservation TTL (seconds); 900 (15 minutes) when not given. */
  reservationTtlSeconds?: number;
  /** How often the sweeper looks for expired reservations; 1000 ms when not given. */
  sweepIntervalMs?: number;
  batch?: { maxBatch?: number; maxInFlight?: number; maxQueue?: number };
  /** Staff token for /admin/inventory routes (EMBUDO_ADMIN_TOKEN); those routes are off without it. */
  adminToken?: string | undefined;
  /** Daily demand per SKU-location (analytics' demandSeries); without it nothing is reordered. */
  demand?: DemandPort;
  /** How often the replenishment worker runs (ms); every 6 hours when not given. */
  replenishmentIntervalMs?: number;
}

export interface Inventory extends Omit<StockService, 'assertSku'> {
  /**
   * Reserves every line or nothing, with a TTL. Concurrent calls are group-committed.
   *
   * @example
   * const r = await inventory.reserve({ lines: [{ sku: 'ARROZ-1KG', quantity: 2 }], reference: orderId });
   * await inventory.commit(r.id); // when the payment is approved
   */
  reserve(input: ReserveInput): Promise<Reservation>;
  /** Idempotent; an expired reservation fails with `reservation_expired`. */
  commit(reservationId: string): Promise<Reservation>;
  /** Idempotent; a committed reservation fails with `reservation_committed`. */
  release(reservationId: string, reason?: string): Promise<Reservation>;
  getReservation(reservationId: string): Promise<Reservation>;
  /** Keeps an active reservation at least `ttlSeconds` more (orders held for fraud review). */
  extend(reservationId: string, ttlSeconds: number): Promise<Reservation>;
  /** Expires due reservations (what the sweeper runs); returns how many. */
  expireDue(limit?: number): Promise<number>;
  purchaseOrders: PurchaseOrderService;
  /**
   * Reorder points and purchase orders from demand. `worker` runs `run()` on a schedule; the
   * composition root places it where the warehouse is (the analytics role).
   */
  replenishment: ReplenishmentService & { worker: Worker };
  feed: AvailabilityFeed;
  routes: HttpModule[];
  workers: Worker[];
  /** Demo locations and stock for the given SKUs, unless stock already exists. */
  seedDemo(skus: string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The inventory context: locations, stock levels, reservations with a TTL (group-committed),
 * the append-only movement ledger, purchase orders and live availability.
 *
 * @example
 * const inventory = createInventory({ db, logger, metrics, clock, catalog: (skus) => catalog.getSkus(skus) });
 * const [{ available }] = await inventory.availability(['ARROZ-1KG']);
 */
export function createInventory(deps: InventoryDeps): Inventory {
  const stock = stockService(deps.db, deps.clock, deps.catalog);
  const reservations = reservationService(deps.db, deps.clock);
  const purchaseOrders = purchaseOrderService(deps.db, deps.clock, stock);
  const feed = availabilityFeed(deps.db, deps.logger);
  const batchSize = histogram(
    deps.metrics.registry,
    'embudo_inventory_reserve_batch_size',
    'Reservations applied per group-commit transaction',
    [],
    [1, 2, 4, 8, 16, 32, 64, 128, 256],
  );
  const batcher = reservationBatcher(deps.db, deps.clock, deps.logger, {
    onBatch: (size) => batchSize.observe(size),
    ttlSeconds: deps.reservationTtlSeconds ?? 900,
    maxBatch: deps.batch?.maxBatch ?? 256,
    maxInFlight: deps.batch?.maxInFlight ?? 2,
    maxQueue: deps.batch?.maxQueue ?? 20_000,
  });
  const outcomes = counter(deps.metrics.registry, 'embudo_inventory_reservations_total', 'Reservation requests by outcome', ['outcome']);
  const latency = histogram(
    deps.metrics.registry,
    'embudo_inventory_reserve_seconds',
    'Reservation latency including the group-commit wait',
    [],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  );
  const expired = counter(deps.metrics.registry, 'embudo_inventory_reservations_expired_total', 'Reservations expired by the sweeper');
  const sweepLimit = 200;
  const sweeper = intervalWorker('inventory-sweeper', deps.sweepIntervalMs ?? 1000, deps.logger, async () => {
    const n = await reservations.expireDue(sweepLimit);
    if (n > 0) expired.inc(n);
    return n === sweepLimit;
  });

  const replenishment = replenishmentService({ db: deps.db, clock: deps.clock, logger: deps.logger, stock, demand: deps.demand });
  const replenishmentWorker = intervalWorker('inventory-replenishment', deps.replenishmentIntervalMs ?? 6 * 3_600_000, deps.logger, async () => {
    await replenishment.run();
  });

  const { assertSku: _assertSku, ...stockApi } = stock;
  const inventory: Inventory = {
    ...stockApi,
    async reserve(input) {
      const started = performance.now();
      try {
        const r = await batcher.submit(parseInput(ReserveInput, input));
        outcomes.inc({ outcome: 'reserved' });
        return r;
      } catch (err) {
        outcomes.inc({ outcome: err instanceof Error && 'code' in err ? String(err.code) : 'error' });
        throw err;
      } finally {
        latency.observe((performance.now() - started) / 1000);
      }
    },
    commit: (id) => reservations.commit(id),
    release: (id, reason) => reservations.release(id, reason),
    getReservation: (id) => reservations.get(id),
    extend: (id, ttl) => reservations.extend(id, ttl),
    expireDue: (limit) => reservations.expireDue(limit),
    purchaseOrders,
    replenishment: { ...replenishment, worker: replenishmentWorker },
    feed,
    routes: [],
    workers: [sweeper],
    seedDemo: (skus) => seedDemoStock(deps.db, deps.clock, skus, deps.logger),
    async close() {
      await batcher.drain();
      await feed.close();
    },
  };
  const staffOnly = inventoryAdminGuard(deps.adminToken);
  inventory.routes = [inventoryRoutes(inventory, staffOnly), inventoryAdminRoutes(inventory, staffOnly), replenishmentRoutes(replenishment, staffOnly)];
  return inventory;
}
