import type { Customers } from '../customers/index.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db.js';
import type { HttpModule } from '../platform/http.js';
import type { Logger } from '../platform/log.js';
import type { Metrics } from '../platform/metrics.js';
import { intervalWorker, type Worker } from '../platform/worker.js';
import { createCheckoutService, type CheckoutService } from './checkout-service.js';
import { cartRoutes } from './http.js';
import { createIdempotency, idempotentHandler, type Idempotency, type IdempotencyOptions, type IdempotentHandler } from './idempotency.js';
import { createOrderQueries, type OrderQueries } from './order-queries.js';
import { createOrderService, PAYMENT_EVENT_TYPES, type OrderService } from './order-service.js';
import { orderRoutes } from './orders-http.js';
import type { CatalogPort, EventsPort, InventoryPort, PaymentsPort } from './ports.js';
import { createStatusWatch, type StatusWatch } from './status-watch.js';

export type { CatalogPort, EventsPort, InventoryPort, PaymentsPort, Reservation, SkuView, StartPaymentInput, StartPaymentResult, PaymentMethod } from './ports.js';
export type { CheckoutInput, CheckoutResult, CartView, NextAction, PaymentChoice, CheckoutService } from './checkout-service.js';
export type { OrderService, ApplyOutcome } from './order-service.js';
export type { OrderQueries, OrderView, OrderStatusView } from './order-queries.js';
export type { Idempotency, IdempotentHandler, StoredResponse } from './idempotency.js';
export type { CheckoutErrorCode } from './errors.js';
export { ORDER_STATUSES, TRANSITIONS, decide, canTransition, type OrderStatus, type OrderInput, type Decision } from './domain/order-state.js';
export { ORDER_EVENT_TYPE, OrderEventV1, CHECKOUT_EVENTS } from './events.js';
export { shippingFee, FREE_SHIPPING_FROM } from './domain/totals.js';
export { PAYMENT_EVENT_TYPES };

/**
 * The Idempotency-Key machinery (the checkout context owns the keys table); built first so
 * the customers context can use it too.
 *
 * @example
 * const { idempotency, idempotent } = createIdempotencyGuard({ db, clock });
 */
export function createIdempotencyGuard(
  deps: { db: Database; clock: Clock } & Pick<IdempotencyOptions, 'leaseMs' | 'waitMs'>,
): { idempotency: Idempotency; idempotent: IdempotentHandler } {
  const idempotency = createIdempotency(deps);
  return { idempotency, idempotent: idempotentHandler(idempotency) };
}

export interface CheckoutDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  customers: Customers;
  catalog: CatalogPort;
  inventory: InventoryPort;
  payments: PaymentsPort;
  /** The event bus: consumes payments outcomes, wakes SSE streams after commit. */
  events?: EventsPort | undefined;
  idempotency: { idempotency: Idempotency; idempotent: IdempotentHandler };
  adminToken?: string | undefined;
  metrics?: Metrics;
  /** How often pending orders past their reservation are expired (ms). */
  expiryIntervalMs?: number;
}

export interface Checkout {
  service: CheckoutService;
  orders: OrderService;
  queries: OrderQueries;
  watch: StatusWatch;
  routes: HttpModule[];
  workers: Worker[];
  /** The payments-outcome handler the bus consumer runs (exposed for tests and tools). */
  handlePaymentEvent: OrderService['handlePaymentEvent'];
}

/**
 * The checkout context: carts, checkout, the order state machine, order status (poll + SSE)
 * and the consumer of payments outcomes.
 *
 * @example
 * const checkout = createCheckout({ db, clock, logger, customers, catalog, inventory, payments, events, idempotency });
 * app.register(...checkout.routes);
 */
export function createCheckout(deps: CheckoutDeps): Checkout {
  const { db, clock, logger } = deps;
  // Events committed by other processes (or consumers) reach the open status streams through
  // the bus's fan-out; it is subscribed to only while a stream is open.
  let unsubscribeBus: (() => void) | undefined;
  const watch = createStatusWatch({
    onActive: (active) => {
      if (!deps.events) return;
      if (!active) {
        unsubscribeBus?.();
        unsubscribeBus = undefined;
        return;
      }
      unsubscribeBus ??= deps.events.subscribe(['checkout.*', 'payments.*'], (event) => {
        const orderId = event.aggregateType === 'order' ? event.aggregateId : (event.payload as { orderId?: unknown } | null)?.orderId;
        if (typeof orderId === 'string') watch.notify(orderId);
      });
    },
  });
  const orders = createOrderService({
    db, clock, logger, inventory: deps.inventory, payments: deps.payments, onCommitted: (id) => watch.notify(id),
  });
  const service = createCheckoutService({
    db, clock, logger, catalog: deps.catalog, inventory: deps.inventory, payments: deps.payments,
    customers: deps.customers.service, orders, ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
  const queries = createOrderQueries(db);
  const requireCustomer = deps.customers.requireCustomer;
  const idempotent = deps.idempotency.idempotent;

  const workers: Worker[] = [
    intervalWorker('checkout-expiry', deps.expiryIntervalMs ?? 5_000, logger, async () => (await orders.expireDue(100)) === 100),
    intervalWorker('checkout-idempotency-prune', 3_600_000, logger, async () => (await deps.idempotency.idempotency.prune()) === 10_000),
  ];
  if (deps.events) {
    workers.push(deps.events.consumer({ name: 'checkout.payments', types: [...PAYMENT_EVENT_TYPES], handle: (tx, event) => orders.handlePaymentEvent(tx, event) }));
  }

  return {
    service,
    orders,
    queries,
    watch,
    routes: [
      cartRoutes({ service, idempotent, requireCustomer }),
      orderRoutes({ queries, orders, idempotent, requireCustomer, watch, logger, adminToken: deps.adminToken }),
    ],
    workers,
    handlePaymentEvent: (tx, event) => orders.handlePaymentEvent(tx, event),
  };
}
