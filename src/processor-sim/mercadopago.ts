import { createHash, randomBytes } from 'node:crypto';
import { mpError, type SimContext } from './context.js';
import { brandOf, cardholderOutcome, isCardType, luhnValid, paymentTypeOf, type MpStatus, type PaymentTypeId } from './domain/mercadopago.js';
import { asBody } from './domain/validate.js';
import { enqueueWebhook } from './webhooks.js';

export interface CardToken {
  id: string;
  firstSix: string;
  lastFour: string;
  expirationMonth: number;
  expirationYear: number;
  holderName: string;
  holderIdentification?: { type: string; number: string };
  createdAt: string;
  used: boolean;
}

export interface MpRefund {
  id: number;
  payment_id: number;
  amount: number;
  status: 'approved';
  date_created: string;
}

export interface MpPayment {
  id: number;
  createdAt: string;
  updatedAt: string;
  approvedAt?: string;
  status: MpStatus;
  statusDetail: string;
  amount: number;
  paymentMethodId: string;
  paymentTypeId: PaymentTypeId;
  installments: number;
  description?: string;
  externalReference?: string;
  notificationUrl?: string;
  payerEmail?: string;
  payerIdentification?: { type: string; number: string };
  metadata: Record<string, unknown>;
  card?: { firstSix: string; lastFour: string; expirationMonth: number; expirationYear: number; holderName: string };
  dateOfExpiration?: string;
  /** A scheduled settlement (in_process → final) or expiry (pending cash → cancelled). */
  next?: { at: string; status: MpStatus; detail: string };
  refunds: MpRefund[];
}

const TOKEN_LIFE_MS = 7 * 24 * 3_600_000;

// Ids come from blocks reserved in the store, one write per block instead of one locked
// read-modify-write of the same counter row per payment (every payment queued on that row).
// A block's unused ids are skipped after a restart; ids still only grow.
const ID_BLOCK = 1_000;
const idBlocks = new WeakMap<SimContext, Map<string, Promise<{ next: number; end: number }>>>();

async function nextId(ctx: SimContext, name: string, start: number): Promise<number> {
  let blocks = idBlocks.get(ctx);
  if (!blocks) {
    blocks = new Map<string, Promise<{ next: number; end: number }>>();
    idBlocks.set(ctx, blocks);
  }
  for (;;) {
    const current = blocks.get(name);
    const block = await current;
    // Real ids are not consecutive: gaps of 1 to 7.
    const value = block ? block.next + 1 + Math.floor(Math.random() * 7) : Infinity;
    if (block && value <= block.end) {
      block.next = value;
      return value;
    }
    // Exhausted (or none yet): the first caller reserves the next block, the others wait for it.
    if (blocks.get(name) === current) {
      const reserved = ctx.store.update<{ value: number }, { next: number; end: number }>('counter', name, (cur) => {
        const from = cur?.value ?? start;
        return { data: { value: from + ID_BLOCK * 8 }, result: { next: from, end: from + ID_BLOCK * 8 } };
      });
      blocks.set(name, reserved);
      reserved.catch(() => {
        if (blocks.get(name) === reserved) blocks.delete(name);
      });
    }
  }
}

