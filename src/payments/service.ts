import { randomUUID } from 'node:crypto';
import { isFinal, METHODS, processorOf, type Method, type ProcessorVerdict } from './domain/attempt.js';
import type { Redirect } from './connectors/port.js';
import { attemptWriter } from './attempt-writer.js';
import { attemptCall, connectorFor, timed, transaction, type Core } from './core.js';
import { paymentsError } from './errors.js';
import * as store from './store.js';
import type { AttemptState } from './store.js';
import type { Vault } from './vault.js';
import type { Fraud, FraudSignals, FraudSubject } from './fraud/service.js';


export interface StartPaymentInput {
  orderId: string;
  amount: number;
  currency: 'CLP';
  customerId: string;
  method: Method;
  savedCardId?: string | undefined;
  cardToken?: string | undefined;
  paymentMethodId?: string | undefined;
  payerEmail?: string | undefined;
  returnUrl?: string | undefined;
  /** What the shop knows about the shopper, for fraud prevention (IP, device, delivery región). */
  risk?: FraudSignals | undefined;
}

export interface StartPaymentResult {
  attemptId: string;
  status: 'approved' | 'rejected' | 'pending' | 'redirect';
  redirect?: Redirect;
  reason?: string;
}

/** An attempt as callers see it. */
export interface AttemptView {
  attemptId: string;
  orderId: string;
  customerId: string;
  amount: number;
  currency: 'CLP';
  method: Method;
  processor: string;
  processorRef: string | null;
  status: AttemptState['status'];
  reason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export function attemptView(a: AttemptState): AttemptView {
  return {
    attemptId: a.id,
    orderId: a.orderId,
    customerId: a.customerId,
    amount: a.amount,
    currency: a.currency,
    method: a.method,
    processor: a.processor,
    processorRef: a.processorRef,
    status: a.status,
    reason: a.reason,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  };
}

function result(a: AttemptState, redirect?: Redirect): StartPaymentResult {
  switch (a.status) {
    case 'approved':
      return { attemptId: a.id, status: 'approved' };
    case 'rejected':
    case 'expired':
      return { attemptId: a.id, status: 'rejected', reason: a.reason ?? a.status };
    case 'redirect': {
      const r = redirect ?? (a.redirectUrl && a.processorRef ? { url: a.redirectUrl, token: a.processorRef, method: 'POST' as const, field: 'token_ws' } : undefined);
      return r ? { attemptId: a.id, status: 'redirect', redirect: r } : { attemptId: a.id, status: 'pending' };
    }
    case 'created':
    case 'unknown':
    case 'pending':
    case 'review':
      return {
        attemptId: a.id,
        status: 'pending',
        ...(a.redirectUrl && a.processorRef ? { redirect: { url: a.redirectUrl, token: a.processorRef, method: 'GET' as const, field: 'voucher' } } : {}),
        ...(a.reason ? { reason: a.reason } : {}),
      };
  }
}

function validate(input: StartPaymentInput): void {
  if (!Number.isSafeInteger(input.amount) || input.amount <= 0) throw paymentsError('invalid_amount', 'amount must be a positive integer (CLP)');
  if (input.currency !== 'CLP') throw paymentsError('invalid_payment_request', 'only CLP is supported');
  if (!(METHODS as readonly string[]).includes(input.method)) throw paymentsError('invalid_payment_request', `unknown method ${String(input.method)}`);
  if (!input.orderId || input.orderId.length > 100) throw paymentsError('invalid_payment_request', 'orderId is required (≤ 100 chars)');
  if (!input.customerId || input.customerId.length > 100) throw paymentsError('invalid_payment_request', 'customerId is required (≤ 100 chars)');
  if (input.method === 'oneclick' && !input.savedCardId) throw paymentsError('saved_card_required', 'oneclick needs savedCardId');
  if (input.method === 'mercadopago_card' && !input.cardToken) throw paymentsError('card_token_required', 'mercadopago_card needs cardToken');
}

/** Attempts: start, follow, and the Webpay return. */
export function createAttempts(core: Core, vault: Vault, fraud?: Fraud) {
  /** Returns money the processor took twice for one order (second approval). */
  const giveBackDuplicate = async (a: AttemptState) => {
    const r = await connectorFor(core, a.processor).refund(attemptCall(core, a), { refundId: randomUUID(), amount: a.amount, alreadyRefunded: 0 });
    core.logger.error({ attemptId: a.id, orderId: a.orderId, refund: r.status }, 'second approval for a paid order: refunded at the processor');
  };

  const writer = attemptWriter(core);
  const apply = async (attemptId: string, verdict: ProcessorVerdict, kind: string): Promise<AttemptState> => {
    const applied = await timed(core, 'record', () => writer.record({ attemptId, verdict, kind }));
    if (applied.duplicateCharge) await giveBackDuplicate(applied.state);
    return applied.state;
  };

  return {
    apply,
    giveBackDuplicate,

    /**
     * Starts a charge for an order. Concurrent calls for one order serialise on the order: a
     * second call while money may be in flight returns the same attempt, so an order is
     * charged at most once.
     */
    async startPayment(input: StartPaymentInput): Promise<StartPaymentResult> {
      validate(input);
      const connector = connectorFor(core, processorOf(input.method));
      const subject: FraudSubject = {
        orderId: input.orderId, customerId: input.customerId, amount: input.amount, currency: input.currency, method: input.method,
        savedCardId: input.savedCardId, payerEmail: input.payerEmail, risk: input.risk,
      };
      // One durable group commit opens this attempt with those of concurrent checkouts; the
      // fraud decision is taken there (features read once per batch), before any authorization,
      // and recorded with the attempt.
      const opened = await timed(core, 'open', () => writer.open({ ...input, fraud: fraud ? { subject } : undefined }));
      if ('reuse' in opened) return result(opened.reuse);
      if ('blocked' in opened) {
        // Nothing is sent to the processor; the shopper learns no rule (only the decision id).
        throw paymentsError('fraud_blocked', 'the payment was declined by fraud prevention', { decisionId: opened.blocked.id });
      }
      const a = opened.created;
      let oneclick: { username: string; tbkUser: string } | undefined;
      try {
        oneclick = opened.card ? vault.inscriptionOf(opened.card) : undefined;
      } catch (err) {
        // No key to open the card with: nothing was sent to the processor.
        await apply(a.id, { status: 'rejected', reason: 'vault_unavailable' }, 'authorize');
        throw err;
      }
      const call = attemptCall(core, a, {
        oneclick,
        cardToken: input.cardToken,
        paymentMethodId: input.paymentMethodId,
        payerEmail: input.payerEmail,
      });
      if (input.method === 'webpay') {
        const { verdict, redirect } = await connector.startRedirect(call);
        const withUrl = redirect ? { ...verdict, data: { ...verdict.data, redirect_url: redirect.url } } : verdict;
        return result(await apply(a.id, withUrl, 'redirect_started'), redirect);
      }
      const verdict = await timed(core, 'authorize', () => connector.authorize(call));
      const voucher = verdict.data?.external_resource_url;
      return result(await apply(a.id, typeof voucher === 'string' ? { ...verdict, data: { ...verdict.data, redirect_url: voucher } } : verdict, 'authorize'));
    },

    async getAttempt(attemptId: string): Promise<AttemptView> {
      const a = await store.findAttempt(core.db, attemptId);
      if (!a) throw paymentsError('attempt_not_found', 'no such payment attempt');
      return attemptView(a);
    },

    async attemptsForOrder(orderId: string): Promise<AttemptView[]> {
      return (await store.attemptsForOrder(core.db, orderId)).map(attemptView);
    },

    /**
     * The shopper's return from Webpay. Normal: `token_ws` → commit (exactly once, claimed in
     * the database first). Aborted: `TBK_TOKEN` + order + session → no commit, status says.
     * Form timeout: order + session only → expired. Error: all four → no commit, status says.
     */
    async webpayReturn(params: Record<string, string | undefined>): Promise<AttemptState> {
      const tokenWs = params.token_ws?.trim() || undefined;
      const tbkToken = params.TBK_TOKEN?.trim() || undefined;
      const buyOrder = params.TBK_ORDEN_COMPRA?.trim() || undefined;
      const token = tokenWs ?? tbkToken;
      const a = token
        ? await store.findAttemptByRef(core.db, 'transbank', token)
        : buyOrder
          ? await store.findAttemptByBuyOrder(core.db, buyOrder)
          : undefined;
      if (!a || a.method !== 'webpay') throw paymentsError('invalid_return', 'the return does not match a Webpay payment');
      // The session id we gave Transbank is the attempt id: a return naming another is forged.
      const session = params.TBK_ID_SESION?.trim();
      if (session !== undefined && session !== '' && session !== a.id) throw paymentsError('invalid_return', 'the return does not match a Webpay payment');
      if (!token && !session) throw paymentsError('invalid_return', 'a timed-out return names the order and the session');
      if (isFinal(a.status)) return a;
      const connector = connectorFor(core, 'transbank');

      if (tokenWs && !tbkToken) {
        // Under the attempt's lock, unless it is final or its commit was claimed: one round trip and the commit.
        const claimed = await transaction(core, (tx) => store.claimCommit(tx, a, core.clock.now()));
        // A duplicate return while the first commit runs: show the current state.
        if (!claimed) return (await store.findAttempt(core.db, a.id)) as AttemptState;
        const verdict = await connector.commitRedirect(attemptCall(core, a), tokenWs);
        return apply(a.id, verdict, 'commit');
      }

      if (!token) {
        // Form timed out: nobody can pay this token any more.
        return apply(a.id, { status: 'expired', reason: 'form_timeout' }, 'return_timeout');
      }
      const status = await connector.status(attemptCall(core, a, { processorRef: token }));
      const reason = tokenWs ? 'payment_error' : 'aborted_by_customer';
      const verdict: ProcessorVerdict =
        status.status === 'approved' || status.status === 'rejected' || status.status === 'unknown'
          ? status
          : { status: 'rejected', reason, processorRef: token, data: status.data ?? {} };
      return apply(a.id, verdict.status === 'rejected' && !verdict.reason ? { ...verdict, reason } : verdict, tokenWs ? 'return_error' : 'return_aborted');
    },
  };
}

export type Attempts = ReturnType<typeof createAttempts>;
