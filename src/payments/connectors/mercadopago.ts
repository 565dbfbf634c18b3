import type { ProcessorVerdict } from '../domain/attempt.js';
import type { AttemptCall, PaymentConnector, RefundCall, RefundVerdict } from './port.js';
import { ProcessorCallError } from './port.js';

export interface MercadoPagoConfig {
  baseUrl: string;
  accessToken: string;
  timeoutMs: number;
}

type Json = Record<string, unknown>;

/** A scalar id/status as text (MP sends numbers or strings). */
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** MP payment status → verdict; `cancelled` on a pending (cash) payment means it expired. */
export function mpVerdict(payment: Json): ProcessorVerdict {
  const id = str(payment.id);
  const detail = typeof payment.status_detail === 'string' ? payment.status_detail : undefined;
  const data = {
    mp_status: payment.status,
    status_detail: detail,
    payment_method_id: payment.payment_method_id,
    payment_type_id: payment.payment_type_id,
    date_of_expiration: payment.date_of_expiration,
    last4: (payment.card as Json | undefined)?.last_four_digits,
    external_reference: payment.external_reference,
    external_resource_url: (payment.transaction_details as Json | undefined)?.external_resource_url,
  };
  const base = { ...(id ? { processorRef: id } : {}), data };
  switch (payment.status) {
    case 'approved':
    case 'authorized':
    case 'refunded':
    case 'charged_back':
      return { status: 'approved', ...base };
    case 'pending':
    case 'in_process':
    case 'in_mediation':
      return { status: 'pending', ...base, ...(detail ? { reason: detail } : {}) };
    case 'rejected':
      return { status: 'rejected', ...base, reason: detail ?? 'rejected' };
    case 'cancelled':
      return { status: 'expired', ...base, reason: detail ?? 'cancelled' };
    default:
      return { status: 'unknown', ...base, reason: `unexpected status ${str(payment.status) ?? '?'}` };
  }
}

/**
 * Mercado Pago over plain HTTP (fetch). Payments are created with our attempt id as the
 * idempotency key, so a retry after a lost answer returns the same payment.
 */
export function mercadoPagoConnector(cfg: MercadoPagoConfig): PaymentConnector {
  const request = async (method: string, path: string, body?: unknown, idempotencyKey?: string): Promise<Json> => {
    let res: Response;
    try {
      res = await fetch(`${cfg.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${cfg.accessToken}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(idempotencyKey ? { 'x-idempotency-key': idempotencyKey } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(cfg.timeoutMs),
      });
    } catch (err) {
      throw new ProcessorCallError(err instanceof Error ? err.message : 'network error', false);
    }
    const text = await res.text().catch(() => '');
    let json: Json = {};
    try {
      json = text ? (JSON.parse(text) as Json) : {};
    } catch {
      json = {};
    }
    if (!res.ok) {
      const message = typeof json.message === 'string' ? json.message : `HTTP ${res.status}`;
      throw new ProcessorCallError(message, res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429, res.status);
    }
    return json;
  };

  const create = async (c: AttemptCall): Promise<ProcessorVerdict> => {
    const cash = c.method === 'mercadopago_cash';
    const body = {
      transaction_amount: c.amount,
      description: `Order payment ${c.buyOrder}`,
      installments: 1,
      payment_method_id: c.paymentMethodId ?? (cash ? 'servipag' : undefined),
      ...(cash ? {} : { token: c.cardToken }),
      payer: { email: c.payerEmail ?? 'buyer@example.invalid' },
      external_reference: c.attemptId,
      notification_url: c.callbackUrl,
    };
    return mpVerdict(await request('POST', '/v1/payments', body, c.attemptId));
  };

  const fail = (err: unknown, processorRef?: string): ProcessorVerdict => {
    const e = err instanceof ProcessorCallError ? err : new ProcessorCallError(String(err), false);
    return e.definite
      ? { status: 'rejected', reason: `refused: ${e.message}`.slice(0, 200), ...(processorRef ? { processorRef } : {}), data: { http_status: e.httpStatus } }
      : { status: 'unknown', reason: e.message.slice(0, 200), ...(processorRef ? { processorRef } : {}) };
  };

  return {
    processor: 'mercadopago',

    async authorize(c) {
      if (c.method === 'mercadopago_card' && !c.cardToken) return { status: 'rejected', reason: 'missing_card_token' };
      try {
        return await create(c);
      } catch (err) {
        return fail(err);
      }
    },

    async startRedirect() {
      return { verdict: { status: 'rejected', reason: 'unsupported_method' } };
    },

    async commitRedirect() {
      return { status: 'rejected', reason: 'unsupported_method' };
    },

    async status(c) {
      try {
        if (c.processorRef) return mpVerdict(await request('GET', `/v1/payments/${encodeURIComponent(c.processorRef)}`));
        // The create answer was lost: the same idempotency key returns the same payment.
        return await create(c);
      } catch (err) {
        const v = fail(err, c.processorRef);
        // A definite refusal on status is not a rejection of the payment: keep asking.
        return v.status === 'rejected' && c.processorRef ? { status: 'unknown', reason: v.reason ?? 'status refused' } : v;
      }
    },

    // Refunds carry the refund id as idempotency key: asking again returns the refund if it
    // exists, or makes it now (the caller's intent stands).
    refundStatus: (c, r) => refund(c, r),
    refund: (c, r) => refund(c, r),

    parseNotification(query, body) {
      const b = (body ?? {}) as Json;
      const data = (b.data ?? {}) as Json;
      const topic = str(b.type) ?? query.type ?? query.topic ?? '';
      const resourceId = query['data.id'] ?? str(data.id);
      if (topic !== 'payment' || !resourceId) return undefined;
      // Notification id: the body's id; fall back to resource + action + date.
      const notificationId = str(b.id) ?? `${resourceId}:${str(b.action) ?? ''}:${str(b.date_created) ?? ''}`;
      return { notificationId, resourceId, topic };
    },
  };

  async function refund(c: AttemptCall, r: RefundCall): Promise<RefundVerdict> {
    if (!c.processorRef) return { status: 'failed', reason: 'no_processor_reference' };
    try {
      const res = await request('POST', `/v1/payments/${encodeURIComponent(c.processorRef)}/refunds`, { amount: r.amount }, r.refundId);
      if (res.status !== undefined && res.status !== 'approved') return { status: 'failed', reason: `refund ${str(res.status) ?? 'not approved'}` };
      return {
        status: 'succeeded',
        refundType: r.alreadyRefunded + r.amount >= c.amount ? 'FULL' : 'PARTIAL',
        ...(str(res.id) ? { processorRef: str(res.id) } : {}),
        data: { mp_refund_id: res.id },
      };
    } catch (err) {
      const e = err instanceof ProcessorCallError ? err : new ProcessorCallError(String(err), false);
      return e.definite ? { status: 'failed', reason: e.message.slice(0, 200) } : { status: 'unknown', reason: e.message.slice(0, 200) };
    }
  }
}