/** POST /v1/card_tokens: what MP.js does in the browser; the PAN stays here, never in Embudo. */
export async function createCardToken(ctx: SimContext, raw: unknown) {
  const body = asBody(raw);
  const pan = typeof body.card_number === 'string' ? body.card_number.replace(/\s/g, '') : '';
  const month = Number(body.expiration_month);
  const year = Number(body.expiration_year);
  const holder = asBody(body.cardholder);
  const name = typeof holder.name === 'string' ? holder.name : '';
  if (!luhnValid(pan)) throw mpError(400, 'bad_request', 'invalid parameters', [{ code: 'E205', description: 'parameter cardNumber can not be null/empty or invalid' }]);
  if (!Number.isInteger(month) || month < 1 || month > 12) throw mpError(400, 'bad_request', 'invalid parameters', [{ code: 'E301', description: 'invalid expiration_month' }]);
  if (!Number.isInteger(year) || year < 2000) throw mpError(400, 'bad_request', 'invalid parameters', [{ code: 'E302', description: 'invalid expiration_year' }]);
  if (name === '') throw mpError(400, 'bad_request', 'invalid parameters', [{ code: '221', description: 'parameter cardholderName can not be null/empty' }]);
  const now = ctx.clock.now();
  const ident = asBody(holder.identification);
  const token: CardToken = {
    id: randomBytes(16).toString('hex'),
    firstSix: pan.slice(0, 6),
    lastFour: pan.slice(-4),
    expirationMonth: month,
    expirationYear: year,
    holderName: name,
    ...(typeof ident.type === 'string' && typeof ident.number === 'string' ? { holderIdentification: { type: ident.type, number: ident.number } } : {}),
    createdAt: now.toISOString(),
    used: false,
  };
  await ctx.store.insert('mp_card_token', token.id, token);
  return {
    id: token.id,
    public_key: null,
    first_six_digits: token.firstSix,
    last_four_digits: token.lastFour,
    expiration_month: month,
    expiration_year: year,
    card_number_length: pan.length,
    security_code_length: typeof body.security_code === 'string' ? body.security_code.length : 3,
    luhn_validation: true,
    live_mode: false,
    require_esc: false,
    status: 'active',
    date_created: now.toISOString(),
    date_last_updated: now.toISOString(),
    date_due: new Date(now.getTime() + TOKEN_LIFE_MS).toISOString(),
    cardholder: { name, identification: token.holderIdentification ?? { type: null, number: null } },
    payment_method_id: brandOf(pan),
  };
}

const bad = (code: number, description: string) => mpError(400, 'bad_request', description, [{ code, description }]);

