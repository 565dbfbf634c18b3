import { momentAt, type Peak } from './calendar.js';
import { generateCatalogue, type SimCatalogue, type SimSku } from './catalogue.js';
import { generateCustomers, type PaymentHabit, type SimCustomer } from './people.js';
import { createRng, type Rng } from './rng.js';

export type SessionKind = 'browse' | 'abandon' | 'buy';
/** What the processor will answer, decided up front so a seed always tells the same story. */
export type PlannedOutcome = 'approve' | 'decline' | 'cash_paid' | 'cash_expired';
export type FraudPattern = 'card_testing' | 'stolen_card';

export interface PlannedSession {
  no: number;
  at: Date;
  customer: number;
  kind: SessionKind;
  /** SKUs looked at (browse) or put in the cart. */
  lines: { sku: string; quantity: number }[];
  method: PaymentHabit;
  outcome: PlannedOutcome;
  fraud: FraudPattern | null;
  peak: Peak['name'] | null;
  /** After an approval: when the order ships, is refunded (part or all), comes back, is charged back. */
  after: {
    fulfilMs?: number;
    cashPaidMs?: number;
    refund?: { ms: number; fraction: number; returned: boolean };
    chargebackMs?: number;
  };
}

export interface PlanOptions {
  seed: number | string;
  from: Date;
  to: Date;
  /** Buying sessions on an ordinary day (peaks multiply it). */
  ordersPerDay: number;
  skuCount: number;
  customerCount: number;
  /** Share of approved orders refunded (some with the goods returned). */
  refundRate?: number;
  /** Average days between fraud episodes of each pattern (0 disables fraud). */
  fraudEveryDays?: number;
}

export interface Plan {
  seed: string;
  catalogue: SimCatalogue;
  customers: SimCustomer[];
  sessions: PlannedSession[];
}

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** Session mix: most sessions only browse; of those who fill a cart, most buy. */
const KIND_WEIGHTS = { browse: 0.5, abandon: 0.18, buy: 0.32 };

/**
 * The whole story for a seed: catalogue, customers and every session between `from` and `to`
 * with its outcome and follow-ups. Pure and deterministic: same options, same plan.
 *
 * @example
 * const plan = generatePlan({ seed: 7, from: new Date('2026-05-01'), to: new Date('2026-07-01'), ordersPerDay: 40, skuCount: 3000, customerCount: 2000 });
 */
export function generatePlan(options: PlanOptions): Plan {
  const seed = String(options.seed);
  const root = createRng(seed);
  const catalogue = generateCatalogue(root.fork('catalogue'), options.skuCount);
  const customers = generateCustomers(root.fork('customers'), options.customerCount, seed);
  const rng = root.fork('sessions');
  const picker = cumulative(customers.map((c) => c.activity));
  const skuPicker = cumulative(catalogue.skus.map((s) => s.weight));
  const sessionsPerDay = options.ordersPerDay / KIND_WEIGHTS.buy;
  const refundRate = options.refundRate ?? 0.05;

  const sessions: PlannedSession[] = [];
  for (let t = startOfHour(options.from); t < options.to.getTime(); t += HOUR) {
    const moment = momentAt(new Date(t));
    const n = rng.poisson((sessionsPerDay / 24) * moment.intensity);
    for (let i = 0; i < n; i++) {
      const at = new Date(t + Math.floor(rng.next() * HOUR));
      if (at.getTime() < options.from.getTime() || at.getTime() >= options.to.getTime()) continue;
      const customer = pickIndex(picker, rng.next());
      const kindRoll = rng.next();
      const kind: SessionKind = kindRoll < KIND_WEIGHTS.browse ? 'browse' : kindRoll < KIND_WEIGHTS.browse + KIND_WEIGHTS.abandon ? 'abandon' : 'buy';
      const lines = basket(rng, catalogue.skus, skuPicker, kind === 'browse' ? rng.int(2, 6) : rng.int(1, 4));
      const method = (customers[customer] as SimCustomer).habit;
      sessions.push(ordinary(rng, { at, customer, kind, lines, method, peak: moment.peak, refundRate }));
    }
  }

  const fraudEvery = options.fraudEveryDays ?? 20;
  if (fraudEvery > 0) addFraud(root.fork('fraud'), options, catalogue, customers, sessions, fraudEvery);

  sessions.sort((a, b) => a.at.getTime() - b.at.getTime() || a.customer - b.customer);
  sessions.forEach((s, i) => {
    s.no = i;
  });
  return { seed, catalogue, customers, sessions };
}

