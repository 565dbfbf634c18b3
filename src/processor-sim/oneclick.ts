import { randomBytes } from 'node:crypto';
import { tbkError, type SimContext } from './context.js';
import {
  accountingDate,
  authorizationCode,
  cardOutcome,
  chileDay,
  COMMERCES,
  decideRefund,
  lineBalance,
  lineStatus,
  refundResponse,
  tbkDate,
  type Line,
} from './domain/transbank.js';
import { amount, asBody, InvalidParameter, list, optionalInt, text, url } from './domain/validate.js';
import { newToken } from './webpay.js';

export interface Inscription {
  token: string;
  commerceCode: string;
  username: string;
  email: string;
  responseUrl: string;
  createdAt: string;
  phase: 'created' | 'form' | 'returned' | 'aborted' | 'timeout' | 'finished';
  returnedAt?: string;
  card?: { last4: string; brand: string; approves: boolean; paymentTypeCode: string };
  tbkUser?: string;
}

export interface TbkUser {
  tbkUser: string;
  commerceCode: string;
  username: string;
  last4: string;
  brand: string;
  paymentTypeCode: string;
  active: boolean;
}

export interface OneclickTx {
  commerceCode: string;
  buyOrder: string;
  username: string;
  createdAt: string;
  last4: string;
  lines: Line[];
}

const guard = <T>(fn: () => T): T => {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InvalidParameter) throw tbkError(422, err.message);
    throw err;
  }
};

function requireOneclick(commerceCode: string) {
  const info = COMMERCES[commerceCode];
  if (info?.kind !== 'oneclick_mall') throw tbkError(422, 'Invalid value for parameter: commerce_code');
  return info;
}

/** POST /inscriptions: a token and the card page for the shopper. */
export async function startInscription(ctx: SimContext, commerceCode: string, raw: unknown) {
  requireOneclick(commerceCode);
  const body = asBody(raw);
  const input = guard(() => ({
    username: text(body, 'username', 40),
    email: text(body, 'email', 100),
    responseUrl: url(body, 'response_url', 255),
  }));
  const token = newToken();
  const ins: Inscription = { token, commerceCode, ...input, createdAt: ctx.clock.now().toISOString(), phase: 'created' };
  await ctx.store.insert('inscription', token, ins);
  return { token, url_webpay: `${ctx.baseUrl()}/webpayserver/bp_multicode_inscription.cgi` };
}

export async function openInscriptionForm(ctx: SimContext, token: string) {
  const now = ctx.clock.now();
  return ctx.store.update<Inscription, { ins: Inscription; usable: boolean } | undefined>('inscription', token, (ins) => {
    if (!ins) return { result: undefined };
    if (ins.phase === 'form') return { result: { ins, usable: true } };
    if (ins.phase !== 'created' || now.getTime() - Date.parse(ins.createdAt) > ctx.settings.tokenTtlMs) return { result: { ins, usable: false } };
    const next: Inscription = { ...ins, phase: 'form' };
    return { data: next, result: { ins: next, usable: true } };
  });
}

/** The shopper submits the inscription page. */
export async function submitInscription(ctx: SimContext, token: string, action: 'pay' | 'abort' | 'timeout' | 'error', cardNumber: string | undefined) {
  const now = ctx.clock.now();
  return ctx.store.update<Inscription, Inscription | undefined>('inscription', token, (ins) => {
    if (!ins || (ins.phase !== 'form' && ins.phase !== 'created')) return { result: undefined };
    const late = now.getTime() - Date.parse(ins.createdAt) > ctx.settings.formTimeoutMs;
    const base = { ...ins, returnedAt: now.toISOString() };
    let next: Inscription;
    if (late || action === 'timeout') next = { ...base, phase: 'timeout' };
    else if (action === 'abort' || action === 'error') next = { ...base, phase: 'aborted' };
    else {
      const card = cardOutcome(cardNumber ?? '');
      next = { ...base, phase: 'returned', card: { last4: card.last4, brand: card.brand, approves: card.approves, paymentTypeCode: card.paymentTypeCode } };
    }
    return { data: next, result: next };
  });
}

