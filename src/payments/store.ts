import { randomUUID } from 'node:crypto';
import { prepared, queryScript, sqlLiteral, type Db } from '../platform/db.js';
import type { AttemptStatus, Method, Processor } from './domain/attempt.js';
import type { Posting } from './domain/ledger.js';
import type { Envelope } from './domain/envelope.js';

export interface AttemptRow {
  id: string;
  orderId: string;
  customerId: string;
  amount: number;
  currency: 'CLP';
  method: Method;
  processor: Processor;
  buyOrder: string;
  savedCardId: string | null;
  returnUrl: string | null;
  createdAt: Date;
}

/** An attempt with the state derived from its events. */
export interface AttemptState extends AttemptRow {
  status: AttemptStatus;
  reason: string | null;
  processorRef: string | null;
  commitClaimed: boolean;
  redirectUrl: string | null;
  updatedAt: Date;
}

/** Serialises work on one key (attempt, order) for the rest of the transaction. */
export async function lockKey(tx: Db, key: string): Promise<void> {
  await tx.query(prepared('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))'), [`payments:${key}`]);
}

export async function insertAttempt(tx: Db, a: AttemptRow): Promise<void> {
  await tx.query(
    `INSERT INTO payment_attempts (id, order_id, customer_id, amount, currency, method, processor, buy_order, saved_card_id, return_url, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [a.id, a.orderId, a.customerId, a.amount, a.currency, a.method, a.processor, a.buyOrder, a.savedCardId, a.returnUrl, a.createdAt],
  );
}

export interface NewAttemptEvent {
  attemptId: string;
  orderId: string;
  kind: string;
  status: AttemptStatus;
  processorRef?: string | undefined;
  reason?: string | undefined;
  data?: Record<string, unknown> | undefined;
  occurredAt: Date;
}

export async function appendAttemptEvent(tx: Db, e: NewAttemptEvent): Promise<void> {
  await tx.query(
    prepared(`INSERT INTO payment_attempt_events (attempt_id, order_id, kind, status, processor_ref, reason, data, occurred_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`),
    [e.attemptId, e.orderId, e.kind, e.status, e.processorRef ?? null, e.reason ?? null, JSON.stringify(e.data ?? {}), e.occurredAt],
  );
}

/**
 * Claims an attempt's Webpay commit: under the attempt's lock (`lockKey`), records
 * `commit_started` unless the attempt is final or its commit was claimed already; true when it
 * did. Call it as the first statement of its transaction: BEGIN, the lock and the guarded insert
 * travel in one round trip, the insert a statement of its own, so its snapshot is taken after
 * the lock and sees what the lock's last holder committed.
 */
export async function claimCommit(tx: Db, attempt: { id: string; orderId: string }, now: Date): Promise<boolean> {
  const id = `${sqlLiteral(attempt.id)}::uuid`;
  const [, inserted] = await queryScript(tx, [
    `SELECT pg_advisory_xact_lock(hashtextextended(${sqlLiteral(`payments:attempt:${attempt.id}`)}, 0))`,
    `INSERT INTO payment_attempt_events (attempt_id, order_id, kind, status, occurred_at)
     SELECT ${id}, ${sqlLiteral(attempt.orderId)}, 'commit_started', 'unknown', ${sqlLiteral(now.toISOString())}::timestamptz
      WHERE NOT EXISTS (SELECT 1 FROM payment_attempt_events e WHERE e.attempt_id = ${id} AND e.kind = 'commit_started')
        AND coalesce((SELECT e.status FROM payment_attempt_events e WHERE e.attempt_id = ${id} ORDER BY e.id DESC LIMIT 1), 'created')
            NOT IN ('approved', 'rejected', 'expired')
     RETURNING id`,
  ]);
  return (inserted?.rowCount ?? 0) === 1;
}

export const STATE_SQL = `
  SELECT a.id, a.order_id, a.customer_id, a.amount, a.currency, a.method, a.processor, a.buy_order,
         a.saved_card_id, a.return_url, a.created_at,
         last.status, last.reason, last.occurred_at AS updated_at,
         (SELECT e.processor_ref FROM payment_attempt_events e WHERE e.attempt_id = a.id AND e.processor_ref IS NOT NULL ORDER BY e.id DESC LIMIT 1) AS processor_ref,
         (SELECT e.data->>'redirect_url' FROM payment_attempt_events e WHERE e.attempt_id = a.id AND e.data ? 'redirect_url' ORDER BY e.id DESC LIMIT 1) AS redirect_url,
         EXISTS (SELECT 1 FROM payment_attempt_events e WHERE e.attempt_id = a.id AND e.kind = 'commit_started') AS commit_claimed
    FROM payment_attempts a
    CROSS JOIN LATERAL (
      SELECT e.status, e.reason, e.occurred_at FROM payment_attempt_events e
       WHERE e.attempt_id = a.id ORDER BY e.id DESC LIMIT 1) last`;

export function toState(r: Record<string, unknown>): AttemptState {
  return {
    id: r.id as string,
    orderId: r.order_id as string,
    customerId: r.customer_id as string,
    amount: r.amount as number,
    currency: 'CLP',
    method: r.method as Method,
    processor: r.processor as Processor,
    buyOrder: r.buy_order as string,
    savedCardId: r.saved_card_id as string | null,
    returnUrl: r.return_url as string | null,
    createdAt: r.created_at as Date,
    status: r.status as AttemptStatus,
    reason: r.reason as string | null,
    processorRef: r.processor_ref as string | null,
    redirectUrl: r.redirect_url as string | null,
    commitClaimed: r.commit_claimed as boolean,
    updatedAt: r.updated_at as Date,
  };
}

export async function findAttempt(db: Db, id: string): Promise<AttemptState | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const { rows } = await db.query(prepared(`${STATE_SQL} WHERE a.id = $1`), [id]);
  return rows[0] ? toState(rows[0]) : undefined;
}

export async function attemptsForOrder(db: Db, orderId: string): Promise<AttemptState[]> {
  const { rows } = await db.query(prepared(`${STATE_SQL} WHERE a.order_id = $1 ORDER BY a.created_at`), [orderId]);
  return rows.map(toState);
}

export async function findAttemptByRef(db: Db, processor: Processor, ref: string): Promise<AttemptState | undefined> {
  const { rows } = await db.query(
    prepared(`${STATE_SQL} WHERE a.id = (SELECT attempt_id FROM payment_processor_refs WHERE processor = $1 AND ref = $2)`),
    [processor, ref],
  );
  return rows[0] ? toState(rows[0]) : undefined;
}

export async function findAttemptByBuyOrder(db: Db, buyOrder: string): Promise<AttemptState | undefined> {
  const { rows } = await db.query(prepared(`${STATE_SQL} WHERE a.buy_order = $1`), [buyOrder]);
  return rows[0] ? toState(rows[0]) : undefined;
}

export async function insertRef(tx: Db, processor: Processor, ref: string, attemptId: string): Promise<void> {
  await tx.query(
    prepared(`INSERT INTO payment_processor_refs (processor, ref, attempt_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`),
    [processor, ref, attemptId],
  );
}

/** The order's approved attempt, if any. */
export async function approvedAttemptForOrder(db: Db, orderId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ attempt_id: string }>(
    `SELECT attempt_id FROM payment_attempt_events WHERE order_id = $1 AND status = 'approved'`,
    [orderId],
  );
  return rows[0]?.attempt_id;
}

// Janitor schedule (a mutable work queue).
export async function scheduleCheck(tx: Db, attemptId: string, nextAt: Date, giveUpAt: Date): Promise<void> {
  await tx.query(
    `INSERT INTO payment_janitor_schedule (attempt_id, next_check_at, give_up_at) VALUES ($1, $2, $3)
     ON CONFLICT (attempt_id) DO NOTHING`,
    [attemptId, nextAt, giveUpAt],
  );
}

export async function unschedule(tx: Db, attemptId: string): Promise<void> {
  await tx.query('DELETE FROM payment_janitor_schedule WHERE attempt_id = $1', [attemptId]);
}

export interface DueCheck {
  attemptId: string;
  checks: number;
  giveUpAt: Date;
}

/** Claims one due check; the row stays locked until the transaction ends (SKIP LOCKED). */
export async function claimDueCheck(tx: Db, now: Date): Promise<DueCheck | undefined> {
  const { rows } = await tx.query<{ attempt_id: string; checks: number; give_up_at: Date }>(
    `SELECT attempt_id, checks, give_up_at FROM payment_janitor_schedule
      WHERE next_check_at <= $1 ORDER BY next_check_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
    [now],
  );
  const r = rows[0];
  return r ? { attemptId: r.attempt_id, checks: r.checks, giveUpAt: r.give_up_at } : undefined;
}

export async function reschedule(tx: Db, attemptId: string, nextAt: Date): Promise<void> {
  await tx.query(
    'UPDATE payment_janitor_schedule SET next_check_at = $2, checks = checks + 1 WHERE attempt_id = $1',
    [attemptId, nextAt],
  );
}

// Ledger.
export async function postLedger(
  tx: Db,
  posting: Posting,
  refs: { attemptId?: string; refundId?: string },
  occurredAt: Date,
): Promise<string> {
  const id = randomUUID();
  await tx.query(
    'INSERT INTO ledger_transactions (id, kind, attempt_id, refund_id, occurred_at) VALUES ($1, $2, $3, $4, $5)',
    [id, posting.kind, refs.attemptId ?? null, refs.refundId ?? null, occurredAt],
  );
  await tx.query(
    `INSERT INTO ledger_entries (transaction_id, account, amount, currency)
     SELECT $1, account, amount, 'CLP' FROM unnest($2::text[], $3::bigint[]) AS t(account, amount)`,
    [id, posting.entries.map((e) => e.account), posting.entries.map((e) => e.amount)],
  );
  return id;
}

export async function accountBalances(db: Db): Promise<Record<string, number>> {
  const { rows } = await db.query<{ account: string; balance: number }>(
    'SELECT account, sum(amount)::bigint AS balance FROM ledger_entries GROUP BY account ORDER BY account',
  );
  return Object.fromEntries(rows.map((r) => [r.account, r.balance]));
}

// Refunds.
export async function refundedSoFar(db: Db, attemptId: string): Promise<{ standing: number; unresolved: number }> {
  const { rows } = await db.query<{ standing: number; unresolved: number }>(
    `SELECT coalesce(sum(r.amount) FILTER (WHERE NOT EXISTS (SELECT 1 FROM payment_refund_events x WHERE x.refund_id = r.id AND x.status = 'failed')), 0)::bigint AS standing,
            count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM payment_refund_events x WHERE x.refund_id = r.id AND x.status IN ('succeeded', 'failed')))::bigint AS unresolved
       FROM payment_refunds r WHERE r.attempt_id = $1`,
    [attemptId],
  );
  return rows[0] ?? { standing: 0, unresolved: 0 };
}

export async function succeededRefundTotal(db: Db, attemptId: string): Promise<number> {
  const { rows } = await db.query<{ total: number }>(
    `SELECT coalesce(sum(r.amount), 0)::bigint AS total FROM payment_refunds r
      WHERE r.attempt_id = $1 AND EXISTS (SELECT 1 FROM payment_refund_events x WHERE x.refund_id = r.id AND x.status = 'succeeded')`,
    [attemptId],
  );
  return rows[0]?.total ?? 0;
}

/** Refunds with no final outcome, created before `cutoff`. */
export async function unresolvedRefunds(db: Db, cutoff: Date): Promise<{ refundId: string; attemptId: string; amount: number }[]> {
  const { rows } = await db.query<{ id: string; attempt_id: string; amount: number }>(
    `SELECT r.id, r.attempt_id, r.amount FROM payment_refunds r
      WHERE r.created_at < $1
        AND NOT EXISTS (SELECT 1 FROM payment_refund_events x WHERE x.refund_id = r.id AND x.status IN ('succeeded', 'failed'))
      ORDER BY r.created_at LIMIT 50`,
    [cutoff],
  );
  return rows.map((r) => ({ refundId: r.id, attemptId: r.attempt_id, amount: r.amount }));
}

export async function insertRefund(tx: Db, r: { id: string; attemptId: string; orderId: string; amount: number; reason: string; key?: string; at: Date }): Promise<void> {
  await tx.query(
    'INSERT INTO payment_refunds (id, attempt_id, order_id, amount, reason, idempotency_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [r.id, r.attemptId, r.orderId, r.amount, r.reason, r.key ?? null, r.at],
  );
}

/** The refund of a payment made with an idempotency key, with its outcome so far. */
export async function refundByKey(db: Db, attemptId: string, key: string): Promise<
  { id: string; amount: number; status: 'requested' | 'unknown' | 'succeeded' | 'failed'; refundType: string | null; reason: string | null } | undefined
> {
  const { rows } = await db.query<{ id: string; amount: number; status: 'requested' | 'unknown' | 'succeeded' | 'failed'; refund_type: string | null; reason: string | null }>(
    `SELECT r.id, r.amount, e.status, e.refund_type, e.data->>'reason' AS reason
       FROM payment_refunds r
       CROSS JOIN LATERAL (SELECT x.status, x.refund_type, x.data FROM payment_refund_events x WHERE x.refund_id = r.id
                            ORDER BY (x.status IN ('succeeded', 'failed')) DESC, x.id DESC LIMIT 1) e
      WHERE r.attempt_id = $1 AND r.idempotency_key = $2`,
    [attemptId, key],
  );
  const r = rows[0];
  return r && { id: r.id, amount: Number(r.amount), status: r.status, refundType: r.refund_type, reason: r.reason };
}

export async function appendRefundEvent(
  tx: Db,
  e: { refundId: string; status: 'requested' | 'unknown' | 'succeeded' | 'failed'; refundType?: string; data?: Record<string, unknown>; at: Date },
): Promise<void> {
  await tx.query(
    'INSERT INTO payment_refund_events (refund_id, status, refund_type, data, occurred_at) VALUES ($1, $2, $3, $4, $5)',
    [e.refundId, e.status, e.refundType ?? null, JSON.stringify(e.data ?? {}), e.at],
  );
}

// Notification inbox.
export async function insertNotification(
  tx: Db,
  n: { provider: string; notificationId: string; resourceId: string; topic: string; body: unknown },
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `INSERT INTO payment_notifications (provider, notification_id, resource_id, topic, body) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT DO NOTHING`,
    [n.provider, n.notificationId, n.resourceId, n.topic, JSON.stringify(n.body ?? {})],
  );
  return rowCount === 1;
}

export async function unprocessedNotifications(db: Db, limit: number): Promise<{ provider: string; notificationId: string; resourceId: string }[]> {
  const { rows } = await db.query<{ provider: string; notification_id: string; resource_id: string }>(
    `SELECT n.provider, n.notification_id, n.resource_id FROM payment_notifications n
      WHERE NOT EXISTS (SELECT 1 FROM payment_notifications_processed p WHERE p.provider = n.provider AND p.notification_id = n.notification_id)
      ORDER BY n.received_at LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ provider: r.provider, notificationId: r.notification_id, resourceId: r.resource_id }));
}

export async function markNotificationProcessed(tx: Db, provider: string, notificationId: string, result: string): Promise<boolean> {
  const { rowCount } = await tx.query(
    `INSERT INTO payment_notifications_processed (provider, notification_id, result) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    [provider, notificationId, result],
  );
  return rowCount === 1;
}

// Vault.
export interface SavedCardRow extends Envelope {
  id: string;
  customerId: string;
  username: string;
  cardType: string;
  cardMask: string;
  createdAt: Date;
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

export async function insertCard(tx: Db, c: SavedCardRow): Promise<void> {
  await tx.query(
    `INSERT INTO payment_saved_cards (id, customer_id, username, card_type, card_mask, kek_id, wrapped_key, ciphertext, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [c.id, c.customerId, c.username, c.cardType, c.cardMask, c.kekId, c.wrappedKey, c.ciphertext, c.createdAt],
  );
}

export async function findCard(db: Db, customerId: string, cardId: string): Promise<SavedCardRow | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(cardId)) return undefined;
  const { rows } = await db.query('SELECT * FROM payment_saved_cards WHERE id = $1 AND customer_id = $2', [cardId, customerId]);
  return rows[0] ? toCard(rows[0]) : undefined;
}

export async function cardsFor(db: Db, customerId: string): Promise<SavedCardRow[]> {
  const { rows } = await db.query('SELECT * FROM payment_saved_cards WHERE customer_id = $1 ORDER BY created_at', [customerId]);
  return rows.map(toCard);
}

export async function allCards(db: Db): Promise<SavedCardRow[]> {
  const { rows } = await db.query('SELECT * FROM payment_saved_cards ORDER BY created_at');
  return rows.map(toCard);
}

export async function deleteCard(tx: Db, cardId: string): Promise<void> {
  await tx.query('DELETE FROM payment_saved_cards WHERE id = $1', [cardId]);
}

export async function updateCardWrap(tx: Db, cardId: string, kekId: string, wrappedKey: Buffer): Promise<void> {
  await tx.query('UPDATE payment_saved_cards SET kek_id = $2, wrapped_key = $3 WHERE id = $1', [cardId, kekId, wrappedKey]);
}

export async function insertPendingInscription(tx: Db, p: { token: string; customerId: string; username: string; returnUrl?: string | undefined }): Promise<void> {
  await tx.query(
    'INSERT INTO payment_inscriptions_pending (token, customer_id, username, return_url) VALUES ($1, $2, $3, $4)',
    [p.token, p.customerId, p.username, p.returnUrl ?? null],
  );
}

/** Takes the pending inscription (once): a second return for the same token finds nothing. */
export async function takePendingInscription(
  tx: Db,
  token: string,
): Promise<{ customerId: string; username: string; returnUrl: string | null } | undefined> {
  const { rows } = await tx.query<{ customer_id: string; username: string; return_url: string | null }>(
    'DELETE FROM payment_inscriptions_pending WHERE token = $1 RETURNING customer_id, username, return_url',
    [token],
  );
  const r = rows[0];
  return r ? { customerId: r.customer_id, username: r.username, returnUrl: r.return_url } : undefined;
}
