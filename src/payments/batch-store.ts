// Set-based SQL for the payment attempt group commits (attempt-writer.ts): one statement per
// kind of row for a whole batch, whatever its size.
import { queryScript, sqlArray, type Db } from '../platform/db.js';
import type { Posting } from './domain/ledger.js';
import type { Processor } from './domain/attempt.js';
import type { Part } from './statement.js';
import { STATE_SQL, toState, type AttemptRow, type AttemptState, type NewAttemptEvent, type SavedCardRow } from './store.js';

/**
 * The attempts (read under their locks) with, for each, its order's approved attempt if any
 * and whether its order has an open fraud review, that review's row locked (FOR UPDATE) so
 * the hold the caller decides from it stands until commit. `ids`: an SQL uuid[] expression.
 */
function verdictsSql(ids: string): string {
  return `WITH att AS (${STATE_SQL} WHERE a.id = ANY(${ids})),
     rv AS (SELECT order_id FROM fraud_reviews WHERE order_id IN (SELECT order_id FROM att) AND status = 'open' ORDER BY order_id FOR UPDATE)
     SELECT att.*,
            (SELECT e.attempt_id FROM payment_attempt_events e WHERE e.order_id = att.order_id AND e.status = 'approved' LIMIT 1) AS order_paid_by,
            att.order_id IN (SELECT order_id FROM rv) AS order_under_review
       FROM att`;
}

function toVerdictRow(r: Record<string, unknown>): { state: AttemptState; orderPaidBy: string | null; orderUnderReview: boolean } {
  return { state: toState(r), orderPaidBy: (r.order_paid_by as string | null) ?? null, orderUnderReview: r.order_under_review === true };
}

/**
 * Serialises work on several keys for the rest of the transaction, keys inlined (for
 * `queryScript`). The locks are taken in one global order (sorted hashes), so two batches over
 * overlapping keys cannot deadlock.
 */
function lockStatement(keys: string[]): string {
  return `SELECT count(*) AS locked FROM (SELECT pg_advisory_xact_lock(k) FROM (
       SELECT DISTINCT hashtextextended('payments:' || key, 0) AS k FROM unnest(${sqlArray(keys, 'text')}) AS t(key) ORDER BY k) s) l`;
}

const CARD_COLUMNS = 'c.id, c.customer_id, c.username, c.card_type, c.card_mask, c.kek_id, c.wrapped_key, c.ciphertext, c.created_at';

/** The transaction's id (assigned now if it has none yet), for a script that wants it. */
const XID_SQL = 'SELECT pg_current_xact_id()::text AS xid';
const xidOf = (r: { rows: unknown[] } | undefined): bigint | undefined => {
  const x = (r?.rows[0] as { xid?: string } | undefined)?.xid;
  return x ? BigInt(x) : undefined;
};

/**
 * What opening attempts reads, in one round trip (with the transaction's BEGIN when it is the
 * first statement): the orders' locks (one global order), then, each statement in a snapshot
 * taken after them, the orders' attempts and the saved cards of `pairs`; with `withXid`, the
 * transaction's id.
 */
export async function lockOrdersAndRead(
  tx: Db, orderIds: string[], pairs: { customerId: string; cardId: string }[], withXid = false,
): Promise<{ cards: SavedCardRow[]; attempts: AttemptState[]; xid: bigint | undefined }> {
  const statements = [
    lockStatement(orderIds.map((id) => `order:${id}`)),
    `${STATE_SQL} WHERE a.order_id = ANY(${sqlArray(orderIds, 'text')}) ORDER BY a.created_at`,
    ...(pairs.length > 0
      ? [`SELECT ${CARD_COLUMNS} FROM payment_saved_cards c
           JOIN unnest(${sqlArray(pairs.map((p) => p.customerId), 'text')}, ${sqlArray(pairs.map((p) => p.cardId), 'uuid')}) AS p(customer_id, id) USING (customer_id, id)`]
      : [`SELECT NULL WHERE false`]),
    ...(withXid ? [XID_SQL] : []),
  ];
  const [, attempts, cards, xid] = await queryScript(tx, statements);
  return { attempts: (attempts?.rows ?? []).map(toState), cards: (cards?.rows ?? []).map(toCard), xid: xidOf(xid) };
}

/**
 * The attempts' locks and then what recording verdicts reads of them (in a snapshot taken
 * after the locks) in one round trip, with the transaction's BEGIN when it is the first
 * statement; with `withXid`, the transaction's id.
 */
export async function lockAttemptsAndFindForVerdicts(
  tx: Db, ids: string[], withXid = false,
): Promise<{ rows: { state: AttemptState; orderPaidBy: string | null; orderUnderReview: boolean }[]; xid: bigint | undefined }> {
  const [, found, xid] = await queryScript(tx, [
    lockStatement(ids.map((id) => `attempt:${id}`)), verdictsSql(sqlArray(ids, 'uuid')), ...(withXid ? [XID_SQL] : []),
  ]);
  return { rows: (found?.rows ?? []).map(toVerdictRow), xid: xidOf(xid) };
}

export async function findCards(db: Db, pairs: { customerId: string; cardId: string }[]): Promise<SavedCardRow[]> {
  const { rows } = await db.query(
    `SELECT c.id, c.customer_id, c.username, c.card_type, c.card_mask, c.kek_id, c.wrapped_key, c.ciphertext, c.created_at
       FROM payment_saved_cards c JOIN unnest($1::text[], $2::uuid[]) AS p(customer_id, id) USING (customer_id, id)`,
    [pairs.map((p) => p.customerId), pairs.map((p) => p.cardId)],
  );
  return rows.map(toCard);
}

