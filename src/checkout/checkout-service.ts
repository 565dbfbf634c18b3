import { randomUUID } from 'node:crypto';
import type { AddressInput, CustomersService, DeliveryAddress } from '../customers/index.js';
import { validateAddress } from '../customers/index.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db.js';
import { isAppError } from '../platform/errors.js';
import type { Logger } from '../platform/log.js';
import { groupCommit } from '../platform/group-commit.js';
import { histogram, type Metrics } from '../platform/metrics.js';
import { priceLines, type PricedLine, type Totals } from './domain/totals.js';
import { checkoutError } from './errors.js';
import type { OrderService } from './order-service.js';
import { orderWriter } from './order-writer.js';
import { putLines, type PutLineInput } from './put-lines.js';
import type { CatalogPort, InventoryPort, PaymentMethod, PaymentsPort, SkuView, StartPaymentInput, StartPaymentResult } from './ports.js';
import * as store from './store.js';

export interface CheckoutServiceDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  catalog: CatalogPort;
  inventory: InventoryPort;
  payments: PaymentsPort;
  customers: Pick<CustomersService, 'getAddress'>;
  orders: OrderService;
  /** Per-step latency of checkout (`embudo_checkout_step_seconds{step}`). */
  metrics?: Metrics;
}

export type PaymentChoice =
  | { method: 'oneclick'; savedCardId: string }
  | { method: 'webpay'; returnUrl?: string | undefined }
  | { method: 'mercadopago_card'; cardToken: string; paymentMethodId: string }
  | { method: 'mercadopago_cash'; paymentMethodId: string };

export interface CheckoutInput {
  addressId?: string | undefined;
  address?: AddressInput | undefined;
  payment: PaymentChoice;
  /** The total the shopper saw; a different computed total is refused (`total_mismatch`). */
  expectedTotal?: number | undefined;
  currency?: string | undefined;
}

/** What the client does next after checkout. */
export type NextAction =
  | { type: 'redirect'; url: string; token: string; method: 'POST' | 'GET'; field: string }
  | { type: 'result'; outcome: 'approved' | 'rejected'; reason?: string }
  | { type: 'wait' };

/** Who is checking out, as the edge sees it (for fraud prevention). */
export interface ShopperSignals {
  ip?: string | undefined;
  deviceId?: string | undefined;
}

export interface CheckoutResult {
  orderId: string;
  status: 'pending_payment' | 'payment_failed';
  totals: Totals;
  lines: PricedLine[];
  payment: { attemptId: string | null; status: StartPaymentResult['status'] | 'unknown'; reason?: string };
  next: NextAction;
}

export interface CartView {
  id: string;
  status: store.CartRow['status'];
  orderId: string | null;
  lines: PricedLine[];
  totals: Totals;
  unavailable: string[];
}

export const MAX_LINES = 50;
const MAX_QTY = 99;
/** Amounts are stored as PostgreSQL integers (CLP has no minor unit): at most 2^31 − 1 pesos. */
const MAX_TOTAL = 2_147_483_647;

/** How long stock is held per payment method: redirects take minutes, cash takes days. */
const RESERVATION_TTL_S: Record<PaymentMethod, number> = {
  oneclick: 600,
  webpay: 1_200,
  mercadopago_card: 900,
  mercadopago_cash: 3 * 24 * 3600,
};