/** PUT /inscriptions/{token}: the tbk_user and the masked card, once. */
export async function finishInscription(ctx: SimContext, commerceCode: string, token: string) {
  const now = ctx.clock.now();
  const tbkUser = randomBytes(18).toString('base64url').slice(0, 36);
  const ins = await ctx.store.update<Inscription, Inscription>('inscription', token, (cur) => {
    if (!cur || cur.commerceCode !== commerceCode) throw tbkError(404, 'Inscription not found');
    if (cur.phase === 'finished') throw tbkError(422, 'Invalid status for inscription: already finished');
    if (cur.phase === 'created' || cur.phase === 'form') throw tbkError(422, 'Invalid status for inscription: not returned by the cardholder');
    if (cur.phase === 'aborted' || cur.phase === 'timeout') return { data: { ...cur, phase: 'finished' }, result: cur };
    if (now.getTime() - Date.parse(cur.returnedAt ?? cur.createdAt) > ctx.settings.commitWindowMs) {
      throw tbkError(422, 'Transaction has an invalid finished state: aborted');
    }
    const approved = cur.card?.approves === true;
    const next: Inscription = { ...cur, phase: 'finished', ...(approved ? { tbkUser } : {}) };
    return { data: next, result: next };
  });
  if (!ins.tbkUser || !ins.card) {
    return { response_code: -1, tbk_user: null, authorization_code: null, card_type: ins.card?.brand ?? null, card_number: ins.card ? `XXXXXXXXXXXX${ins.card.last4}` : null };
  }
  const user: TbkUser = {
    tbkUser: ins.tbkUser,
    commerceCode,
    username: ins.username,
    last4: ins.card.last4,
    brand: ins.card.brand,
    paymentTypeCode: ins.card.paymentTypeCode,
    active: true,
  };
  await ctx.store.insert('tbk_user', ins.tbkUser, user);
  return {
    response_code: 0,
    tbk_user: ins.tbkUser,
    authorization_code: authorizationCode(Math.random),
    card_type: ins.card.brand,
    card_number: `XXXXXXXXXXXX${ins.card.last4}`,
  };
}

/** DELETE /inscriptions: 204, or 404 for an unknown or foreign inscription. */
export async function deleteInscription(ctx: SimContext, commerceCode: string, raw: unknown) {
  const body = asBody(raw);
  const input = guard(() => ({ tbkUser: text(body, 'tbk_user', 40), username: text(body, 'username', 40) }));
  await ctx.store.update<TbkUser, undefined>('tbk_user', input.tbkUser, (user) => {
    if (!user || !user.active || user.commerceCode !== commerceCode || user.username !== input.username) {
      throw tbkError(404, 'Inscription not found');
    }
    return { data: { ...user, active: false }, result: undefined };
  });
}

interface DailyUse {
  amount: number;
  count: number;
}

/** POST /transactions: charges a tbk_user, store by store, with codes -96..-99 for the limits. */
export async function authorize(ctx: SimContext, commerceCode: string, raw: unknown) {
  const info = requireOneclick(commerceCode);
  const body = asBody(raw);
  const input = guard(() => ({
    username: text(body, 'username', 40),
    tbkUser: text(body, 'tbk_user', 40),
    buyOrder: text(body, 'buy_order', 26),
    details: list(body, 'details').map((d) => ({
      commerceCode: text(d, 'commerce_code', 12, 'details.commerce_code'),
      buyOrder: text(d, 'buy_order', 26, 'details.buy_order'),
      amount: amount(d, 'amount', 'details.amount'),
      installmentsNumber: optionalInt(d, 'installments_number') ?? 0,
    })),
  }));
  for (const d of input.details) if (!info.children.includes(d.commerceCode)) throw tbkError(422, 'Invalid value for parameter: details.commerce_code');
  const now = ctx.clock.now();
  const user = await ctx.store.get<TbkUser>('tbk_user', input.tbkUser);
  const known = user !== undefined && user.active && user.commerceCode === commerceCode && user.username === input.username;
  const dayKey = `${input.tbkUser}:${chileDay(now)}`;
  const declined = new Set(known ? input.details.filter((d) => ctx.faults.takeDecline(d.commerceCode)).map((d) => d.buyOrder) : []);

  const lines = await ctx.store.update<DailyUse, Line[]>('counter', dayKey, (cur) => {
    const use = { ...(cur ?? { amount: 0, count: 0 }) };
    const out = input.details.map((d): Line => {
      const base = { ...d, paymentTypeCode: user?.paymentTypeCode ?? 'VN', refunds: [], deferred: info.deferred };
      const code = !known
        ? -96
        : d.amount > ctx.settings.oneclickPerPayment
          ? -98
          : use.amount + d.amount > ctx.settings.oneclickDailyAmount
            ? -97
            : use.count + 1 > ctx.settings.oneclickDailyCount
              ? -99
              : declined.has(d.buyOrder)
                ? -1
                : 0;
      if (code !== 0) return { ...base, approved: false, responseCode: code };
      use.amount += d.amount;
      use.count += 1;
      return { ...base, approved: true, responseCode: 0, authorizationCode: authorizationCode(Math.random) };
    });
    return { data: use, result: out };
  });
  const tx: OneclickTx = { commerceCode, buyOrder: input.buyOrder, username: input.username, createdAt: now.toISOString(), last4: user?.last4 ?? '', lines };
  if (!(await ctx.store.insert('oneclick', `${commerceCode}:${input.buyOrder}`, tx))) {
    throw tbkError(422, 'Invalid value for parameter: buy_order (duplicated)');
  }
  return describeOneclick(tx);
}

