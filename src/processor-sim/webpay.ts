import { randomBytes } from 'node:crypto';
import { tbkError, type SimContext } from './context.js';
import {
  accountingDate,
  authorizationCode,
  cardOutcome,
  COMMERCES,
  decideRefund,
  lineBalance,
  lineStatus,
  refundResponse,
  tbkDate,
  type Line,
} from './domain/transbank.js';
import { amount, asBody, InvalidParameter, list, optionalInt, text, url } from './domain/validate.js';

/** Where the transaction is in Webpay's flow. */
export type WebpayPhase = 'created' | 'form' | 'returned' | 'aborted' | 'timeout' | 'error' | 'committed' | 'expired';

export interface WebpayTx {
  token: string;
  commerceCode: string;
  mall: boolean;
  buyOrder: string;
  sessionId: string;
  amount: number;
  returnUrl: string;
  createdAt: string;
  phase: WebpayPhase;
  formAt?: string;
  returnedAt?: string;
  committedAt?: string;
  card?: { last4: string; brand: string };
  vci?: string;
  lines: Line[];
}

/** What the shopper's browser is sent back to return_url with. */
export type ReturnShape =
  | { kind: 'normal'; fields: { token_ws: string } }
  | { kind: 'aborted'; fields: { TBK_TOKEN: string; TBK_ORDEN_COMPRA: string; TBK_ID_SESION: string } }
  | { kind: 'timeout'; fields: { TBK_ID_SESION: string; TBK_ORDEN_COMPRA: string } }
  | { kind: 'error'; fields: { token_ws: string; TBK_TOKEN: string; TBK_ORDEN_COMPRA: string; TBK_ID_SESION: string } };

const STATUS_GONE = "The transactions's date has passed max time (7 days) to recover the status";

export function newToken(): string {
  // Real Webpay tokens are 64 hex characters starting with "01ab".
  return `01ab${randomBytes(30).toString('hex')}`;
}

function parseCreate(commerceCode: string, raw: unknown) {
  const body = asBody(raw);
  const info = COMMERCES[commerceCode];
  const buyOrder = text(body, 'buy_order', 26);
  const sessionId = text(body, 'session_id', 61);
  const returnUrl = url(body, 'return_url', 255);
  if (body.details !== undefined) {
    if (info?.kind !== 'webpay_plus_mall') throw new InvalidParameter('details');
    const details = list(body, 'details').map((d) => ({
      commerceCode: text(d, 'commerce_code', 12, 'details.commerce_code'),
      buyOrder: text(d, 'buy_order', 26, 'details.buy_order'),
      amount: amount(d, 'amount', 'details.amount'),
      installmentsNumber: optionalInt(d, 'installments_number') ?? 0,
    }));
    for (const d of details) if (!info.children.includes(d.commerceCode)) throw new InvalidParameter('details.commerce_code');
    if (new Set(details.map((d) => d.buyOrder)).size !== details.length) throw new InvalidParameter('details.buy_order');
    return { mall: true, buyOrder, sessionId, returnUrl, deferred: info.deferred, details };
  }
  if (info?.kind !== 'webpay_plus') throw new InvalidParameter('commerce_code');
  const total = amount(body, 'amount');
  return {
    mall: false,
    buyOrder,
    sessionId,
    returnUrl,
    deferred: info.deferred,
    details: [{ commerceCode, buyOrder, amount: total, installmentsNumber: 0 }],
  };
}

/** POST /transactions: a new token and the form URL. */
export async function createTransaction(ctx: SimContext, commerceCode: string, raw: unknown) {
  let input: ReturnType<typeof parseCreate>;
  try {
    input = parseCreate(commerceCode, raw);
  } catch (err) {
    if (err instanceof InvalidParameter) throw tbkError(422, err.message);
    throw err;
  }
  const token = newToken();
  const tx: WebpayTx = {
    token,
    commerceCode,
    mall: input.mall,
    buyOrder: input.buyOrder,
    sessionId: input.sessionId,
    amount: input.details.reduce((s, d) => s + d.amount, 0),
    returnUrl: input.returnUrl,
    createdAt: ctx.clock.now().toISOString(),
    phase: 'created',
    lines: input.details.map((d) => ({
      ...d,
      approved: false,
      responseCode: -1,
      paymentTypeCode: 'VN',
      refunds: [],
      deferred: input.deferred,
    })),
  };
  await ctx.store.insert('webpay', token, tx);
  return { token, url: `${ctx.baseUrl()}/webpayserver/initTransaction` };
}

export async function findTransaction(ctx: SimContext, token: string): Promise<WebpayTx | undefined> {
  return ctx.store.get<WebpayTx>('webpay', token);
}