export function createCheckoutService(deps: CheckoutServiceDeps) {
  const { db, clock, logger, catalog, inventory, payments, orders } = deps;
  const writer = orderWriter(db, logger);
  // Concurrent checkouts claim their carts in one statement (group commit).
  type CartClaim = { cartId: string; customerId: string; orderId: string };
  const claimCart = groupCommit(async (claims: CartClaim[]) => {
    // A cart twice in one batch (a double click): only its first claim is tried.
    const first = new Map<string, CartClaim>();
    for (const c of claims) if (!first.has(c.cartId)) first.set(c.cartId, c);
    const lines = await store.claimCarts(db, [...first.values()], clock.now());
    return claims.map((c) => (first.get(c.cartId) === c ? lines.get(c.cartId) : undefined));
  });
  // Concurrent checkouts price their lines with one catalog read (the prices in force when
  // the batch runs, as a read of their own would see them).
  const skuViews = groupCommit(async (lists: string[][]) => {
    const views = new Map((await catalog.getSkus([...new Set(lists.flat())])).map((v) => [v.sku, v]));
    return lists.map((skus) => skus.flatMap((sku) => views.get(sku) ?? []));
  }, { maxInFlight: 4 });
  // Concurrent requests create their carts in one statement, and checkouts that failed before
  // their order existed give their carts back in one (a sold-out SKU's 409s come in bursts):
  // each was a round trip and a commit of its own.
  const newCart = groupCommit((carts: { id: string; customerId: string; now: Date }[]) => store.insertCarts(db, carts));
  const reopenCart = groupCommit(async (carts: { cartId: string; orderId: string }[]) => {
    await store.reopenCarts(db, carts, clock.now());
    return carts.map(() => undefined);
  }, { maxInFlight: 1 });
  // Line changes of concurrent requests on different carts share one statement per batch (a
  // cart's second change in a batch waits for the next one): each was a round trip and a commit.
  const putLineBatched = groupCommit(
    (inputs: PutLineInput[]) => putLines(db, inputs, { maxQuantity: MAX_QTY, maxLines: MAX_LINES }, clock.now()),
    { key: (i) => i.cartId.toLowerCase() },
  );
  // The redirect (or voucher) each new order's client is sent to, for a client that lost the
  // answer: one statement for the checkouts of a batch (an order is in at most one: its own).
  const paymentView = groupCommit(async (views: { orderId: string; paymentStatus: string; nextAction: unknown }[]) => {
    await store.setPaymentViews(db, views, clock.now());
    return views.map(() => undefined);
  });
  const steps = deps.metrics
    ? histogram(deps.metrics.registry, 'embudo_checkout_step_seconds', 'Latency of each checkout step', ['step'], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])
    : undefined;
  const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    if (!steps) return fn();
    const end = steps.startTimer({ step });
    try {
      return await fn();
    } finally {
      end();
    }
  };

  const ownCart = async (customerId: string, cartId: string, lock = false, tx: import('../platform/db.js').Db = db) => {
    const cart = await store.findCart(tx, cartId, lock);
    if (!cart || cart.customer_id !== customerId) throw checkoutError('cart_not_found', 'no such cart');
    return cart;
  };

  const lookup = async (skus: string[]) => new Map((await skuViews(skus)).map((v) => [v.sku, v]));
  /** Prices lines from catalog views: unknown SKUs, inactive ones and foreign currencies are refused. */
  const priceFrom = (views: Map<string, SkuView>, lines: { sku: string; quantity: number }[], regionCode?: string) => {
    const unknown = lines.filter((l) => !views.has(l.sku)).map((l) => l.sku);
    if (unknown.length > 0) throw checkoutError('unknown_sku', `unknown SKU: ${unknown.join(', ')}`, { skus: unknown });
    const inactive = lines.filter((l) => views.get(l.sku)?.active === false).map((l) => l.sku);
    if (inactive.length > 0) throw checkoutError('sku_unavailable', `no longer sold: ${inactive.join(', ')}`, { skus: inactive });
    const foreign = lines.filter((l) => views.get(l.sku)?.currency !== 'CLP').map((l) => l.sku);
    if (foreign.length > 0) throw checkoutError('unsupported_currency', 'only CLP prices can be sold', { skus: foreign });
    return priceLines(lines.map((l) => {
      const v = views.get(l.sku);
      return { sku: l.sku, name: v?.name ?? l.sku, quantity: l.quantity, unitPrice: v?.price ?? 0 };
    }), regionCode);
  };
  const price = async (lines: { sku: string; quantity: number }[], regionCode?: string) => priceFrom(await lookup(lines.map((l) => l.sku)), lines, regionCode);

  /** The cart as the shopper sees it, priced now; `known` holds SKUs just read from the catalog. */
  const view = async (cart: Pick<store.CartRow, 'id' | 'status' | 'order_id'>, lines: store.CartLine[], known = new Map<string, SkuView>()): Promise<CartView> => {
    const missing = lines.filter((l) => !known.has(l.sku)).map((l) => l.sku);
    const views = new Map([...known, ...(missing.length ? await catalog.getSkus(missing) : []).map((v) => [v.sku, v] as const)]);
    const sellable = lines.filter((l) => views.get(l.sku)?.active === true && views.get(l.sku)?.currency === 'CLP');
    const priced = priceLines(sellable.map((l) => {
      const v = views.get(l.sku);
      return { sku: l.sku, name: v?.name ?? l.sku, quantity: l.quantity, unitPrice: v?.price ?? 0 };
    }));
    return {
      id: cart.id, status: cart.status, orderId: cart.order_id, lines: priced.lines, totals: priced.totals,
      unavailable: lines.filter((l) => !sellable.includes(l)).map((l) => l.sku),
    };
  };

  /** Removes a line under the cart's row lock so a concurrent checkout sees all or nothing. */
  const dropLine = async (customerId: string, cartId: string, sku: string) => {
    await db.transaction(async (tx) => {
      const cart = await ownCart(customerId, cartId, true, tx);
      if (cart.status !== 'open') throw checkoutError('cart_not_open', 'the cart is already checked out', { orderId: cart.order_id });
      await store.deleteLine(tx, cartId, sku, clock.now());
    });
  };

  const ownCartView = async (customerId: string, cartId: string) => {
    const found = await store.findCartWithLines(db, cartId);
    if (!found || found.cart.customer_id !== customerId) throw checkoutError('cart_not_found', 'no such cart');
    return view(found.cart, found.lines);
  };

  /**
   * Adds units to (or sets) a line in one autocommit statement (see store.putLine; batched with
   * other carts' changes, put-lines.ts). When a
   * concurrent change to the same cart committed while it waited for the cart's lock, it is
   * run again holding that lock, so the limits are checked against the current lines.
   */
  const putLine = async (customerId: string, cartId: string, sku: string, quantity: number, add: boolean, known: Map<string, SkuView>) => {
    let r = await putLineBatched({ cartId, customerId, sku, quantity, add });
    if (r && !r.fresh && r.status === 'open') {
      r = await db.transaction(async (tx) => {
        await store.findCart(tx, cartId, true);
        return store.putLine(tx, { cartId, customerId, sku, quantity, add, maxQuantity: MAX_QTY, maxLines: MAX_LINES, now: clock.now() });
      });
    }
    if (!r) throw checkoutError('cart_not_found', 'no such cart');
    if (r.status !== 'open') throw checkoutError('cart_not_open', 'the cart is already checked out', { orderId: r.orderId });
    if (!r.written) {
      if (r.next > MAX_QTY) throw checkoutError('invalid_quantity', `at most ${MAX_QTY} units per line`);
      if (r.current === 0 && r.lineCount >= MAX_LINES) throw checkoutError('too_many_lines', `at most ${MAX_LINES} lines per cart`);
      throw new Error(`cart ${cartId}: line not written (fresh: ${r.fresh})`);
    }
    return view({ id: cartId, status: r.status, order_id: r.orderId }, r.lines, known);
  };

  const resolveAddress = async (customerId: string, input: CheckoutInput): Promise<DeliveryAddress> => {
    if (input.addressId) return deps.customers.getAddress(customerId, input.addressId);
    if (!input.address) throw checkoutError('address_required', 'choose a saved address (addressId) or give one (address)');
    const result = validateAddress(input.address);
    if (!result.ok) throw checkoutError('invalid_address', 'the address is not valid', { problems: result.problems });
    return result.address;
  };

  const startPayment = async (
    order: { id: string; total: number; customerId: string; email: string }, choice: PaymentChoice, risk: NonNullable<StartPaymentInput['risk']>,
  ): Promise<StartPaymentResult> => {
    const base = { orderId: order.id, amount: order.total, currency: 'CLP' as const, customerId: order.customerId, payerEmail: order.email, risk };
    switch (choice.method) {
      case 'oneclick':
        return payments.startPayment({ ...base, method: 'oneclick', savedCardId: choice.savedCardId });
      case 'webpay':
        return payments.startPayment({ ...base, method: 'webpay', ...(choice.returnUrl ? { returnUrl: choice.returnUrl } : {}) });
      case 'mercadopago_card':
        return payments.startPayment({ ...base, method: 'mercadopago_card', cardToken: choice.cardToken, paymentMethodId: choice.paymentMethodId });
      case 'mercadopago_cash':
        return payments.startPayment({ ...base, method: 'mercadopago_cash', paymentMethodId: choice.paymentMethodId });
    }
  };

  return {
    async createCart(customerId: string): Promise<CartView> {
      return view(await newCart({ id: randomUUID(), customerId, now: clock.now() }), []);
    },

    async getCart(customerId: string, cartId: string): Promise<CartView> {
      return ownCartView(customerId, cartId);
    },

    /** Adds units of a SKU (checked against the catalog) to an open cart. */
    async addLine(customerId: string, cartId: string, sku: string, quantity: number): Promise<CartView> {
      const known = await lookup([sku]);
      priceFrom(known, [{ sku, quantity }]);
      return putLine(customerId, cartId, sku, quantity, true, known);
    },

    async setLineQuantity(customerId: string, cartId: string, sku: string, quantity: number): Promise<CartView> {
      if (quantity > 0) {
        const known = await lookup([sku]);
        priceFrom(known, [{ sku, quantity }]);
        return putLine(customerId, cartId, sku, quantity, false, known);
      }
      await dropLine(customerId, cartId, sku);
      return ownCartView(customerId, cartId);
    },

    async removeLine(customerId: string, cartId: string, sku: string): Promise<CartView> {
      await dropLine(customerId, cartId, sku);
      return ownCartView(customerId, cartId);
    },

    /**
     * Checkout, as explicit steps with compensation: claim the cart (one order per cart, so a
     * double click cannot buy twice) → price from the catalog → reserve stock → record the
     * order in `pending_payment` with its outbox event → start the payment. A failure before
     * the order exists releases the reservation and reopens the cart; a payment that cannot
     * start moves the order to `payment_failed` and releases its stock.
     */
    async checkout(customer: { id: string; email: string }, cartId: string, input: CheckoutInput, signals: ShopperSignals = {}): Promise<CheckoutResult> {
      if (input.currency !== undefined && input.currency !== 'CLP') {
        throw checkoutError('unsupported_currency', 'checkout is in CLP only', { currency: input.currency });
      }
      const delivery = await resolveAddress(customer.id, input);
      const orderId = randomUUID();
      const now = clock.now();
      const risk = {
        deliveryRegion: delivery.regionCode,
        ...(signals.ip ? { ip: signals.ip } : {}),
        ...(signals.deviceId ? { deviceId: signals.deviceId } : {}),
      };
      // The payment's fraud features are read while the cart is claimed, priced and reserved.
      payments.readAhead?.({
        customerId: customer.id, method: input.payment.method, payerEmail: customer.email, risk,
        ...(input.payment.method === 'oneclick' ? { savedCardId: input.payment.savedCardId } : {}),
      });

      // No transaction needed: once claimed, line changes are refused (they check the status
      // under the cart's row lock), so the lines read with the claim are the ones ordered.
      const claimed = await timed('claim_cart', () => claimCart({ cartId, customerId: customer.id, orderId }));
      if (!claimed) {
        const cart = await ownCart(customer.id, cartId);
        throw checkoutError('cart_checked_out', 'this cart is already being checked out', { orderId: cart.order_id });
      }

      let reservation: Awaited<ReturnType<InventoryPort['reserve']>> | undefined;
      let priced: ReturnType<typeof priceLines>;
      try {
        if (claimed.length === 0) throw checkoutError('empty_cart', 'the cart is empty');
        priced = await timed('price', () => price(claimed, delivery.regionCode));
        if (priced.totals.subtotal <= 0 || priced.totals.total > MAX_TOTAL) {
          throw checkoutError('total_out_of_range', `an order must cost between 1 and ${MAX_TOTAL} CLP`, { totals: priced.totals });
        }
        if (input.expectedTotal !== undefined && input.expectedTotal !== priced.totals.total) {
          throw checkoutError('total_mismatch', 'the total changed; review the cart', { expected: input.expectedTotal, totals: priced.totals });
        }
        reservation = await timed('reserve', () => inventory.reserve({
          lines: claimed.map((l) => ({ sku: l.sku, quantity: l.quantity })),
          ttlSeconds: RESERVATION_TTL_S[input.payment.method],
          reference: orderId,
        }));
        const row: store.OrderRow = {
          id: orderId, customer_id: customer.id, cart_id: cartId, status: 'pending_payment', currency: 'CLP',
          subtotal: priced.totals.subtotal, shipping: priced.totals.shipping, total: priced.totals.total, refunded_amount: 0,
          payment_method: input.payment.method, payment_attempt_id: null, reservation_id: reservation.id,
          reservation_expires_at: reservation.expiresAt, delivery, version: 1, created_at: now, updated_at: now,
        };
        await timed('place_order', () => writer.place({ order: row, lines: priced.lines }));
      } catch (err) {
        if (reservation) await inventory.release(reservation.id, 'checkout_failed').catch((e: unknown) => logger.error({ err: e, orderId }, 'release after failed checkout'));
        await reopenCart({ cartId, orderId });
        throw err;
      }

      let payment: StartPaymentResult;
      try {
        payment = await timed('start_payment', () => startPayment({ id: orderId, total: priced.totals.total, customerId: customer.id, email: customer.email }, input.payment, risk));
      } catch (err) {
        if (isAppError(err) && err.kind !== 'unavailable') {
          // Nothing was charged: the payment could not even start. Give the stock back.
          await orders.apply(orderId, { type: 'payment_rejected', attemptId: 'not_started', reason: err.code }, 'checkout');
          return {
            orderId, status: 'payment_failed', totals: priced.totals, lines: priced.lines,
            payment: { attemptId: null, status: 'rejected', reason: err.code }, next: { type: 'result', outcome: 'rejected', reason: err.code },
          };
        }
        // The outcome is unknown (timeout, processor down): payments' janitor or the
        // reservation expiry settles it; the client follows the order status.
        logger.error({ err, orderId }, 'payment start failed; order stays pending');
        return {
          orderId, status: 'pending_payment', totals: priced.totals, lines: priced.lines,
          payment: { attemptId: null, status: 'unknown' }, next: { type: 'wait' },
        };
      }
      // A redirect is where the shopper goes next: the Webpay form, or a cash voucher to pay.
      const next: NextAction =
        payment.redirect && (payment.status === 'redirect' || payment.status === 'pending') ? { type: 'redirect', ...payment.redirect }
          : payment.status === 'approved' ? { type: 'result', outcome: 'approved' }
            : payment.status === 'rejected' ? { type: 'result', outcome: 'rejected', ...(payment.reason ? { reason: payment.reason } : {}) }
              : { type: 'wait' };
      // Approved/rejected: the outcome event moves the order and its view; only redirects and
      // pending payments leave something here for a client that lost this response.
      if (payment.status === 'redirect' || payment.status === 'pending') {
        await paymentView({ orderId, paymentStatus: payment.status, nextAction: next.type === 'redirect' ? next : null });
      }
      return {
        orderId, status: 'pending_payment', totals: priced.totals, lines: priced.lines,
        payment: { attemptId: payment.attemptId, status: payment.status, ...(payment.reason ? { reason: payment.reason } : {}) },
        next,
      };
    },
  };
}

export type CheckoutService = ReturnType<typeof createCheckoutService>;
