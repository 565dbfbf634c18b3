import { appendEvents, type NewEvent } from '../events/index.js';
import type { Clock } from '../platform/clock.js';
import type { Db, Database } from '../platform/db.js';
import { PgCode, pgErrorCode } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import type { Counter } from 'prom-client';
import { decide, type AttemptStatus, giveUpAfterMs, isFinal, nextCheckDelay, type Method, type Processor, type ProcessorVerdict } from './domain/attempt.js';
import { capturePosting } from './domain/ledger.js';
import type { AttemptCall, PaymentConnector } from './connectors/port.js';
import { paymentsEvent } from './events.js';
import * as store from './store.js';
import type { AttemptState } from './store.js';

/** What applyVerdict tells fraud prevention (implemented by ./fraud/service.ts). */
export interface FraudHooks {
  /** Declines feed the velocity counters; approvals the history, and say whether to hold the order. */
  onOutcome(tx: Db, attempt: AttemptState, status: 'approved' | 'rejected'): Promise<{ hold: boolean }>;
}

/** Everything the payments use cases share. */
export interface Core {
  /** Fraud prevention, once built (absent: no checks, no holds). */
  fraud?: FraudHooks | undefined;
  db: Database;
  logger: Logger;
  clock: Clock;
  connectors: Record<Processor, PaymentConnector | undefined>;
  /** Public base URL the processors call back (Webpay return, MP notifications). */
  publicUrl: () => string;
  /** Commit settings for payment transactions (e.g. synchronous replication). */
  txSettings?: Record<string, string> | undefined;
  counters?: {
    /** Attempt state changes recorded, by processor, method and status. */
    transitions: Counter;
    /** Webhooks refused for their signature, by reason. */
    invalidSignatures: Counter;
    /** Janitor checks, by result. */
    janitorChecks: Counter;
  };
}

export function connectorFor(core: Core, processor: Processor): PaymentConnector {
  const c = core.connectors[processor];
  if (!c) throw new Error(`no connector configured for ${processor}`);
  return c;
}

export function callbackUrl(core: Core, method: Method): string {
  const base = core.publicUrl().replace(/\/$/, '');
  return method === 'webpay' ? `${base}/payments/webpay/return` : `${base}/webhooks/mercadopago`;
}

export function attemptCall(core: Core, a: AttemptState, extra: Partial<AttemptCall> = {}): AttemptCall {
  return {
    attemptId: a.id,
    buyOrder: a.buyOrder,
    amount: a.amount,
    method: a.method,
    createdAt: a.createdAt,
    processorRef: a.processorRef ?? undefined,
    callbackUrl: callbackUrl(core, a.method),
    now: core.clock.now(),
    ...extra,
  };
}

export function transaction<T>(core: Core, fn: (tx: Db) => Promise<T>): Promise<T> {
  return core.db.transaction(fn, core.txSettings ? { settings: core.txSettings } : undefined);
}

export interface Applied {
  state: AttemptState;
  changed: boolean;
  /** The processor approved a second payment for an already paid order: give it back. */
  duplicateCharge: boolean;
}

/**
 * Records what the processor said about an attempt, if it moves the attempt forward, with its
 * outcome event and ledger posting in the same transaction. Runs under the attempt's lock, so
 * concurrent returns, webhooks and janitor checks apply each fact once.
 */