/** The shopper arrives at the form. Undefined when the token is unknown. */
export async function openForm(ctx: SimContext, token: string): Promise<{ tx: WebpayTx; usable: boolean } | undefined> {
  const now = ctx.clock.now();
  return ctx.store.update<WebpayTx, { tx: WebpayTx; usable: boolean } | undefined>('webpay', token, (tx) => {
    if (!tx) return { result: undefined };
    if (tx.phase === 'form') return { result: { tx, usable: true } };
    if (tx.phase !== 'created') return { result: { tx, usable: false } };
    if (now.getTime() - Date.parse(tx.createdAt) > ctx.settings.tokenTtlMs) return { result: { tx, usable: false } };
    const next: WebpayTx = { ...tx, phase: 'form', formAt: now.toISOString() };
    return { data: next, result: { tx: next, usable: true } };
  });
}

export type FormAction = 'pay' | 'abort' | 'timeout' | 'error';

/** The shopper submits the form (pays, aborts, or the simulator's timeout / error buttons). */
export async function submitForm(
  ctx: SimContext,
  token: string,
  action: FormAction,
  card: { number: string } | undefined,
): Promise<{ tx: WebpayTx; shape: ReturnShape } | undefined> {
  const now = ctx.clock.now();
  const current = action === 'pay' ? await findTransaction(ctx, token) : undefined;
  // Injected issuer declines, decided once per store before the atomic update.
  const declined = new Set((current?.lines ?? []).filter((l) => ctx.faults.takeDecline(l.commerceCode)).map((l) => l.buyOrder));
  return ctx.store.update<WebpayTx, { tx: WebpayTx; shape: ReturnShape } | undefined>('webpay', token, (tx) => {
    if (!tx || (tx.phase !== 'form' && tx.phase !== 'created')) return { result: undefined };
    const started = Date.parse(tx.formAt ?? tx.createdAt);
    const timedOut = action === 'timeout' || now.getTime() - started > ctx.settings.formTimeoutMs;
    const base = { ...tx, returnedAt: now.toISOString() };
    if (timedOut) {
      const next: WebpayTx = { ...base, phase: 'timeout' };
      return { data: next, result: { tx: next, shape: { kind: 'timeout', fields: { TBK_ID_SESION: tx.sessionId, TBK_ORDEN_COMPRA: tx.buyOrder } } } };
    }
    if (action === 'abort') {
      const next: WebpayTx = { ...base, phase: 'aborted' };
      const fields = { TBK_TOKEN: tx.token, TBK_ORDEN_COMPRA: tx.buyOrder, TBK_ID_SESION: tx.sessionId };
      return { data: next, result: { tx: next, shape: { kind: 'aborted', fields } } };
    }
    if (action === 'error') {
      const next: WebpayTx = { ...base, phase: 'error' };
      const fields = { token_ws: tx.token, TBK_TOKEN: tx.token, TBK_ORDEN_COMPRA: tx.buyOrder, TBK_ID_SESION: tx.sessionId };
      return { data: next, result: { tx: next, shape: { kind: 'error', fields } } };
    }
    const outcome = cardOutcome(card?.number ?? '');
    const next: WebpayTx = {
      ...base,
      phase: 'returned',
      card: { last4: outcome.last4, brand: outcome.brand },
      vci: outcome.approves ? 'TSY' : 'TSN',
      lines: tx.lines.map((l) => {
        const approves = outcome.approves && !declined.has(l.buyOrder);
        return {
          ...l,
          approved: approves,
          responseCode: approves ? 0 : -1,
          paymentTypeCode: outcome.paymentTypeCode,
          ...(approves ? { authorizationCode: authorizationCode(Math.random) } : {}),
        };
      }),
    };
    return { data: next, result: { tx: next, shape: { kind: 'normal', fields: { token_ws: tx.token } } } };
  });
}

function requireOwner(tx: WebpayTx | undefined, commerceCode: string): WebpayTx {
  if (!tx || tx.commerceCode !== commerceCode) throw tbkError(404, 'Transaction not found');
  return tx;
}

/** PUT /transactions/{token}: confirms once, within the commit window. */
export async function commitTransaction(ctx: SimContext, commerceCode: string, token: string) {
  const now = ctx.clock.now();
  const tx = await ctx.store.update<WebpayTx, WebpayTx>('webpay', token, (cur) => {
    const tx = requireOwner(cur, commerceCode);
    switch (tx.phase) {
      case 'returned': {
        if (now.getTime() - Date.parse(tx.returnedAt ?? tx.createdAt) > ctx.settings.commitWindowMs) {
          // Too late: Webpay has already reversed the authorization on its side.
          return { data: { ...tx, phase: 'expired' }, result: { ...tx, phase: 'expired' } };
        }
        const next: WebpayTx = { ...tx, phase: 'committed', committedAt: now.toISOString() };
        return { data: next, result: next };
      }
      case 'created':
      case 'form':
        throw tbkError(422, "Invalid status '0' for transaction while authorizing. Commerce will be notified by webpay to authorize");
      case 'aborted':
      case 'error':
        throw tbkError(422, "Invalid status '10' for transaction while authorizing. Commerce will be notified by webpay to authorize");
      case 'timeout':
      case 'expired':
        throw tbkError(422, 'Transaction has an invalid finished state: aborted');
      case 'committed':
        throw tbkError(422, "Invalid status '2' for transaction while authorizing. Commerce will be notified by webpay to authorize");
    }
  });
  if (tx.phase === 'expired') throw tbkError(422, 'Transaction has an invalid finished state: aborted');
  return describe(tx);
}