function toCard(r: Record<string, unknown>): SavedCardRow {
  return {
    id: r.id as string,
    customerId: r.customer_id as string,
    username: r.username as string,
    cardType: r.card_type as string,
    cardMask: r.card_mask as string,
    kekId: r.kek_id as string,
    wrappedKey: r.wrapped_key as Buffer,
    ciphertext: r.ciphertext as Buffer,
    createdAt: r.created_at as Date,
  };
}

/** New attempts with their `created` event and the janitor's first look, as parts of the caller's statement. */
export function attemptParts(rows: { attempt: AttemptRow; nextCheckAt: Date; giveUpAt: Date }[]): Part[] {
  if (rows.length === 0) return [];
  const a = rows.map((r) => r.attempt);
  return [
    {
      name: 'new_attempts',
      sql: `INSERT INTO payment_attempts (id, order_id, customer_id, amount, currency, method, processor, buy_order, saved_card_id, return_url, created_at)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::uuid[], $10::text[], $11::timestamptz[])
       RETURNING id, order_id, created_at`,
      params: [
        a.map((x) => x.id), a.map((x) => x.orderId), a.map((x) => x.customerId), a.map((x) => x.amount), a.map((x) => x.currency),
        a.map((x) => x.method), a.map((x) => x.processor), a.map((x) => x.buyOrder), a.map((x) => x.savedCardId), a.map((x) => x.returnUrl),
        a.map((x) => x.createdAt),
      ],
    },
    { sql: `INSERT INTO payment_attempt_events (attempt_id, order_id, kind, status, occurred_at) SELECT id, order_id, 'created', 'created', created_at FROM new_attempts`, params: [] },
    {
      sql: `INSERT INTO payment_janitor_schedule (attempt_id, next_check_at, give_up_at) SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[])`,
      params: [a.map((x) => x.id), rows.map((r) => r.nextCheckAt), rows.map((r) => r.giveUpAt)],
    },
  ];
}

export function attemptEventParts(events: NewAttemptEvent[]): Part[] {
  if (events.length === 0) return [];
  // WITH ORDINALITY + ORDER BY: the identity column follows the order given (the last event
  // of an attempt is its state).
  return [{
    sql: `INSERT INTO payment_attempt_events (attempt_id, order_id, kind, status, processor_ref, reason, data, occurred_at)
     SELECT attempt_id, order_id, kind, status, processor_ref, reason, data, occurred_at
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::timestamptz[])
         WITH ORDINALITY AS t(attempt_id, order_id, kind, status, processor_ref, reason, data, occurred_at, n)
      ORDER BY n`,
    params: [
      events.map((e) => e.attemptId), events.map((e) => e.orderId), events.map((e) => e.kind), events.map((e) => e.status),
      events.map((e) => e.processorRef ?? null), events.map((e) => e.reason ?? null), events.map((e) => JSON.stringify(e.data ?? {})),
      events.map((e) => e.occurredAt),
    ],
  }];
}

export function refParts(refs: { processor: Processor; ref: string; attemptId: string }[]): Part[] {
  if (refs.length === 0) return [];
  return [{
    sql: `INSERT INTO payment_processor_refs (processor, ref, attempt_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[]) ON CONFLICT DO NOTHING`,
    params: [refs.map((r) => r.processor), refs.map((r) => r.ref), refs.map((r) => r.attemptId)],
  }];
}

/** Ledger transactions (each balanced, checked at commit) with their entries. */
export function ledgerParts(postings: { id: string; posting: Posting; attemptId: string; at: Date }[]): Part[] {
  if (postings.length === 0) return [];
  const entries = postings.flatMap((p) => p.posting.entries.map((e) => ({ id: p.id, ...e })));
  return [
    {
      sql: `INSERT INTO ledger_transactions (id, kind, attempt_id, occurred_at) SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[])`,
      params: [postings.map((p) => p.id), postings.map((p) => p.posting.kind), postings.map((p) => p.attemptId), postings.map((p) => p.at)],
    },
    {
      sql: `INSERT INTO ledger_entries (transaction_id, account, amount, currency)
     SELECT id, account, amount, 'CLP' FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS e(id, account, amount)`,
      params: [entries.map((e) => e.id), entries.map((e) => e.account), entries.map((e) => e.amount)],
    },
  ];
}

/** Janitor schedule: adds the attempts still unresolved, drops the settled ones (never the same attempt). */
export function rescheduleParts(add: { attemptId: string; nextAt: Date; giveUpAt: Date }[], remove: string[]): Part[] {
  return [
    ...(remove.length > 0 ? [{ sql: 'DELETE FROM payment_janitor_schedule WHERE attempt_id = ANY($1::uuid[])', params: [remove] }] : []),
    ...(add.length > 0 ? [{
      sql: `INSERT INTO payment_janitor_schedule (attempt_id, next_check_at, give_up_at)
       SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) ON CONFLICT (attempt_id) DO NOTHING`,
      params: [add.map((a) => a.attemptId), add.map((a) => a.nextAt), add.map((a) => a.giveUpAt)],
    }] : []),
  ];
}
