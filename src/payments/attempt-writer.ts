import { randomUUID } from 'node:crypto';
import { PgCode, pgErrorCode, prepared, type Db } from '../platform/db.js';
import { isAppError } from '../platform/errors.js';
import { outboxInsert, type AppendOptions } from '../events/index.js';
import { groupCommit } from '../platform/group-commit.js';
import { buyOrderFor, giveUpAfterMs, isFinal, processorOf } from './domain/attempt.js';
import * as batch from './batch-store.js';
import { recordVerdicts, timed, transaction, type Applied, type Core, type VerdictItem } from './core.js';
import { paymentsError } from './errors.js';
import { oneStatement } from './statement.js';
import type { StartPaymentInput } from './service.js';
import * as store from './store.js';
import type { AttemptRow, AttemptState, SavedCardRow } from './store.js';
import type { Assessment as FraudAssessment, CounterSink, FraudBatch, FraudSubject, Prefetched } from './fraud/service.js';

/** A pending Webpay redirect is handed out again (double click) only while its token is young. */
export const WEBPAY_TOKEN_REUSE_MS = 4 * 60_000;

/** What opening an attempt gave: the attempt to charge now, or the one already under way. */
export type Opened =
  | { created: AttemptState; card: SavedCardRow | undefined }
  | { reuse: AttemptState }
  | { blocked: FraudAssessment };

/**
 * A request to open an attempt; with `fraud`, the fraud decision is taken for it in the batch,
 * before any authorization, from `features` (its prefetched read) when it has them.
 */
export type OpenRequest = StartPaymentInput & { fraud?: { subject: FraudSubject; features?: Promise<Prefetched> | undefined } | undefined };

type OpenOutcome = { ok: Opened } | { error: unknown };

/**
 * Opens attempts for several orders in `tx`: locks the orders (one global order), reads their
 * attempts and the saved cards once, decides each request in order (a second request for an
 * order in the same batch sees the first one's attempt, as it would one after the other), and
 * inserts every new attempt with its `created` event and janitor schedule in one statement.
 * A refused request (already paid, another payment in progress, unknown card) is answered
 * with its error and writes nothing.
 */
export async function openAttempts(
  core: Core, tx: Db, inputs: OpenRequest[], append: AppendOptions = {}, sink?: CounterSink,
): Promise<OpenOutcome[]> {
  const orderIds = [...new Set(inputs.map((i) => i.orderId))];
  const wanted = inputs.filter((i) => i.method === 'oneclick' && i.savedCardId).map((i) => ({ customerId: i.customerId, cardId: i.savedCardId as string }));
  const readCards = wanted.length > 0 && wanted.every((w) => /^[0-9a-f-]{36}$/i.test(w.cardId));
  const byOrder = new Map<string, AttemptState[]>();
  let cards: SavedCardRow[] = [];
  const decidesFraud = core.fraud !== undefined && inputs.some((i) => i.fraud);
  // The orders' locks, then their attempts and the saved cards under the locks: one round
  // trip, which carries the transaction's BEGIN too (and asks its id when fraud decisions,
  // which count attempts, are written in it).
  const reads = (async () => {
    const read = await batch.lockOrdersAndRead(tx, orderIds, readCards ? wanted : [], decidesFraud && sink !== undefined);
    cards = read.cards;
    if (sink) sink.xid = read.xid;
    for (const a of read.attempts) byOrder.set(a.orderId, [...(byOrder.get(a.orderId) ?? []), a]);
  })();
  // The decisions' features were read ahead (prefetched when each payment asked); what the
  // batch waits for beyond its own reads is part of the decisions' cost.
  const items = inputs.flatMap((i) => (i.fraud ? [i.fraud] : []));
  const fraud: FraudBatch | undefined = core.fraud && items.length > 0 ? await core.fraud.prepare(items, reads) : (await reads, undefined);
  const cardOf = (i: StartPaymentInput) => cards.find((c) => c.id === i.savedCardId && c.customerId === i.customerId);
  const now = core.clock.now();
  const rows: { attempt: AttemptRow; nextCheckAt: Date; giveUpAt: Date }[] = [];
  const decisions: { assessment: FraudAssessment; subject: FraudSubject; attemptId: string | null }[] = [];

  const decideOne = (input: OpenRequest): Opened => {
    const card = input.method === 'oneclick' ? cardOf(input) : undefined;
    if (input.method === 'oneclick' && !card) throw paymentsError('saved_card_not_found', 'no such saved card for this customer');
    const existing = byOrder.get(input.orderId) ?? [];
    if (existing.some((a) => a.status === 'approved')) throw paymentsError('order_already_paid', 'this order is already paid');
    for (const a of existing.filter((x) => !isFinal(x.status) && x.status !== 'review')) {
      // A Webpay token older than its 5-minute life cannot be paid any more: start afresh.
      const staleRedirect = a.status === 'redirect' && now.getTime() - a.createdAt.getTime() > WEBPAY_TOKEN_REUSE_MS;
      if (a.method === input.method && a.amount === input.amount && !staleRedirect) return { reuse: a };
      if (a.status !== 'redirect') {
        throw paymentsError('payment_in_progress', 'another payment for this order is in progress', { attemptId: a.id, status: a.status });
      }
    }
    const subject = input.fraud?.subject;
    const assessment = subject && fraud?.assess(subject);
    if (subject && assessment) fraud?.count(assessment, subject);
    if (subject && assessment?.decision === 'block') {
      decisions.push({ assessment, subject, attemptId: null });
      return { blocked: assessment };
    }
    const id = randomUUID();
    if (subject && assessment) decisions.push({ assessment, subject, attemptId: id });
    const processor = processorOf(input.method);
    const row: AttemptRow = {
      id,
      orderId: input.orderId,
      customerId: input.customerId,
      amount: input.amount,
      currency: 'CLP',
      method: input.method,
      processor,
      buyOrder: buyOrderFor(id),
      savedCardId: input.savedCardId ?? null,
      returnUrl: input.returnUrl ?? null,
      createdAt: now,
    };
    // If we crash before the processor's answer is recorded, the janitor asks it.
    rows.push({ attempt: row, nextCheckAt: new Date(now.getTime() + 60_000), giveUpAt: new Date(now.getTime() + giveUpAfterMs(processor)) });
    const created: AttemptState = {
      ...row, status: 'created', reason: null, processorRef: null, commitClaimed: false, redirectUrl: null, updatedAt: now,
    };
    byOrder.set(input.orderId, [...existing, created]);
    return { created, card };
  };

  const out = inputs.map((input): OpenOutcome => {
    try {
      return { ok: decideOne(input) };
    } catch (err) {
      if (!isAppError(err)) throw err;
      return { error: err };
    }
  });
  // Every new attempt with its event and janitor row, each decision with its attempt (or
  // alone, when blocked) and the outbox events: one statement in this transaction.
  const recorded = core.fraud?.decisionWrites(decisions, sink) ?? { parts: [], events: [] };
  const parts = [...batch.attemptParts(rows), ...recorded.parts];
  const events = outboxInsert(recorded.events, 1);
  if (parts.length > 0 || recorded.events.length > 0) {
    const statement = oneStatement(parts, recorded.events.length > 0 ? events : { sql: 'SELECT 1', params: [] });
    await tx.query(prepared(statement.sql), statement.params);
    events.appended();
    if (recorded.events.length > 0 && append.notify !== false) await tx.query(`SELECT pg_notify('embudo_outbox', '')`);
  }
  return out;
}

