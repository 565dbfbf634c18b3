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
import type { Assessment as FraudAssessment, FraudBatch, FraudSubject } from './fraud/service.js';
import { featuresStatement as fraudStatement, toRawFeatures, type FeaturesQuery, type RawFeatures } from './fraud/store.js';

/** A pending Webpay redirect is handed out again (double click) only while its token is young. */
export const WEBPAY_TOKEN_REUSE_MS = 4 * 60_000;

/** What opening an attempt gave: the attempt to charge now, or the one already under way. */
export type Opened =
  | { created: AttemptState; card: SavedCardRow | undefined }
  | { reuse: AttemptState }
  | { blocked: FraudAssessment };

/** A request to open an attempt; with `fraud`, the fraud decision is taken for it in the batch, before any authorization. */
export type OpenRequest = StartPaymentInput & { fraud?: { subject: FraudSubject } | undefined };

type OpenOutcome = { ok: Opened } | { error: unknown };

/**
 * A batch's fraud decisions, prepared before its transaction: `query` is the features read
 * they wait for, which the batch's own reads carry (`answer` with its row), and `readsDone`
 * is called when those reads are done.
 */
interface EarlyFeatures {
  batch: Promise<FraudBatch>;
  query: Promise<FeaturesQuery>;
  answer(row: Record<string, unknown> | undefined, serverMs?: number): void;
  readsDone(): void;
}

/**
 * Opens attempts for several orders in `tx`: locks the orders (one global order), reads their
 * attempts and the saved cards once, decides each request in order (a second request for an
 * order in the same batch sees the first one's attempt, as it would one after the other), and
 * inserts every new attempt with its `created` event and janitor schedule in one statement.
 * A refused request (already paid, another payment in progress, unknown card) is answered
 * with its error and writes nothing.
 */
export async function openAttempts(
  core: Core, tx: Db, inputs: OpenRequest[], append: AppendOptions = {}, features?: EarlyFeatures,
): Promise<OpenOutcome[]> {
  const orderIds = [...new Set(inputs.map((i) => i.orderId))];
  const wanted = inputs.filter((i) => i.method === 'oneclick' && i.savedCardId).map((i) => ({ customerId: i.customerId, cardId: i.savedCardId as string }));
  const readCards = wanted.length > 0 && wanted.every((w) => /^[0-9a-f-]{36}$/i.test(w.cardId));
  const byOrder = new Map<string, AttemptState[]>();
  let cards: SavedCardRow[] = [];
  // The orders' locks, then their attempts and the saved cards under the locks: one round
  // trip, which carries the transaction's BEGIN too.
  // With them, the batch's read of every payment's fraud features (per entity, not per order:
  // the orders' locks do not guard them) when the writer prepared its decisions.
  const reads = (async () => {
    const also = features ? fraudStatement(await features.query) : undefined;
    const read = await batch.lockOrdersAndRead(tx, orderIds, readCards ? wanted : [], also);
    cards = read.cards;
    for (const a of read.attempts) byOrder.set(a.orderId, [...(byOrder.get(a.orderId) ?? []), a]);
    features?.answer(read.also, read.alsoMs);
  })();
  // Otherwise that read is made on its own connection alongside the batch's.
  const subjects = inputs.flatMap((i) => (i.fraud ? [i.fraud.subject] : []));
  let fraud: FraudBatch | undefined;
  if (features) {
    await reads;
    features.readsDone();
    fraud = await features.batch;
  } else {
    fraud = core.fraud && subjects.length > 0 ? await core.fraud.prepare(core.db, subjects, reads) : (await reads, undefined);
  }
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
  const recorded = core.fraud?.decisionWrites(decisions) ?? { parts: [], events: [] };
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
  const open = groupCommit(
    async (inputs: OpenRequest[]) => {
      // The fraud features read starts now, so it overlaps the transaction's BEGIN too, not
      // only its locks and reads; it is settled whatever happens to the transaction.
      const subjects = inputs.flatMap((i) => (i.fraud ? [i.fraud.subject] : []));
      if (!core.fraud || subjects.length === 0) return committed('open_batch', (tx) => openAttempts(core, tx, inputs, append));
      let readsDone = (): void => undefined;
      let abandon = (_: unknown): void => undefined;
      const alongside = new Promise<void>((resolve, reject) => {
        readsDone = resolve;
        abandon = reject;
      });
      // The decisions' features read travels in the batch's first round trip (with its BEGIN
      // and locks), not on a connection of its own that the batch would wait for.
      let asked = (_: FeaturesQuery): void => undefined;
      const query = new Promise<FeaturesQuery>((resolve) => (asked = resolve));
      let answer = (_: Record<string, unknown> | undefined, __?: number): void => undefined;
      let unanswered = (_: unknown): void => undefined;
      const answered = new Promise<RawFeatures>((resolve, reject) => {
        answer = (row, serverMs) => resolve({ ...toRawFeatures(row as Parameters<typeof toRawFeatures>[0]), ...(serverMs !== undefined ? { inlineMs: serverMs } : {}) });
        unanswered = reject;
      });
      const batch = core.fraud.prepare(core.db, subjects, alongside, (q) => {
        asked(q);
        return answered;
      });
      batch.catch(() => undefined); // awaited in the transaction, or abandoned with it
      // A batch that fails before asking (no rule set) must not leave the reads waiting.
      const asking = Promise.race([query, batch.then(() => Promise.reject(new Error('fraud batch settled unasked')))]);
      asking.catch(() => undefined);
      try {
        return await committed('open_batch', (tx) => openAttempts(core, tx, inputs, append, { batch, query: asking, answer, readsDone }));
      } finally {
        const ended = new Error('open batch ended before its reads');
        unanswered(ended);
        abandon(ended);
      }
    },
    { maxBatch: options.maxBatch ?? 128, maxInFlight: options.maxInFlight ?? 1 },
  );
  const record = groupCommit(
    (items: VerdictItem[]) => committed('record_batch', (tx) => recordVerdicts(core, tx, items, append)),
    { maxBatch: options.maxBatch ?? 128, maxInFlight: options.maxInFlight ?? 1 },
  );
  return {
    /** Opens (or finds) the attempt for a payment; throws the request's refusal. */
    async open(input: OpenRequest): Promise<Opened> {
      const outcome = await open(input);
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