function parsePayment(raw: unknown) {
  const body = asBody(raw);
  const amount = body.transaction_amount;
  if (typeof amount !== 'number' || !Number.isInteger(amount) || amount <= 0) throw bad(4037, 'Invalid transaction_amount');
  const methodId = body.payment_method_id;
  if (typeof methodId !== 'string' || !paymentTypeOf(methodId)) throw bad(4033, 'Invalid payment_method_id');
  const payer = asBody(body.payer);
  const email = payer.email;
  if (typeof email !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) throw bad(4050, 'payer.email must be a valid email');
  const notificationUrl = body.notification_url;
  if (notificationUrl !== undefined) {
    if (typeof notificationUrl !== 'string' || !/^https?:\/\//.test(notificationUrl)) throw bad(4020, 'notification_url attribute must be url valid');
  }
  const installments = body.installments ?? 1;
  if (typeof installments !== 'number' || !Number.isInteger(installments) || installments < 1) throw bad(4022, 'Invalid installments');
  const expiry = body.date_of_expiration;
  if (expiry !== undefined && (typeof expiry !== 'string' || Number.isNaN(Date.parse(expiry)))) throw bad(4053, 'Invalid date_of_expiration');
  const ident = asBody(payer.identification);
  return {
    amount,
    methodId,
    type: paymentTypeOf(methodId) as PaymentTypeId,
    email,
    token: typeof body.token === 'string' ? body.token : undefined,
    installments,
    notificationUrl,
    expiry,
    description: typeof body.description === 'string' ? body.description : undefined,
    externalReference: typeof body.external_reference === 'string' ? body.external_reference : undefined,
    metadata: asBody(body.metadata),
    identification: typeof ident.type === 'string' && typeof ident.number === 'string' ? { type: ident.type, number: ident.number } : undefined,
  };
}

/** POST /v1/payments (after the idempotency check). */
export async function createPayment(ctx: SimContext, raw: unknown): Promise<MpPayment> {
  const input = parsePayment(raw);
  const now = ctx.clock.now();
  let status: MpStatus;
  let detail: string;
  let next: MpPayment['next'];
  let card: MpPayment['card'];
  if (isCardType(input.type)) {
    if (!input.token) throw bad(2006, 'Card Token not found');
    const token = await ctx.store.update<CardToken, CardToken>('mp_card_token', input.token, (t) => {
      if (!t) throw bad(2006, 'Card Token not found');
      if (t.used || now.getTime() - Date.parse(t.createdAt) > TOKEN_LIFE_MS) throw bad(3003, 'Invalid card_token_id');
      return { data: { ...t, used: true }, result: t };
    });
    card = { firstSix: token.firstSix, lastFour: token.lastFour, expirationMonth: token.expirationMonth, expirationYear: token.expirationYear, holderName: token.holderName };
    const outcome = cardholderOutcome(token.holderName);
    status = outcome.status;
    detail = outcome.detail;
    if (outcome.then) next = { at: new Date(now.getTime() + ctx.settings.mpInProcessMs).toISOString(), ...outcome.then };
  } else {
    status = 'pending';
    detail = input.type === 'bank_transfer' ? 'pending_waiting_transfer' : 'pending_waiting_payment';
    const expiresAt = input.expiry ? new Date(input.expiry) : new Date(now.getTime() + ctx.settings.mpCashExpiryMs);
    next = { at: expiresAt.toISOString(), status: 'cancelled', detail: 'expired' };
  }
  const id = await nextId(ctx, 'mp_payment_seq', 90_000_000_000);
  const payment: MpPayment = {
    id,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    ...(status === 'approved' ? { approvedAt: now.toISOString() } : {}),
    status,
    statusDetail: detail,
    amount: input.amount,
    paymentMethodId: input.methodId,
    paymentTypeId: input.type,
    installments: input.installments,
    ...(input.description ? { description: input.description } : {}),
    ...(input.externalReference ? { externalReference: input.externalReference } : {}),
    ...(input.notificationUrl ? { notificationUrl: input.notificationUrl } : {}),
    payerEmail: input.email,
    ...(input.identification ? { payerIdentification: input.identification } : {}),
    metadata: input.metadata,
    ...(card ? { card } : {}),
    ...(isCardType(input.type) ? {} : { dateOfExpiration: next?.at }),
    ...(next ? { next } : {}),
    refunds: [],
  };
  await ctx.store.insert('mp_payment', String(id), payment, next ? new Date(next.at) : null);
  await enqueueWebhook(ctx, payment, 'payment.created');
  return payment;
}

export async function getPayment(ctx: SimContext, id: string): Promise<MpPayment> {
  const p = /^\d+$/.test(id) ? await ctx.store.get<MpPayment>('mp_payment', id) : undefined;
  if (!p) throw mpError(404, 'not_found', 'Payment not found', [{ code: 2000, description: 'Payment not found' }]);
  return p;
}

/**
 * Moves a payment to a new status (cancel, cash paid or expired, settlement, chargeback, or a
 * forced change from the control API) and notifies. `allowed` guards the current status.
 */
export async function transition(
  ctx: SimContext,
  id: string,
  to: { status: MpStatus; detail: string },
  allowed: (p: MpPayment) => string | undefined,
): Promise<MpPayment> {
  const now = ctx.clock.now().toISOString();
  const updated = await ctx.store.update<MpPayment, MpPayment>('mp_payment', id, (p) => {
    if (!p) throw mpError(404, 'not_found', 'Payment not found', [{ code: 2000, description: 'Payment not found' }]);
    const refusal = allowed(p);
    if (refusal) throw bad(2063, refusal);
    const { next: _dropped, ...rest } = p;
    const next: MpPayment = { ...rest, status: to.status, statusDetail: to.detail, updatedAt: now, ...(to.status === 'approved' ? { approvedAt: now } : {}) };
    return { data: next, dueAt: null, result: next };
  });
  await enqueueWebhook(ctx, updated, 'payment.updated');
  return updated;
}

/** POST /v1/payments/{id}/refunds: full without amount, partial with one. */
export async function refundPayment(ctx: SimContext, id: string, raw: unknown): Promise<MpRefund> {
  const body = asBody(raw);
  const now = ctx.clock.now().toISOString();
  const refundId = await nextId(ctx, 'mp_refund_seq', 1_000_000_000);
  let made: MpRefund | undefined;
  const updated = await ctx.store.update<MpPayment, MpPayment>('mp_payment', id, (p) => {
    if (!p) throw mpError(404, 'not_found', 'Payment not found', [{ code: 2000, description: 'Payment not found' }]);
    if (p.status !== 'approved') throw bad(2063, `Payment in status ${p.status} can not be refunded`);
    const refunded = p.refunds.reduce((s, r) => s + r.amount, 0);
    const remaining = p.amount - refunded;
    const amount = body.amount === undefined ? remaining : body.amount;
    if (typeof amount !== 'number' || !Number.isInteger(amount) || amount <= 0 || amount > remaining) {
      throw bad(4040, 'Invalid refund amount');
    }
    made = { id: refundId, payment_id: p.id, amount, status: 'approved', date_created: now };
    const full = amount === remaining;
    const next: MpPayment = {
      ...p,
      refunds: [...p.refunds, made],
      updatedAt: now,
      ...(full ? { status: 'refunded', statusDetail: 'refunded' } : { statusDetail: 'partially_refunded' }),
    };
    return { data: next, result: next };
  });
  await enqueueWebhook(ctx, updated, 'payment.updated');
  if (!made) throw new Error('refund not recorded');
  return made;
}

export function refundBody(r: MpRefund): Record<string, unknown> {
  return {
    ...r,
    metadata: {},
    source: { id: '123456789', name: 'collector', type: 'collector' },
    unique_sequence_number: null,
    refund_mode: 'standard',
    adjustment_amount: 0,
    reason: null,
    labels: [],
    amount_refunded_to_payer: r.amount,
    partition_details: [],
  };
}

/** The Payments API body of a payment. */
export function paymentBody(ctx: SimContext, p: MpPayment): Record<string, unknown> {
  const refunded = p.refunds.reduce((s, r) => s + r.amount, 0);
  const offline = !isCardType(p.paymentTypeId);
  return {
    id: p.id,
    date_created: p.createdAt,
    date_approved: p.approvedAt ?? null,
    date_last_updated: p.updatedAt,
    date_of_expiration: p.dateOfExpiration ?? null,
    money_release_date: p.approvedAt ?? null,
    operation_type: 'regular_payment',
    issuer_id: null,
    payment_method_id: p.paymentMethodId,
    payment_type_id: p.paymentTypeId,
    status: p.status,
    status_detail: p.statusDetail,
    currency_id: 'CLP',
    description: p.description ?? null,
    live_mode: false,
    collector_id: ctx.mp.userId,
    payer: { id: null, email: p.payerEmail ?? null, identification: p.payerIdentification ?? { type: null, number: null }, type: 'customer' },
    metadata: p.metadata,
    external_reference: p.externalReference ?? null,
    transaction_amount: p.amount,
    transaction_amount_refunded: refunded,
    coupon_amount: 0,
    installments: p.installments,
    transaction_details: {
      net_received_amount: p.status === 'approved' ? p.amount - fee(p.amount) : 0,
      total_paid_amount: p.amount,
      overpaid_amount: 0,
      installment_amount: Math.round(p.amount / p.installments),
      external_resource_url: offline ? `${ctx.baseUrl()}/sim/mp/tickets/${p.id}` : null,
      payment_method_reference_id: offline ? String(p.id) : null,
    },
    fee_details: p.status === 'approved' ? [{ type: 'mercadopago_fee', amount: fee(p.amount), fee_payer: 'collector' }] : [],
    captured: true,
    binary_mode: false,
    statement_descriptor: 'EMBUDO',
    notification_url: p.notificationUrl ?? null,
    card: p.card
      ? {
          first_six_digits: p.card.firstSix,
          last_four_digits: p.card.lastFour,
          expiration_month: p.card.expirationMonth,
          expiration_year: p.card.expirationYear,
          cardholder: { name: p.card.holderName },
        }
      : {},
    refunds: p.refunds.map(refundBody),
  };
}

/** Mercado Pago's processing fee in Chile (about 3.19% + VAT; integer pesos). */
export function fee(amount: number): number {
  return Math.round(amount * 0.0379);
}

export function hashBody(raw: unknown): string {
  return createHash('sha256').update(JSON.stringify(raw ?? null)).digest('hex');
}