/** GET /transactions/{token}: answers for 7 days after creation. */
export async function transactionStatus(ctx: SimContext, commerceCode: string, token: string) {
  const tx = requireOwner(await findTransaction(ctx, token), commerceCode);
  if (ctx.clock.now().getTime() - Date.parse(tx.createdAt) > ctx.settings.statusWindowMs) throw tbkError(422, STATUS_GONE);
  return describe(tx);
}

/** POST /transactions/{token}/refunds: REVERSED the same day for the full amount, else NULLIFIED. */
export async function refundTransaction(ctx: SimContext, commerceCode: string, token: string, raw: unknown) {
  const body = asBody(raw);
  const now = ctx.clock.now();
  let value: number;
  try {
    value = amount(body, 'amount');
  } catch (err) {
    if (err instanceof InvalidParameter) throw tbkError(422, err.message);
    throw err;
  }
  return ctx.store.update<WebpayTx, Record<string, unknown>>('webpay', token, (cur) => {
    const tx = requireOwner(cur, commerceCode);
    if (tx.phase !== 'committed') throw tbkError(422, 'Transaction not authorized');
    let index = 0;
    if (tx.mall) {
      const buyOrder = body.buy_order;
      const code = body.commerce_code;
      index = tx.lines.findIndex((l) => l.buyOrder === buyOrder && l.commerceCode === code);
      if (index < 0) throw tbkError(422, 'Invalid value for parameter: buy_order');
    }
    const line = tx.lines[index];
    if (!line) throw tbkError(422, 'Transaction not authorized');
    const decision = decideRefund(line, value, new Date(tx.committedAt ?? tx.createdAt), now, authorizationCode(Math.random));
    if (!decision.ok) throw tbkError(422, decision.message);
    const updated: Line = { ...line, refunds: [...line.refunds, decision.refund] };
    const lines = tx.lines.map((l, i) => (i === index ? updated : l));
    return { data: { ...tx, lines }, result: refundResponse(decision.refund, lineBalance(updated)) };
  });
}

/** PUT /transactions/{token}/capture for deferred-capture commerce codes. */
export async function captureTransaction(ctx: SimContext, commerceCode: string, token: string, raw: unknown) {
  const body = asBody(raw);
  const now = ctx.clock.now();
  return ctx.store.update<WebpayTx, Record<string, unknown>>('webpay', token, (cur) => {
    const tx = requireOwner(cur, commerceCode);
    const index = tx.mall ? tx.lines.findIndex((l) => l.commerceCode === body.commerce_code && l.buyOrder === body.buy_order) : 0;
    const line = tx.lines[index];
    if (tx.phase !== 'committed' || !line || !line.approved) throw tbkError(422, 'Transaction not authorized');
    if (!line.deferred) throw tbkError(422, 'Operation not allowed for this commerce');
    if (line.capturedAmount !== undefined) throw tbkError(422, 'Transaction already captured');
    if (body.authorization_code !== line.authorizationCode) throw tbkError(422, 'Invalid value for parameter: authorization_code');
    const captured = body.capture_amount;
    if (typeof captured !== 'number' || !Number.isInteger(captured) || captured <= 0 || captured > line.amount) {
      throw tbkError(422, 'Invalid value for parameter: capture_amount');
    }
    const lines = tx.lines.map((l, i) => (i === index ? { ...l, capturedAmount: captured } : l));
    return {
      data: { ...tx, lines },
      result: { authorization_code: line.authorizationCode, authorization_date: tbkDate(now), captured_amount: captured, response_code: 0 },
    };
  });
}

/** The commit/status body, in Webpay Plus or Webpay Plus Mall shape. */
export function describe(tx: WebpayTx): Record<string, unknown> {
  const created = new Date(tx.createdAt);
  const paid = tx.phase === 'committed';
  const common = {
    buy_order: tx.buyOrder,
    session_id: tx.sessionId,
    ...(paid && tx.card ? { card_detail: { card_number: tx.card.last4 }, vci: tx.vci } : {}),
    accounting_date: accountingDate(created),
    transaction_date: tbkDate(created),
  };
  const lineBody = (l: (typeof tx.lines)[number]) => ({
    amount: l.amount,
    status: paid ? lineStatus(l) : 'INITIALIZED',
    ...(paid
      ? {
          authorization_code: l.authorizationCode ?? null,
          payment_type_code: l.paymentTypeCode,
          response_code: l.responseCode,
          installments_number: l.installmentsNumber,
          ...(l.refunds.length > 0 || l.capturedAmount !== undefined ? { balance: lineBalance(l) } : {}),
        }
      : { installments_number: 0 }),
  });
  if (tx.mall) {
    return { ...common, details: tx.lines.map((l) => ({ ...lineBody(l), commerce_code: l.commerceCode, buy_order: l.buyOrder })) };
  }
  const line = tx.lines[0];
  return line ? { ...lineBody(line), ...common } : common;
}
