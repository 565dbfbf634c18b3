// Pure Mercado Pago rules: test-card outcomes, payment method types, webhook signatures.
import { createHmac } from 'node:crypto';

export type MpStatus = 'pending' | 'approved' | 'authorized' | 'in_process' | 'in_mediation' | 'rejected' | 'cancelled' | 'refunded' | 'charged_back';

export interface Outcome {
  status: MpStatus;
  detail: string;
  /** A later settlement for in_process payments. */
  then?: { status: MpStatus; detail: string };
}

/**
 * Mercado Pago's documented test cardholder names decide the outcome (APRO approves, OTHE
 * rejects, CONT stays pending, ...). REVW is the simulator's own: in review, then rejected.
 */
export function cardholderOutcome(name: string): Outcome {
  switch (name.trim().toUpperCase()) {
    case 'APRO':
      return { status: 'approved', detail: 'accredited' };
    case 'CONT':
      return { status: 'in_process', detail: 'pending_contingency', then: { status: 'approved', detail: 'accredited' } };
    case 'REVW':
      return { status: 'in_process', detail: 'pending_review_manual', then: { status: 'rejected', detail: 'cc_rejected_high_risk' } };
    case 'CALL':
      return { status: 'rejected', detail: 'cc_rejected_call_for_authorize' };
    case 'FUND':
      return { status: 'rejected', detail: 'cc_rejected_insufficient_amount' };
    case 'SECU':
      return { status: 'rejected', detail: 'cc_rejected_bad_filled_security_code' };
    case 'EXPI':
      return { status: 'rejected', detail: 'cc_rejected_bad_filled_date' };
    case 'FORM':
      return { status: 'rejected', detail: 'cc_rejected_bad_filled_other' };
    default:
      return { status: 'rejected', detail: 'cc_rejected_other_reason' };
  }
}

const CARD_METHODS: Record<string, 'credit_card' | 'debit_card' | 'prepaid_card'> = {
  visa: 'credit_card',
  master: 'credit_card',
  amex: 'credit_card',
  diners: 'credit_card',
  magna: 'credit_card',
  debvisa: 'debit_card',
  debmaster: 'debit_card',
  redcompra: 'debit_card',
  prepaid: 'prepaid_card',
};

const OFFLINE_METHODS: Record<string, 'ticket' | 'bank_transfer' | 'atm'> = {
  servipag: 'ticket',
  sencillito: 'ticket',
  pagoefectivo_atm: 'atm',
  oxxo: 'ticket',
  rapipago: 'ticket',
  pagofacil: 'ticket',
  bolbradesco: 'ticket',
  efecty: 'ticket',
  khipu: 'bank_transfer',
  pix: 'bank_transfer',
  pse: 'bank_transfer',
};

export type PaymentTypeId = 'credit_card' | 'debit_card' | 'prepaid_card' | 'ticket' | 'bank_transfer' | 'atm';

export function paymentTypeOf(methodId: string): PaymentTypeId | undefined {
  return CARD_METHODS[methodId] ?? OFFLINE_METHODS[methodId];
}

export function isCardType(t: PaymentTypeId): boolean {
  return t === 'credit_card' || t === 'debit_card' || t === 'prepaid_card';
}

/** The brand Mercado Pago would detect from a card number's first digits. */
export function brandOf(pan: string): string {
  if (pan.startsWith('4')) return 'visa';
  if (/^5[1-5]/.test(pan) || /^2[2-7]/.test(pan)) return 'master';
  if (/^3[47]/.test(pan)) return 'amex';
  return 'visa';
}

export function luhnValid(pan: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = pan.length - 1; i >= 0; i--) {
    let d = pan.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return pan.length >= 12 && sum % 10 === 0;
}

/**
 * The manifest Mercado Pago signs: `id:<data.id>;request-id:<x-request-id>;ts:<ts>;` where an
 * alphanumeric data.id is lower-cased. Parts that are absent are left out.
 */
export function signatureManifest(dataId: string | undefined, requestId: string | undefined, ts: string): string {
  let m = '';
  if (dataId) m += `id:${/^[a-z0-9]+$/i.test(dataId) ? dataId.toLowerCase() : dataId};`;
  if (requestId) m += `request-id:${requestId};`;
  m += `ts:${ts};`;
  return m;
}

/** The `x-signature` header value: `ts=<ts>,v1=<hex HMAC-SHA256 of the manifest>`. */
export function signWebhook(secret: string, dataId: string, requestId: string, ts: string): string {
  const v1 = createHmac('sha256', secret).update(signatureManifest(dataId, requestId, ts)).digest('hex');
  return `ts=${ts},v1=${v1}`;
}
