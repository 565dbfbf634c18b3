import tbk from 'transbank-sdk';
import type { ProcessorVerdict } from '../domain/attempt.js';
import type { PaymentConnector, RefundCall, RefundVerdict, Redirect } from './port.js';
import { ProcessorCallError } from './port.js';

const { Oneclick, Options, TransactionDetail, WebpayPlus } = tbk;

export interface TransbankConfig {
  baseUrl: string;
  apiKey: string;
  /** Webpay Plus store code (or the mall's parent code in mall mode). */
  webpayCommerceCode: string;
  /** Webpay Plus Mall: the child store charged; unset = plain Webpay Plus. */
  webpayMallChildCode?: string | undefined;
  oneclickCommerceCode: string;
  oneclickChildCode: string;
  timeoutMs: number;
}

/** The token lives 5 minutes and the form times out after 10 (integration). */
export const WEBPAY_FORM_WINDOW_MS = 15 * 60_000;

type Json = Record<string, unknown>;

/** Maps an SDK error (axios wrapped in TransbankError) to definite (4xx) or unknown. */
export function classifyTbkError(err: unknown): ProcessorCallError {
  const text = err instanceof Error ? err.message : String(err);
  const status = /status code (\d{3})/.exec(text)?.[1];
  const code = status ? Number(status) : undefined;
  const message = text.split('\n').filter(Boolean).slice(1).join(' ') || 'transbank call failed';
  return new ProcessorCallError(message, code !== undefined && code >= 400 && code < 500, code);
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw classifyTbkError(err);
  }
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : typeof v === 'string' && v !== '' && !Number.isNaN(Number(v)) ? Number(v) : undefined;
}

function last4(cardDetail: unknown): string | undefined {
  const n = (cardDetail as Json | undefined)?.card_number;
  return typeof n === 'string' ? n.replace(/\D/g, '').slice(-4) : undefined;
}

/** Webpay commit/status → verdict. Approved only on AUTHORIZED with response_code 0. */
export function webpayVerdict(res: Json, token: string, ageMs: number): ProcessorVerdict {
  const status = typeof res.status === 'string' ? res.status : '';
  const code = num(res.response_code);
  const data = {
    tbk_status: status,
    response_code: code,
    authorization_code: res.authorization_code,
    payment_type_code: res.payment_type_code,
    last4: last4(res.card_detail),
  };
  switch (status) {
    case 'AUTHORIZED':
    case 'CAPTURED':
    case 'NULLIFIED':
    case 'PARTIALLY_NULLIFIED':
      return code === 0 || code === undefined
        ? { status: 'approved', processorRef: token, data }
        : { status: 'rejected', processorRef: token, reason: `response_code_${code}`, data };
    case 'FAILED':
    case 'REVERSED':
      return { status: 'rejected', processorRef: token, reason: code !== undefined ? `response_code_${code}` : status.toLowerCase(), data };
    case 'INITIALIZED':
      // Still at the form, or abandoned: after the form window nobody can pay it any more.
      return ageMs > WEBPAY_FORM_WINDOW_MS
        ? { status: 'expired', processorRef: token, reason: 'form_timeout', data }
        : { status: 'redirect', processorRef: token, data };
    default:
      return { status: 'unknown', processorRef: token, reason: `unexpected status ${status}`, data };
  }
}

/** Mall responses carry the child's result in details[0]. */
function mallFlatten(res: Json): Json {
  const detail = (Array.isArray(res.details) ? res.details[0] : undefined) as Json | undefined;
  return detail ? { ...res, ...detail } : res;
}

export function oneclickVerdict(res: Json, buyOrder: string): ProcessorVerdict {
  const flat = mallFlatten(res);
  const code = num(flat.response_code);
  const data = {
    tbk_status: flat.status,
    response_code: code,
    authorization_code: flat.authorization_code,
    payment_type_code: flat.payment_type_code,
    last4: last4(res.card_detail),
  };
  if (flat.status === 'AUTHORIZED' && code === 0) return { status: 'approved', processorRef: buyOrder, data };
  if (flat.status === 'AUTHORIZED' || flat.status === 'FAILED' || flat.status === 'REVERSED' || (code !== undefined && code !== 0)) {
    return { status: 'rejected', processorRef: buyOrder, reason: code !== undefined ? `response_code_${code}` : 'failed', data };
  }
  return { status: 'unknown', processorRef: buyOrder, reason: `unexpected status ${String(flat.status)}`, data };
}

function childBuyOrder(buyOrder: string): string {
  return `C${buyOrder.slice(1)}`;
}

