// Pure Transbank rules: test cards, dates, response shapes and the refund decision.
// Facts from transbankdevelopers.cl and the transbank-sdk-nodejs repository.

/** Commerce codes the integration environment knows (the SDK's IntegrationCommerceCodes). */
export const TBK_INTEGRATION_API_KEY = '579B532A7440BB0C9079DED94D31EA1615BACEB56610332264630D42D0A36B1C';

export interface CommerceInfo {
  kind: 'webpay_plus' | 'webpay_plus_mall' | 'oneclick_mall';
  deferred: boolean;
  children: string[];
}

export const COMMERCES: Record<string, CommerceInfo> = {
  '597055555532': { kind: 'webpay_plus', deferred: false, children: [] },
  '597055555584': { kind: 'webpay_plus', deferred: false, children: [] },
  '597055555540': { kind: 'webpay_plus', deferred: true, children: [] },
  '597055555535': { kind: 'webpay_plus_mall', deferred: false, children: ['597055555536', '597055555537'] },
  '597055555581': { kind: 'webpay_plus_mall', deferred: true, children: ['597055555582', '597055555583'] },
  '597055555541': { kind: 'oneclick_mall', deferred: false, children: ['597055555542', '597055555543'] },
  '597055555547': { kind: 'oneclick_mall', deferred: true, children: ['597055555548', '597055555549'] },
};

export interface TestCard {
  brand: 'Visa' | 'Mastercard' | 'AmericanExpress' | 'Redcompra' | 'Prepago';
  approves: boolean;
  paymentTypeCode: 'VN' | 'VD' | 'VP';
}

/** Transbank's integration test cards: VISA approves, Mastercard rejects (documented). */
export const TEST_CARDS: Record<string, TestCard> = {
  '4051885600446623': { brand: 'Visa', approves: true, paymentTypeCode: 'VN' },
  '370000000002032': { brand: 'AmericanExpress', approves: true, paymentTypeCode: 'VN' },
  '5186059559590568': { brand: 'Mastercard', approves: false, paymentTypeCode: 'VN' },
  '4051884239937763': { brand: 'Redcompra', approves: true, paymentTypeCode: 'VD' },
  '4511346660037060': { brand: 'Redcompra', approves: false, paymentTypeCode: 'VD' },
  '4051886000056590': { brand: 'Prepago', approves: true, paymentTypeCode: 'VP' },
};

/** A card the simulator does not know is treated like a rejecting one. */
export function cardOutcome(pan: string): TestCard & { last4: string } {
  const digits = pan.replace(/\D/g, '');
  const known = TEST_CARDS[digits];
  return { ...(known ?? { brand: 'Visa', approves: false, paymentTypeCode: 'VN' }), last4: digits.slice(-4) };
}

/** Transbank's accounting date: MMDD in Chile's time zone. */
// Built once: constructing an Intl.DateTimeFormat (time zone data) costs far more than using
// one, and every authorization formats dates (it was a fifth of the simulator's CPU).
const SANTIAGO_MONTH_DAY = new Intl.DateTimeFormat('en-US', { timeZone: 'America/Santiago', month: '2-digit', day: '2-digit' });
const SANTIAGO_DAY = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Santiago' });

export function accountingDate(at: Date): string {
  const parts = SANTIAGO_MONTH_DAY.formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '00';
  return `${get('month')}${get('day')}`;
}

/** Chile calendar day, for the reversal window (same accounting day only). */
export function chileDay(at: Date): string {
  return SANTIAGO_DAY.format(at);
}

/** Transbank timestamps: ISO with milliseconds and Z. */
export function tbkDate(at: Date): string {
  return at.toISOString();
}

export type LineStatus = 'INITIALIZED' | 'AUTHORIZED' | 'FAILED' | 'REVERSED' | 'NULLIFIED' | 'PARTIALLY_NULLIFIED' | 'CAPTURED';

export interface Refund {
  type: 'REVERSED' | 'NULLIFIED';
  amount: number;
  authorizationCode?: string;
  at: string;
}

/** One authorized (or rejected) amount: the whole Webpay Plus transaction, or one store of a mall. */
export interface Line {
  commerceCode: string;
  buyOrder: string;
  amount: number;
  installmentsNumber: number;
  approved: boolean;
  responseCode: number;
  authorizationCode?: string;
  paymentTypeCode: string;
  refunds: Refund[];
  deferred: boolean;
  capturedAmount?: number;
}

export function lineBalance(line: Line): number {
  if (!line.approved) return 0;
  const base = line.deferred ? (line.capturedAmount ?? line.amount) : line.amount;
  return base - line.refunds.reduce((s, r) => s + r.amount, 0);
}

export function lineStatus(line: Line): LineStatus {
  if (!line.approved) return 'FAILED';
  if (line.refunds.some((r) => r.type === 'REVERSED')) return 'REVERSED';
  if (line.refunds.length > 0) return lineBalance(line) === 0 ? 'NULLIFIED' : 'PARTIALLY_NULLIFIED';
  if (line.deferred && line.capturedAmount !== undefined) return 'CAPTURED';
  return 'AUTHORIZED';
}

export type RefundDecision =
  | { ok: true; refund: Refund }
  | { ok: false; message: string };

/**
 * Transbank's rule: the full amount on the day of the sale (before the accounting close) is a
 * reversal (REVERSED); anything else, partial refunds included, is a nullification.
 */
export function decideRefund(line: Line, amount: number, saleAt: Date, now: Date, authCode: string): RefundDecision {
  if (!line.approved) return { ok: false, message: 'Transaction not authorized' };
  if (line.refunds.some((r) => r.type === 'REVERSED')) return { ok: false, message: 'Transaction already reversed' };
  if (!Number.isInteger(amount) || amount <= 0) return { ok: false, message: 'Invalid value for parameter: amount' };
  const balance = lineBalance(line);
  if (amount > balance) return { ok: false, message: `Amount to nullify (${amount}) exceeds the balance (${balance})` };
  const reversal = line.refunds.length === 0 && amount === line.amount && chileDay(saleAt) === chileDay(now);
  return reversal
    ? { ok: true, refund: { type: 'REVERSED', amount, at: now.toISOString() } }
    : { ok: true, refund: { type: 'NULLIFIED', amount, authorizationCode: authCode, at: now.toISOString() } };
}

export function refundResponse(refund: Refund, balance: number): Record<string, unknown> {
  if (refund.type === 'REVERSED') return { type: 'REVERSED' };
  return {
    type: 'NULLIFIED',
    authorization_code: refund.authorizationCode,
    authorization_date: refund.at,
    nullified_amount: refund.amount,
    balance,
    response_code: 0,
  };
}

/** A 6-digit authorization code. */
export function authorizationCode(random: () => number): string {
  return String(Math.floor(random() * 1_000_000)).padStart(6, '0');
}