async function requireTx(ctx: SimContext, commerceCode: string, buyOrder: string): Promise<OneclickTx> {
  const tx = await ctx.store.get<OneclickTx>('oneclick', `${commerceCode}:${buyOrder}`);
  if (!tx) throw tbkError(404, 'Transaction not found');
  return tx;
}

/** GET /transactions/{buy_order}: 7 days. */
export async function oneclickStatus(ctx: SimContext, commerceCode: string, buyOrder: string) {
  const tx = await requireTx(ctx, commerceCode, buyOrder);
  if (ctx.clock.now().getTime() - Date.parse(tx.createdAt) > ctx.settings.statusWindowMs) {
    throw tbkError(422, "The transactions's date has passed max time (7 days) to recover the status");
  }
  return describeOneclick(tx);
}

/** POST /transactions/{buy_order}/refunds {commerce_code, detail_buy_order, amount}. */
export async function oneclickRefund(ctx: SimContext, commerceCode: string, buyOrder: string, raw: unknown) {
  const body = asBody(raw);
  const input = guard(() => ({
    childCode: text(body, 'commerce_code', 12),
    childBuyOrder: text(body, 'detail_buy_order', 26),
    amount: amount(body, 'amount'),
  }));
  const now = ctx.clock.now();
  return ctx.store.update<OneclickTx, Record<string, unknown>>('oneclick', `${commerceCode}:${buyOrder}`, (tx) => {
    if (!tx) throw tbkError(404, 'Transaction not found');
    const index = tx.lines.findIndex((l) => l.commerceCode === input.childCode && l.buyOrder === input.childBuyOrder);
    const line = tx.lines[index];
    if (!line) throw tbkError(422, 'Invalid value for parameter: detail_buy_order');
    const decision = decideRefund(line, input.amount, new Date(tx.createdAt), now, authorizationCode(Math.random));
    if (!decision.ok) throw tbkError(422, decision.message);
    const updated: Line = { ...line, refunds: [...line.refunds, decision.refund] };
    return { data: { ...tx, lines: tx.lines.map((l, i) => (i === index ? updated : l)) }, result: refundResponse(decision.refund, lineBalance(updated)) };
  });
}

/** PUT /transactions/capture for deferred Oneclick Mall stores. */
export async function oneclickCapture(ctx: SimContext, commerceCode: string, raw: unknown) {
  const body = asBody(raw);
  const now = ctx.clock.now();
  const childCode = body.commerce_code;
  const childBuyOrder = body.buy_order;
  const all = await ctx.store.list<OneclickTx>('oneclick', 10_000);
  const tx = all.find((t) => t.commerceCode === commerceCode && t.lines.some((l) => l.commerceCode === childCode && l.buyOrder === childBuyOrder));
  if (!tx) throw tbkError(404, 'Transaction not found');
  return ctx.store.update<OneclickTx, Record<string, unknown>>('oneclick', `${commerceCode}:${tx.buyOrder}`, (cur) => {
    const t = cur ?? tx;
    const index = t.lines.findIndex((l) => l.commerceCode === childCode && l.buyOrder === childBuyOrder);
    const line = t.lines[index];
    if (!line || !line.approved) throw tbkError(422, 'Transaction not authorized');
    if (!line.deferred) throw tbkError(422, 'Operation not allowed for this commerce');
    if (line.capturedAmount !== undefined) throw tbkError(422, 'Transaction already captured');
    if (body.authorization_code !== line.authorizationCode) throw tbkError(422, 'Invalid value for parameter: authorization_code');
    const captured = body.capture_amount;
    if (typeof captured !== 'number' || !Number.isInteger(captured) || captured <= 0 || captured > line.amount) {
      throw tbkError(422, 'Invalid value for parameter: capture_amount');
    }
    return {
      data: { ...t, lines: t.lines.map((l, i) => (i === index ? { ...l, capturedAmount: captured } : l)) },
      result: { authorization_code: line.authorizationCode, authorization_date: tbkDate(now), captured_amount: captured, response_code: 0 },
    };
  });
}

export function describeOneclick(tx: OneclickTx): Record<string, unknown> {
  const created = new Date(tx.createdAt);
  return {
    buy_order: tx.buyOrder,
    card_detail: { card_number: tx.last4 },
    accounting_date: accountingDate(created),
    transaction_date: tbkDate(created),
    details: tx.lines.map((l) => ({
      amount: l.amount,
      status: lineStatus(l),
      authorization_code: l.authorizationCode ?? null,
      payment_type_code: l.paymentTypeCode,
      response_code: l.responseCode,
      installments_number: l.installmentsNumber,
      commerce_code: l.commerceCode,
      buy_order: l.buyOrder,
      ...(l.refunds.length > 0 || l.capturedAmount !== undefined ? { balance: lineBalance(l) } : {}),
    })),
  };
}