/**
 * Transbank through the official SDK: Webpay Plus (or Plus Mall) for redirects, Oneclick
 * Mall for saved cards. `Options(code, key, baseUrl)` points the SDK at any host.
 */
export function transbankConnector(cfg: TransbankConfig): PaymentConnector & TransbankInscriptions {
  const webpayOptions = new Options(cfg.webpayCommerceCode, cfg.apiKey, cfg.baseUrl, cfg.timeoutMs);
  const oneclickOptions = new Options(cfg.oneclickCommerceCode, cfg.apiKey, cfg.baseUrl, cfg.timeoutMs);
  const mallChild = cfg.webpayMallChildCode;
  const webpay = new WebpayPlus.Transaction(webpayOptions);
  const webpayMall = new WebpayPlus.MallTransaction(webpayOptions);
  const oneclick = new Oneclick.MallTransaction(oneclickOptions);
  const inscription = new Oneclick.MallInscription(oneclickOptions);

  const whenUnknown = (err: unknown, processorRef?: string): ProcessorVerdict => {
    const e = err instanceof ProcessorCallError ? err : classifyTbkError(err);
    return e.definite
      ? { status: 'rejected', reason: `refused: ${e.message}`.slice(0, 200), ...(processorRef ? { processorRef } : {}), data: { http_status: e.httpStatus } }
      : { status: 'unknown', reason: e.message.slice(0, 200), ...(processorRef ? { processorRef } : {}) };
  };

  const webpayStatus = async (token: string, ageMs: number): Promise<ProcessorVerdict> => {
    const res = (await call(() => (mallChild ? webpayMall.status(token) : webpay.status(token)))) as Json;
    return webpayVerdict(mallChild ? mallFlatten(res) : res, token, ageMs);
  };

  return {
    processor: 'transbank',

    async authorize(c) {
      if (c.method !== 'oneclick' || !c.oneclick) return { status: 'rejected', reason: 'unsupported_method' };
      const { username, tbkUser } = c.oneclick;
      try {
        const res = (await call(() =>
          oneclick.authorize(username, tbkUser, c.buyOrder, [
            new TransactionDetail(c.amount, cfg.oneclickChildCode, childBuyOrder(c.buyOrder), 1),
          ]),
        )) as Json;
        return oneclickVerdict(res, c.buyOrder);
      } catch (err) {
        return whenUnknown(err, c.buyOrder);
      }
    },

    async startRedirect(c) {
      try {
        const res = (await call(() =>
          mallChild
            ? webpayMall.create(c.buyOrder, c.attemptId, c.callbackUrl, [new TransactionDetail(c.amount, mallChild, childBuyOrder(c.buyOrder))])
            : webpay.create(c.buyOrder, c.attemptId, c.amount, c.callbackUrl),
        )) as Json;
        const token = String(res.token);
        const redirect: Redirect = { url: String(res.url), token, method: 'POST', field: 'token_ws' };
        return { verdict: { status: 'redirect', processorRef: token }, redirect };
      } catch (err) {
        return { verdict: whenUnknown(err) };
      }
    },

    async commitRedirect(c, token) {
      try {
        const res = (await call(() => (mallChild ? webpayMall.commit(token) : webpay.commit(token)))) as Json;
        return webpayVerdict(mallChild ? mallFlatten(res) : res, token, c.now.getTime() - c.createdAt.getTime());
      } catch (err) {
        const e = err instanceof ProcessorCallError ? err : classifyTbkError(err);
        if (!e.definite) return { status: 'unknown', processorRef: token, reason: e.message.slice(0, 200) };
        // 422 on commit: aborted, timed out or already committed. Status says which
        // (and status may still read INITIALIZED for an aborted one, SDK issue nodejs#94).
        try {
          const v = await webpayStatus(token, c.now.getTime() - c.createdAt.getTime());
          return v.status === 'redirect' ? { status: 'rejected', processorRef: token, reason: 'commit_refused', data: v.data ?? {} } : v;
        } catch (statusErr) {
          return whenUnknown(statusErr, token);
        }
      }
    },

    async status(c) {
      try {
        if (c.method === 'oneclick') {
          const res = (await call(() => oneclick.status(c.buyOrder))) as Json;
          return oneclickVerdict(res, c.buyOrder);
        }
        if (!c.processorRef) {
          // The create call never answered: no token, nothing the shopper could pay.
          return { status: 'expired', reason: 'never_created' };
        }
        return await webpayStatus(c.processorRef, c.now.getTime() - c.createdAt.getTime());
      } catch (err) {
        const e = err instanceof ProcessorCallError ? err : classifyTbkError(err);
        // Oneclick: a 4xx for our buy order means the authorization never reached Transbank.
        if (e.definite && c.method === 'oneclick' && (e.httpStatus === 404 || e.httpStatus === 422)) {
          return { status: 'rejected', processorRef: c.buyOrder, reason: 'not_found_at_processor' };
        }
        return { status: 'unknown', reason: e.message.slice(0, 200) };
      }
    },

    async refund(c, r: RefundCall): Promise<RefundVerdict> {
      try {
        let res: Json;
        if (c.method === 'oneclick') {
          res = (await call(() => oneclick.refund(c.buyOrder, cfg.oneclickChildCode, childBuyOrder(c.buyOrder), r.amount))) as Json;
        } else if (!c.processorRef) {
          return { status: 'failed', reason: 'no_processor_reference' };
        } else {
          const token = c.processorRef;
          res = (await call(() =>
            mallChild ? webpayMall.refund(token, childBuyOrder(c.buyOrder), mallChild, r.amount) : webpay.refund(token, r.amount),
          )) as Json;
        }
        const type = res.type === 'REVERSED' ? 'REVERSED' : 'NULLIFIED';
        const code = num(res.response_code);
        if (type === 'NULLIFIED' && code !== undefined && code !== 0) return { status: 'failed', reason: `response_code_${code}` };
        return {
          status: 'succeeded',
          refundType: type,
          data: { type, authorization_code: res.authorization_code, nullified_amount: res.nullified_amount, balance: res.balance },
        };
      } catch (err) {
        const e = err instanceof ProcessorCallError ? err : classifyTbkError(err);
        return e.definite ? { status: 'failed', reason: e.message.slice(0, 200) } : { status: 'unknown', reason: e.message.slice(0, 200) };
      }
    },

    async refundStatus(c, r) {
      try {
        const raw = (await call(() =>
          c.method === 'oneclick'
            ? oneclick.status(c.buyOrder)
            : mallChild
              ? webpayMall.status(c.processorRef ?? '')
              : webpay.status(c.processorRef ?? ''),
        )) as Json;
        const flat = c.method === 'oneclick' || mallChild ? mallFlatten(raw) : raw;
        const balance = num(flat.balance);
        const reversed = flat.status === 'REVERSED';
        const atProcessor = reversed ? c.amount : balance !== undefined ? c.amount - balance : 0;
        if (atProcessor >= r.alreadyRefunded + r.amount) {
          return { status: 'succeeded', refundType: reversed ? 'REVERSED' : 'NULLIFIED', data: { resolved_by: 'status', balance } };
        }
        if (atProcessor <= r.alreadyRefunded) return { status: 'failed', reason: 'not_at_processor' };
        return { status: 'unknown', reason: `processor shows ${atProcessor} refunded` };
      } catch (err) {
        const e = err instanceof ProcessorCallError ? err : classifyTbkError(err);
        return { status: 'unknown', reason: e.message.slice(0, 200) };
      }
    },

    parseNotification() {
      // Transbank documents no merchant webhook: results come by return + commit, then status.
      return undefined;
    },

    async startInscription(username, email, responseUrl) {
      const res = (await call(() => inscription.start(username, email, responseUrl))) as Json;
      return { token: String(res.token), url: String(res.url_webpay) };
    },

    async finishInscription(token) {
      const res = (await call(() => inscription.finish(token))) as Json;
      const code = num(res.response_code);
      if (code !== 0 || typeof res.tbk_user !== 'string') return { ok: false, reason: `response_code_${code ?? 'missing'}` };
      const masked = typeof res.card_number === 'string' ? res.card_number : '';
      return {
        ok: true,
        tbkUser: res.tbk_user,
        cardType: typeof res.card_type === 'string' ? res.card_type : 'unknown',
        // Keep only the mask the processor shows (last 4 at most), never more.
        cardMask: `XXXX${masked.replace(/\D/g, '').slice(-4)}`,
        authorizationCode: typeof res.authorization_code === 'string' ? res.authorization_code : undefined,
      };
    },

    async deleteInscription(tbkUser, username) {
      await call(() => inscription.delete(tbkUser, username));
    },
  };
}

/** Oneclick Mall inscriptions (the card vault's processor side). */
export interface TransbankInscriptions {
  startInscription(username: string, email: string, responseUrl: string): Promise<{ token: string; url: string }>;
  finishInscription(
    token: string,
  ): Promise<
    | { ok: true; tbkUser: string; cardType: string; cardMask: string; authorizationCode?: string | undefined }
    | { ok: false; reason: string }
  >;
  deleteInscription(tbkUser: string, username: string): Promise<void>;
}
