import { randomUUID } from 'node:crypto';
import { outboxInsert, type AppendOptions, type NewEvent } from '../events/index.js';
import type { Clock } from '../platform/clock.js';
import type { Db, Database } from '../platform/db.js';
import { PgCode, pgErrorCode, prepared } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import type { Counter, Histogram } from 'prom-client';
import { decide, type AttemptStatus, giveUpAfterMs, isFinal, nextCheckDelay, type Method, type Processor, type ProcessorVerdict } from './domain/attempt.js';
import { capturePosting } from './domain/ledger.js';
import type { AttemptCall, PaymentConnector } from './connectors/port.js';
import { paymentsEvent } from './events.js';
import * as batch from './batch-store.js';
import { oneStatement, type Part } from './statement.js';
import * as store from './store.js';
import type { AttemptState } from './store.js';
import type { Assessment as FraudAssessment, CounterSink, FraudBatch, FraudSubject, Prefetched } from './fraud/service.js';

/** What the payments tell fraud prevention and ask of it (implemented by ./fraud/service.ts). */
export interface FraudHooks {
  /** Starts reading a payment's features ahead of its batch. */
  prefetch(subject: FraudSubject): Promise<Prefetched>;
  /** The decider of a batch of payments, from their prefetched features, alongside the batch's own reads. */
  prepare(items: { subject: FraudSubject; features?: Promise<Prefetched> | undefined }[], alongside?: Promise<unknown>): Promise<FraudBatch>;
  /** Declines feed the velocity counters; approvals the history: writes for the verdicts' statement (their counter changes go to `sink`). */
  outcomeWrites(outcomes: { attempt: AttemptState; status: 'approved' | 'rejected' }[], sink?: CounterSink): Promise<Part[]>;
  /** The writes and events recording decisions taken before authorization, for the attempts' statement (attemptId null: blocked). */
  decisionWrites(items: { assessment: FraudAssessment; subject: FraudSubject; attemptId: string | null }[], sink?: CounterSink): { parts: Part[]; events: NewEvent[] };
  /** The transaction whose counter changes `sink` holds committed. */
  committed(sink: CounterSink): void;
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
  /**
   * Where a payment's time goes (`embudo_payment_step_seconds{step}`): open (queue + the
   * attempts' group commit, fraud decision included), authorize (processor call), record (queue
   * + the verdicts' group commit); `open_batch` / `record_batch` time each group commit's transaction.
   */
  steps?: Histogram | undefined;
  /**
   * Wakes the outbox consumers after a group commit that appended events without a NOTIFY
   * (events' `outboxWaker`); absent, every append notifies in its transaction.
   */
  wakeOutbox?: (() => void) | undefined;
}