export async function applyVerdict(
  core: Core,
  db: Db,
  attemptId: string,
  verdict: Omit<ProcessorVerdict, 'status'> & { status: AttemptStatus },
  kind: string,
): Promise<Applied> {
  const run = async (tx: Db): Promise<Applied> => {
    await store.lockKey(tx, `attempt:${attemptId}`);
    const current = await store.findAttempt(tx, attemptId);
    if (!current) throw new Error(`attempt ${attemptId} vanished`);
    const now = core.clock.now();
    if (verdict.processorRef && verdict.processorRef !== current.processorRef) {
      await store.insertRef(tx, current.processor, verdict.processorRef, current.id);
    }
    const decision = decide(current.status, verdict.status);
    if (decision.kind === 'ignore') {
      if (decision.reason === 'stale' && isFinal(current.status) && isFinal(verdict.status) && current.status !== verdict.status) {
        core.logger.warn({ attemptId, recorded: current.status, reported: verdict.status, kind }, 'processor reports a different final outcome');
      }
      return { state: current, changed: false, duplicateCharge: false };
    }
    let status = decision.status;
    let reason = verdict.reason;
    let duplicateCharge = false;
    if (status === 'approved') {
      const paid = await store.approvedAttemptForOrder(tx, current.orderId);
      if (paid && paid !== current.id) {
        status = 'rejected';
        reason = 'order_already_paid';
        duplicateCharge = true;
      }
    }
    const processorRef = verdict.processorRef ?? current.processorRef ?? undefined;
    const fraudHold = core.fraud && !duplicateCharge && (status === 'approved' || status === 'rejected')
      ? (await core.fraud.onOutcome(tx, current, status)).hold
      : false;
    await store.appendAttemptEvent(tx, {
      attemptId,
      orderId: current.orderId,
      kind,
      status,
      processorRef: verdict.processorRef,
      reason,
      data: verdict.data,
      occurredAt: now,
    });
    const events: NewEvent[] = [];
    const agg = { type: 'payment_attempt' as const, id: attemptId };
    switch (status) {
      case 'approved': {
        const posting = capturePosting(current.processor, current.amount);
        const txId = await store.postLedger(tx, posting, { attemptId }, now);
        events.push(
          paymentsEvent('payments.payment_approved', agg, {
            attemptId,
            orderId: current.orderId,
            amount: current.amount,
            currency: 'CLP',
            method: current.method,
            processor: current.processor,
            processorRef: processorRef ?? current.buyOrder,
            ...(fraudHold ? { fraudHold: true } : {}),
          }),
          paymentsEvent('payments.ledger_posted', { type: 'ledger_transaction', id: txId }, { transactionId: txId, kind: posting.kind, attemptId, entries: posting.entries }),
        );
        break;
      }
      case 'rejected':
        events.push(paymentsEvent('payments.payment_rejected', agg, { attemptId, orderId: current.orderId, reason: reason ?? 'rejected' }));
        break;
      case 'expired':
        events.push(paymentsEvent('payments.payment_expired', agg, { attemptId, orderId: current.orderId }));
        break;
      case 'pending':
        events.push(paymentsEvent('payments.payment_pending', agg, { attemptId, orderId: current.orderId, method: current.method, ...(reason ? { reason } : {}) }));
        break;
      case 'review':
        events.push(paymentsEvent('payments.payment_review', agg, { attemptId, orderId: current.orderId, lastStatus: current.status }));
        break;
      case 'created':
      case 'redirect':
      case 'unknown':
        break;
    }
    await appendEvents(tx, events);
    core.counters?.transitions.inc({ processor: current.processor, method: current.method, status });
    if (isFinal(status) || status === 'review') {
      await store.unschedule(tx, attemptId);
    } else {
      await store.scheduleCheck(
        tx,
        attemptId,
        new Date(now.getTime() + nextCheckDelay(0)),
        new Date(current.createdAt.getTime() + giveUpAfterMs(current.processor)),
      );
    }
    const state = (await store.findAttempt(tx, attemptId)) as AttemptState;
    return { state, changed: true, duplicateCharge };
  };
  try {
    return await (db.inTransaction ? db.transaction(run) : transaction(core, run));
  } catch (err) {
    // Another process recorded the outcome first (unique index): read what won.
    if (pgErrorCode(err) === PgCode.uniqueViolation) {
      const state = await store.findAttempt(core.db, attemptId);
      if (state) return { state, changed: false, duplicateCharge: false };
    }
    throw err;
  }
}
