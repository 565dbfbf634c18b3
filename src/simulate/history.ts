import type { Services } from '../main/contexts.js';
import { isAppError } from '../platform/errors.js';
import type { Logger } from '../platform/log.js';
import type { Plan, PlannedSession } from './plan.js';
import { CARDS, processorClient, type ProcessorClient } from './processor.js';

/** Where simulated stock is received and returned. */
export const SIM_LOCATION = { id: 'bodega-santiago', name: 'Bodega Santiago (Pudahuel)', kind: 'warehouse' as const, priority: 10 };

const HOUR = 3_600_000;
/** Sessions of one window run side by side with the clock at the window's start. */
const WINDOW = 15 * 60_000;

export interface HistoryOptions {
  services: Services;
  /** The clock every service was built with; history moves it through the plan. */
  clock: { now(): Date; set(d: Date): void };
  /** The processor simulator the payments context talks to. */
  simUrl: string;
  logger: Logger;
  /** Sessions run at once inside one 15-minute window (default 8). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
  /** Stops between windows (the platform stopping during a first start's background seed). */
  signal?: AbortSignal;
}

export interface HistoryResult {
  sessions: number;
  carts: number;
  orders: number;
  approved: number;
  declined: number;
  pending: number;
  outOfStock: number;
  fulfilled: number;
  refunds: number;
  returns: number;
  cashPaid: number;
  cashExpired: number;
  /** Cash vouchers that lapsed at the processor before the planned payment or expiry. */
  cashLapsed: number;
  chargebacks: number;
  receipts: number;
  errors: Record<string, number>;
  ms: number;
}

interface FollowUp {
  at: number;
  kind: 'fulfil' | 'refund' | 'pay_cash' | 'expire_cash' | 'chargeback';
  session: PlannedSession;
  orderId: string;
  attemptId: string | null;
  total: number;
}

interface CustomerState {
  id: string;
  email: string;
  addressId: string;
  cardId?: string;
}

/**
 * Plays a plan through the contexts' own interfaces with the clock set in the past: the
 * catalogue, stock receipts, customers and addresses, carts, checkouts and payments against
 * the processor simulator, then fulfilment, refunds, returns, cash payments and chargebacks
 * at their planned times. Payment outcomes reach orders through the real event consumer.
 */