function ordinary(
  rng: Rng,
  s: { at: Date; customer: number; kind: SessionKind; lines: PlannedSession['lines']; method: PaymentHabit; peak: PlannedSession['peak']; refundRate: number },
): PlannedSession {
  let outcome: PlannedOutcome = 'approve';
  if (s.method === 'mercadopago_cash') outcome = rng.chance(0.75) ? 'cash_paid' : 'cash_expired';
  else if (s.method === 'webpay' && rng.chance(0.07)) outcome = 'decline';
  else if (s.method === 'mercadopago_card' && rng.chance(0.08)) outcome = 'decline';
  const after: PlannedSession['after'] = {};
  if (s.kind === 'buy' && (outcome === 'approve' || outcome === 'cash_paid')) {
    if (outcome === 'cash_paid') after.cashPaidMs = rng.int(1, 48) * HOUR;
    after.fulfilMs = (after.cashPaidMs ?? 0) + rng.int(12, 72) * HOUR;
    if (rng.chance(s.refundRate)) {
      const returned = rng.chance(0.6);
      after.refund = { ms: after.fulfilMs + rng.int(2, 20) * DAY, fraction: returned || rng.chance(0.5) ? 1 : 0.3 + rng.next() * 0.5, returned };
    }
  }
  return { no: 0, at: s.at, customer: s.customer, kind: s.kind, lines: s.lines, method: s.method, outcome, fraud: null, peak: s.peak, after };
}

/**
 * Fraud episodes: card testing (a burst of tiny card payments, most declined, minutes apart)
 * and stolen cards (a few expensive approved orders within an hour, charged back weeks later).
 */
function addFraud(rng: Rng, options: PlanOptions, catalogue: SimCatalogue, customers: SimCustomer[], sessions: PlannedSession[], everyDays: number): void {
  const span = options.to.getTime() - options.from.getTime();
  const cheap = [...catalogue.skus].sort((a, b) => a.price - b.price).slice(0, 20);
  const pricey = [...catalogue.skus].filter((s) => s.category === 'sim-electro').sort((a, b) => b.price - a.price).slice(0, 30);
  for (const pattern of ['card_testing', 'stolen_card'] as const) {
    const episodes = rng.poisson(span / DAY / everyDays);
    for (let e = 0; e < episodes; e++) {
      const start = options.from.getTime() + Math.floor(rng.next() * span);
      // The fraudster is a new account each time, shipping anywhere.
      const victim = generateCustomers(rng, 1, `${String(options.seed)}-fraud-${pattern}-${e}`)[0] as SimCustomer;
      customers.push({ ...victim, no: customers.length, habit: 'mercadopago_card', activity: 0 });
      const customer = customers.length - 1;
      const n = pattern === 'card_testing' ? rng.int(8, 20) : rng.int(3, 6);
      let at = start;
      for (let i = 0; i < n; i++) {
        at += pattern === 'card_testing' ? rng.int(20, 240) * 1000 : rng.int(3, 15) * 60_000;
        if (at >= options.to.getTime()) break;
        const sku = pattern === 'card_testing' ? rng.pick(cheap) : rng.pick(pricey.length > 0 ? pricey : cheap);
        const approve = pattern === 'card_testing' ? rng.chance(0.15) : true;
        sessions.push({
          no: 0, at: new Date(at), customer, kind: 'buy', lines: [{ sku: sku.sku, quantity: 1 }], method: 'mercadopago_card',
          outcome: approve ? 'approve' : 'decline', fraud: pattern, peak: momentAt(new Date(at)).peak,
          after: pattern === 'stolen_card' ? { chargebackMs: rng.int(10, 40) * DAY } : {},
        });
      }
    }
  }
}

function basket(rng: Rng, skus: SimSku[], picker: Float64Array, n: number): PlannedSession['lines'] {
  const lines = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const s = skus[pickIndex(picker, rng.next())] as SimSku;
    lines.set(s.sku, Math.min(s.maxUnits, (lines.get(s.sku) ?? 0) + rng.int(1, Math.max(1, Math.ceil(s.maxUnits / 2)))));
  }
  return [...lines].map(([sku, quantity]) => ({ sku, quantity }));
}

function cumulative(weights: number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  weights.forEach((w, i) => {
    sum += w;
    out[i] = sum;
  });
  return out;
}

function pickIndex(cum: Float64Array, u: number): number {
  const target = u * (cum[cum.length - 1] ?? 0);
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cum[mid] ?? 0) > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function startOfHour(d: Date): number {
  return Math.floor(d.getTime() / HOUR) * HOUR;
}

/** Counts that summarise a plan (printed by the CLI, compared by the determinism test). */
export function planSummary(plan: Plan): Record<string, number> {
  const count = (f: (s: PlannedSession) => boolean) => plan.sessions.filter(f).length;
  return {
    skus: plan.catalogue.skus.length,
    customers: plan.customers.length,
    sessions: plan.sessions.length,
    buy: count((s) => s.kind === 'buy'),
    abandon: count((s) => s.kind === 'abandon'),
    browse: count((s) => s.kind === 'browse'),
    declines: count((s) => s.kind === 'buy' && s.outcome === 'decline'),
    refunds: count((s) => s.kind === 'buy' && s.after.refund !== undefined),
    fraud: count((s) => s.fraud !== null),
    peakSessions: count((s) => s.peak !== null),
  };
}