/**
 * The group commits of the payment hot path: opening attempts and recording processor
 * verdicts. Concurrent checkouts share one durable transaction per batch, so the commit wait
 * (local flush, or the synchronous standby's apply) is paid once per batch, not per payment.
 * One batch in flight per writer by default: the next batch gathers everyone who arrived
 * meanwhile (checkout bench, 64 shoppers: 7 payments per batch instead of 3, 39 → 70
 * checkouts/s on the same loaded machine), which costs fewer statements per payment.
 */
export function attemptWriter(core: Core, options: { maxBatch?: number; maxInFlight?: number } = {}) {
  // The batch's events wake the consumers after its commit, not with a NOTIFY inside it
  // (a NOTIFY would make every batch wait for the previous notifying commit's flush).
  const wake = core.wakeOutbox;
  const append = { notify: wake === undefined };
  const committed = async <T>(step: string, fn: (tx: Db) => Promise<T>): Promise<T> => {
    const out = await timed(core, step, () => transaction(core, fn));
    wake?.();
    return out;
  };
  // Each batch's counter changes reach fraud prevention once it has committed: decisions
  // prefetched before that commit still count them.
  const counting = async <T>(step: string, fn: (tx: Db, sink: CounterSink) => Promise<T>): Promise<T> => {
    const sink: CounterSink = { bumps: [] };
    const out = await committed(step, (tx) => fn(tx, sink));
    core.fraud?.committed(sink);
    return out;
  };
  const open = groupCommit(
    (inputs: OpenRequest[]) => counting('open_batch', (tx, sink) => openAttempts(core, tx, inputs, append, sink)),
    { maxBatch: options.maxBatch ?? 128, maxInFlight: options.maxInFlight ?? 1 },
  );
  const record = groupCommit(
    (items: VerdictItem[]) => counting('record_batch', (tx, sink) => recordVerdicts(core, tx, items, append, sink)),
    { maxBatch: options.maxBatch ?? 128, maxInFlight: options.maxInFlight ?? 1 },
  );
  return {
    /** Opens (or finds) the attempt for a payment; throws the request's refusal. */
    async open(input: OpenRequest): Promise<Opened> {
      // The fraud features are read while the payment waits for its batch.
      const ahead = input.fraud && core.fraud && !input.fraud.features ? { ...input, fraud: { ...input.fraud, features: core.fraud.prefetch(input.fraud.subject) } } : input;
      const outcome = await open(ahead);
      if ('error' in outcome) throw outcome.error;
      return outcome.ok;
    },
    /** Records a verdict outside any transaction (inside one, use applyVerdict). */
    async record(item: VerdictItem): Promise<Applied> {
      try {
        return await record(item);
      } catch (err) {
        // Another process recorded the outcome first (unique index): read what won.
        if (pgErrorCode(err) === PgCode.uniqueViolation) {
          const state = await store.findAttempt(core.db, item.attemptId);
          if (state) return { state, changed: false, duplicateCharge: false };
        }
        throw err;
      }
    },
  };
}

export type AttemptWriter = ReturnType<typeof attemptWriter>;