export async function runHistory(plan: Plan, options: HistoryOptions): Promise<HistoryResult> {
  const started = performance.now();
  const { services, clock, logger } = options;
  const { catalog, inventory, customers, checkout, payments } = services;
  const sim = processorClient(options.simUrl);
  const result: HistoryResult = {
    sessions: 0, carts: 0, orders: 0, approved: 0, declined: 0, pending: 0, outOfStock: 0, fulfilled: 0,
    refunds: 0, returns: 0, cashPaid: 0, cashExpired: 0, cashLapsed: 0, chargebacks: 0, receipts: 0, errors: {}, ms: 0,
  };
  const fail = (what: string, err: unknown) => {
    const code = isAppError(err) ? err.code : err instanceof Error ? err.message.slice(0, 60) : 'error';
    const key = `${what}:${code}`;
    result.errors[key] = (result.errors[key] ?? 0) + 1;
    if (!isAppError(err)) logger.debug({ err, what }, 'simulated step failed');
  };
  const first = plan.sessions[0];
  if (!first) return { ...result, ms: 0 };

  // The shop before the first session: catalogue and opening stock.
  clock.set(new Date(first.at.getTime() - 86_400_000));
  await setUpCatalogue(plan, services);
  if (!(await inventory.listLocations()).some((l) => l.id === SIM_LOCATION.id)) await inventory.createLocation(SIM_LOCATION);
  const demand = plannedDemand(plan);
  result.receipts += await receive(services, [...demand.total].map(([sku, units]) => [sku, Math.ceil(units * 0.6) + 5]), 'opening stock');

  const people = new Map<number, Promise<CustomerState>>();
  const customerOf = (no: number): Promise<CustomerState> => {
    let known = people.get(no);
    if (!known) {
      known = (async () => {
        const c = plan.customers[no];
        if (!c) throw new Error(`no customer ${no} in the plan`);
        const { customer } = await customers.service.guest({ email: c.email, name: c.name });
        const address = await customers.service.addAddress(customer.id, c.address);
        return { id: customer.id, email: c.email, addressId: address.id };
      })();
      known.catch(() => people.delete(no));
      people.set(no, known);
    }
    return known;
  };

  const followUps: FollowUp[] = [];
  const schedule = (f: FollowUp) => {
    let i = followUps.length;
    while (i > 0 && (followUps[i - 1] as FollowUp).at > f.at) i--;
    followUps.splice(i, 0, f);
  };

  let toSettle: string[] = [];
  const runSession = async (s: PlannedSession): Promise<void> => {
    result.sessions++;
    if (s.kind === 'browse') {
      await catalog.getSkus(s.lines.map((l) => l.sku));
      return;
    }
    const who = await customerOf(s.customer);
    const cart = await checkout.service.createCart(who.id);
    result.carts++;
    for (const line of s.lines) await checkout.service.addLine(who.id, cart.id, line.sku, line.quantity);
    if (s.kind === 'abandon') return;
    const payment = await paymentChoice(s, who, services, sim);
    let r;
    try {
      r = await checkout.service.checkout({ id: who.id, email: who.email }, cart.id, { addressId: who.addressId, payment });
    } catch (err) {
      if (isAppError(err) && err.code === 'insufficient_stock') {
        result.outOfStock++;
        return;
      }
      throw err;
    }
    result.orders++;
    let status = r.payment.status;
    if (r.next.type === 'redirect' && s.method === 'webpay') {
      const location = await sim.webpayPay(r.next, s.outcome === 'decline' ? CARDS.masterReject : CARDS.visaApprove);
      const params = Object.fromEntries(new URL(location).searchParams);
      status = (await payments.webpayReturn(params)).status === 'approved' ? 'approved' : 'rejected';
    }
    // The outcome event moves the order; it must land before the clock leaves this window
    // (a reservation's time-to-live is measured on the same clock).
    if (status === 'approved' || status === 'rejected') toSettle.push(r.orderId);
    if (status === 'approved') result.approved++;
    else if (status === 'rejected') result.declined++;
    else result.pending++;
    const base = { session: s, orderId: r.orderId, attemptId: r.payment.attemptId, total: r.totals.total };
    const at = s.at.getTime();
    if (s.outcome === 'cash_paid' && s.after.cashPaidMs !== undefined) schedule({ ...base, at: at + s.after.cashPaidMs, kind: 'pay_cash' });
    if (s.outcome === 'cash_expired') schedule({ ...base, at: at + 3 * 86_400_000 - 60_000, kind: 'expire_cash' });
    if (status === 'approved' || s.outcome === 'cash_paid') {
      if (s.after.fulfilMs !== undefined) schedule({ ...base, at: at + s.after.fulfilMs, kind: 'fulfil' });
      if (s.after.refund) schedule({ ...base, at: at + s.after.refund.ms, kind: 'refund' });
      if (s.after.chargebackMs !== undefined) schedule({ ...base, at: at + s.after.chargebackMs, kind: 'chargeback' });
    }
  };

  /** A voucher another simulator instance already expired (its clock is the real one) lapses. */
  const cashStep = async (fn: () => Promise<unknown>): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (err) {
      if (err instanceof Error && /not pending/.test(err.message)) {
        result.cashLapsed++;
        return false;
      }
      throw err;
    }
  };

  const runFollowUp = async (f: FollowUp): Promise<void> => {
    const ref = async () => (f.attemptId ? (await payments.getAttempt(f.attemptId)).processorRef : null);
    switch (f.kind) {
      case 'pay_cash': {
        const id = await ref();
        if (!id) return;
        if (!(await cashStep(() => sim.payCash(id)))) return;
        await payments.runJanitor(20);
        result.cashPaid++;
        return;
      }
      case 'expire_cash': {
        const id = await ref();
        if (id && (await cashStep(() => sim.expireCash(id)))) result.cashExpired++;
        return;
      }
      case 'fulfil': {
        // A cash voucher that lapsed, or a late outcome: only paid orders ship.
        if ((await checkout.queries.status(f.orderId)).status !== 'paid') return;
        const outcome = await checkout.orders.apply(f.orderId, { type: 'fulfil' }, 'simulate');
        if (outcome.kind === 'transitioned') result.fulfilled++;
        return;
      }
      case 'refund': {
        const refund = f.session.after.refund;
        if (!refund) return;
        const amount = Math.max(1, Math.floor(f.total * refund.fraction));
        await checkout.orders.requestRefund(f.orderId, amount, refund.returned ? 'customer_return' : 'goodwill');
        result.refunds++;
        if (refund.returned) {
          for (const line of f.session.lines) {
            await inventory.returnStock({ sku: line.sku, locationId: SIM_LOCATION.id, quantity: line.quantity, reference: `return:${f.orderId}` });
          }
          result.returns++;
        }
        return;
      }
      case 'chargeback': {
        const id = await ref();
        if (!id) return;
        await sim.chargeback(id);
        result.chargebacks++;
        return;
      }
    }
  };

  let lastHour = Math.floor(first.at.getTime() / HOUR);
  let lastDay = Math.floor(first.at.getTime() / 86_400_000);
  const housekeeping = async (now: number) => {
    // What the platform's workers do on their intervals, at simulated time.
    while ((await checkout.orders.expireDue(200)) === 200);
    while ((await inventory.expireDue(200)) === 200);
    await payments.runJanitor(100);
    const day = Math.floor(now / 86_400_000);
    if (day !== lastDay) {
      lastDay = day;
      result.receipts += await restock(services, demand, day);
    }
  };

  const total = plan.sessions.length;
  const concurrency = Math.max(1, options.concurrency ?? 8);
  let i = 0;
  while (i < total) {
    if (options.signal?.aborted) {
      result.ms = Math.round(performance.now() - started);
      return result;
    }
    const windowStart = Math.floor((plan.sessions[i] as PlannedSession).at.getTime() / WINDOW) * WINDOW;
    while (followUps.length > 0 && (followUps[0] as FollowUp).at <= windowStart) {
      const f = followUps.shift() as FollowUp;
      clock.set(new Date(f.at));
      await runFollowUp(f).catch((err: unknown) => fail(f.kind, err));
    }
    clock.set(new Date(windowStart));
    const hour = Math.floor(windowStart / HOUR);
    if (hour !== lastHour) {
      lastHour = hour;
      await housekeeping(windowStart).catch((err: unknown) => fail('housekeeping', err));
    }
    const batch: PlannedSession[] = [];
    while (i < total && (plan.sessions[i] as PlannedSession).at.getTime() < windowStart + WINDOW) batch.push(plan.sessions[i++] as PlannedSession);
    // Sessions of one customer stay in order (one lane each); different customers run side by side.
    const lanes = new Map<number, PlannedSession[]>();
    for (const s of batch) lanes.set(s.customer, [...(lanes.get(s.customer) ?? []), s]);
    await inBatches([...lanes.values()], concurrency, async (lane) => {
      for (const s of lane) await runSession(s).catch((err: unknown) => fail(s.kind, err));
    });
    const waiting = toSettle;
    toSettle = [];
    await Promise.all(waiting.map((id) => settled(services, id).catch((err: unknown) => fail('settle', err))));
    options.onProgress?.(i, total);
  }
  // Follow-ups past the end of the plan that are already due at the plan's end are played;
  // later ones (a refund next month) belong to the future and are left out.
  const end = (plan.sessions[total - 1] as PlannedSession).at.getTime();
  for (const f of followUps.filter((x) => x.at <= end + HOUR)) {
    clock.set(new Date(f.at));
    await runFollowUp(f).catch((err: unknown) => fail(f.kind, err));
  }
  await housekeeping(clock.now().getTime()).catch((err: unknown) => fail('housekeeping', err));
  result.ms = Math.round(performance.now() - started);
  return result;
}