/** Times `fn` as `step` when the payments core has a step histogram. */
export async function timed<T>(core: Core, step: string, fn: () => Promise<T>): Promise<T> {
  if (!core.steps) return fn();
  const end = core.steps.startTimer({ step });
  try {
    return await fn();
  } finally {
    end();
  }
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

/**
 * Runs a payments transaction. Payment data (attempts, their events, saved cards, refunds,
 * the ledger) is committed durably: with a synchronous standby configured, COMMIT returns
 * only once the standby has applied it, so an approval the customer heard of survives the
 * loss of the primary (see README "High availability" for the cost).
 */
export function transaction<T>(core: Core, fn: (tx: Db) => Promise<T>): Promise<T> {
  return core.db.transaction(fn, { durable: true, ...(core.txSettings ? { settings: core.txSettings } : {}) });
}

export interface Applied {
  state: AttemptState;
  changed: boolean;
  /** The processor approved a second payment for an already paid order: give it back. */
  duplicateCharge: boolean;
}

/** One processor verdict to record for an attempt. */
export interface VerdictItem {
  attemptId: string;
  verdict: Omit<ProcessorVerdict, 'status'> & { status: AttemptStatus };
  kind: string;
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
  const run = async (tx: Db) => (await recordVerdicts(core, tx, [{ attemptId, verdict, kind }]))[0] as Applied;
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

/**
 * Records several verdicts inside `tx` with a handful of set-based statements (the group
 * commit in attempt-writer.ts hands it a whole batch): locks the attempts (in one global
 * order), reads their states once, decides each verdict in order against the running state
 * (two verdicts for one attempt in a batch apply as if one after the other), then writes every
 * event, ledger posting, outbox event and janitor change of the batch. Answers in input order.
 */
export async function recordVerdicts(core: Core, tx: Db, items: VerdictItem[], append: AppendOptions = {}, sink?: CounterSink): Promise<Applied[]> {
  const ids = [...new Set(items.map((i) => i.attemptId))];
  // The attempts' locks, then under them one read: the attempts, their orders' approved
  // attempt and open review (one round trip, with the transaction's BEGIN; with its id when
  // fraud prevention is to learn what it commits).
  const { rows: found, xid } = await batch.lockAttemptsAndFindForVerdicts(tx, ids, sink !== undefined && core.fraud !== undefined);
  if (sink) sink.xid = xid;
  const states = new Map(found.map((f) => [f.state.id, f.state]));
  const now = core.clock.now();
  const paidBy = new Map(found.flatMap((f) => (f.orderPaidBy ? [[f.state.orderId, f.orderPaidBy] as const] : [])));
  const underReview = new Set(found.flatMap((f) => (f.orderUnderReview ? [f.state.orderId] : [])));
  const refs: { processor: Processor; ref: string; attemptId: string }[] = [];
  const attemptEvents: store.NewAttemptEvent[] = [];
  const postings: { id: string; posting: ReturnType<typeof capturePosting>; attemptId: string; at: Date }[] = [];
  const events: NewEvent[] = [];
  const schedule = new Map<string, { attemptId: string; nextAt: Date; giveUpAt: Date } | null>();
  const out: Applied[] = [];
  // What each verdict changes, decided in order against the running state; written below.
  const moves: { item: VerdictItem; current: AttemptState; status: AttemptStatus; reason: string | undefined; processorRef: string | undefined; duplicateCharge: boolean }[] = [];

  for (const item of items) {
    const { attemptId, verdict, kind } = item;
    const current = states.get(attemptId);
    if (!current) throw new Error(`attempt ${attemptId} vanished`);
    if (verdict.processorRef && verdict.processorRef !== current.processorRef) {
      refs.push({ processor: current.processor, ref: verdict.processorRef, attemptId });
    }
    const decision = decide(current.status, verdict.status);
    if (decision.kind === 'ignore') {
      if (decision.reason === 'stale' && isFinal(current.status) && isFinal(verdict.status) && current.status !== verdict.status) {
        core.logger.warn({ attemptId, recorded: current.status, reported: verdict.status, kind }, 'processor reports a different final outcome');
      }
      out.push({ state: current, changed: false, duplicateCharge: false });
      continue;
    }
    let status = decision.status;
    let reason = verdict.reason;
    let duplicateCharge = false;
    if (status === 'approved') {
      const paid = paidBy.get(current.orderId);
      if (paid && paid !== current.id) {
        if (current.reason === 'order_already_paid') {
          // This attempt's money was already recorded as a second charge and given back.
          out.push({ state: current, changed: false, duplicateCharge: false });
          continue;
        }
        status = 'rejected';
        reason = 'order_already_paid';
        duplicateCharge = true;
      } else {
        paidBy.set(current.orderId, current.id);
        if (isFinal(current.status)) {
          // Never silent: checkout pays the order (re-reserving its stock) or refunds it.
          core.logger.warn({ attemptId, orderId: current.orderId, recorded: current.status, kind }, 'processor approved an attempt recorded as failed: late approval');
        }
      }
    }
    const processorRef = verdict.processorRef ?? current.processorRef ?? undefined;
    moves.push({ item, current, status, reason, processorRef, duplicateCharge });
    // The state the appended event gives (store.STATE_SQL's reading of the event log).
    const data = verdict.data;
    const next: AttemptState = {
      ...current,
      status,
      reason: reason ?? null,
      processorRef: processorRef ?? null,
      redirectUrl: data && 'redirect_url' in data ? (typeof data.redirect_url === 'string' ? data.redirect_url : null) : current.redirectUrl,
      updatedAt: now,
    };
    states.set(attemptId, next);
    out.push({ state: next, changed: true, duplicateCharge });
  }

  // Fraud prevention learns the outcomes (declines, approvals) in the batch's statement; an
  // approval of an order under review (its review row locked by the read above) is held.
  const outcomes = moves.flatMap((m) => (!m.duplicateCharge && (m.status === 'approved' || m.status === 'rejected') ? [{ attempt: m.current, status: m.status }] : []));
  const fraudParts = core.fraud && outcomes.length > 0 ? await core.fraud.outcomeWrites(outcomes, sink) : [];
  const held = new Set(core.fraud ? outcomes.filter((o) => o.status === 'approved' && underReview.has(o.attempt.orderId)).map((o) => o.attempt.id) : []);

  for (const { item: { attemptId, verdict, kind }, current, status, reason, processorRef } of moves) {
    const fraudHold = held.has(attemptId);
    attemptEvents.push({ attemptId, orderId: current.orderId, kind, status, processorRef: verdict.processorRef, reason, data: verdict.data, occurredAt: now });
    const agg = { type: 'payment_attempt' as const, id: attemptId };
    switch (status) {
      case 'approved': {
        const posting = capturePosting(current.processor, current.amount);
        const txId = randomUUID();
        postings.push({ id: txId, posting, attemptId, at: now });
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
    core.counters?.transitions.inc({ processor: current.processor, method: current.method, status });
    schedule.set(
      attemptId,
      isFinal(status) || status === 'review'
        ? null
        : { attemptId, nextAt: new Date(now.getTime() + nextCheckDelay(0)), giveUpAt: new Date(current.createdAt.getTime() + giveUpAfterMs(current.processor)) },
    );
  }

  // Every write of the batch in one statement: refs, attempt events, ledger postings, fraud
  // counters and history, janitor changes and the outbox rows.
  const entries = [...schedule.entries()];
  const parts = [
    ...batch.refParts(refs),
    ...batch.attemptEventParts(attemptEvents),
    ...batch.ledgerParts(postings),
    ...fraudParts,
    ...batch.rescheduleParts(entries.flatMap(([, s]) => (s ? [s] : [])), entries.filter(([, s]) => s === null).map(([id]) => id)),
  ];
  const outbox = outboxInsert(events, 1);
  if (parts.length > 0 || events.length > 0) {
    const statement = oneStatement(parts, events.length > 0 ? outbox : { sql: 'SELECT 1', params: [] });
    await tx.query(prepared(statement.sql), statement.params);
    outbox.appended();
    if (events.length > 0 && append.notify !== false) await tx.query(`SELECT pg_notify('embudo_outbox', '')`);
  }
  return out;
}