async function paymentChoice(s: PlannedSession, who: CustomerState, services: Services, sim: ProcessorClient) {
  switch (s.method) {
    case 'oneclick': {
      if (!who.cardId) {
        const start = await services.payments.cards.startInscription({ customerId: who.id, email: who.email, returnUrl: 'http://shop.embudo.test/cards' });
        await sim.inscribe(start, CARDS.visaApprove);
        const done = await services.payments.cards.finishInscription(start.token);
        if (!done.ok || !done.card) throw new Error(`inscription failed: ${done.reason ?? 'unknown'}`);
        who.cardId = done.card.id;
      }
      return { method: 'oneclick' as const, savedCardId: who.cardId };
    }
    case 'webpay':
      return { method: 'webpay' as const };
    case 'mercadopago_card': {
      const holder = s.outcome === 'decline' ? (s.fraud === 'card_testing' ? 'FUND' : 'OTHE') : 'APRO';
      return { method: 'mercadopago_card' as const, cardToken: await sim.mpCardToken(holder), paymentMethodId: 'master' };
    }
    case 'mercadopago_cash':
      return { method: 'mercadopago_cash' as const, paymentMethodId: 'servipag' };
  }
}

/** Waits until the payment outcome event has moved the order (the event consumer is running). */
async function settled(services: Services, orderId: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  while (Date.now() < deadline) {
    if ((await services.checkout.queries.status(orderId)).status !== 'pending_payment') return;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(50, delay * 2);
  }
  throw new Error(`order ${orderId} still pending after ${timeoutMs} ms`);
}

async function setUpCatalogue(plan: Plan, services: Services): Promise<void> {
  const { catalog } = services;
  const existingCategories = new Set((await catalog.listCategories()).map((c) => c.slug));
  for (const c of plan.catalogue.categories) if (!existingCategories.has(c.slug)) await catalog.createCategory(c);
  const firstSkus = plan.catalogue.products.map((p) => p.skus[0]?.sku ?? '');
  const existing = new Set<string>();
  for (let k = 0; k < firstSkus.length; k += 500) {
    for (const v of await catalog.getSkus(firstSkus.slice(k, k + 500))) existing.add(v.sku);
  }
  const missing = plan.catalogue.products.filter((p) => !existing.has(p.skus[0]?.sku ?? ''));
  await inBatches(missing, 8, (p) => catalog.createProduct(p));
}

function plannedDemand(plan: Plan): { total: Map<string, number>; byDay: Map<number, Map<string, number>> } {
  const total = new Map<string, number>();
  const byDay = new Map<number, Map<string, number>>();
  for (const s of plan.sessions) {
    if (s.kind !== 'buy') continue;
    const day = Math.floor(s.at.getTime() / 86_400_000);
    let m = byDay.get(day);
    if (!m) byDay.set(day, (m = new Map<string, number>()));
    for (const l of s.lines) {
      total.set(l.sku, (total.get(l.sku) ?? 0) + l.quantity);
      m.set(l.sku, (m.get(l.sku) ?? 0) + l.quantity);
    }
  }
  return { total, byDay };
}

/** The daily replenishment: SKUs that will not cover the next week get two weeks of demand. */
async function restock(services: Services, demand: ReturnType<typeof plannedDemand>, day: number): Promise<number> {
  const coming = new Map<string, number>();
  for (let d = day; d < day + 14; d++) {
    for (const [sku, units] of demand.byDay.get(d) ?? []) coming.set(sku, (coming.get(sku) ?? 0) + units);
  }
  if (coming.size === 0) return 0;
  const skus = [...coming.keys()];
  const low: [string, number][] = [];
  for (let k = 0; k < skus.length; k += 500) {
    for (const a of await services.inventory.availability(skus.slice(k, k + 500))) {
      const need = coming.get(a.sku) ?? 0;
      if (a.available < need / 2) low.push([a.sku, need + 3]);
    }
  }
  return receive(services, low, 'replenishment');
}

async function receive(services: Services, lines: [string, number][], reference: string): Promise<number> {
  await inBatches(lines, 8, ([sku, quantity]) => services.inventory.receive({ sku, locationId: SIM_LOCATION.id, quantity: Math.min(quantity, 1_000_000), reference }));
  return lines.length;
}

async function inBatches<T>(items: readonly T[], size: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let k = 0; k < items.length; k += size) await Promise.all(items.slice(k, k + size).map(fn));
}
