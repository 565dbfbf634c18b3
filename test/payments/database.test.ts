import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { freshDatabase } from '../support/db.js';

// The database itself refuses what the payments invariants forbid, whoever writes.
const { db } = await freshDatabase();

async function attempt(orderId = `o-${randomUUID()}`, amount = 1000): Promise<{ id: string; orderId: string }> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO payment_attempts (id, order_id, customer_id, amount, currency, method, processor, buy_order)
     VALUES ($1, $2, 'c1', $3, 'CLP', 'webpay', 'transbank', $4)`,
    [id, orderId, amount, `P${id.replace(/-/g, '').slice(0, 24)}`],
  );
  await db.query(`INSERT INTO payment_attempt_events (attempt_id, order_id, kind, status) VALUES ($1, $2, 'created', 'created')`, [id, orderId]);
  return { id, orderId };
}

const event = (a: { id: string; orderId: string }, status: string, kind = 'x') =>
  db.query(`INSERT INTO payment_attempt_events (attempt_id, order_id, kind, status) VALUES ($1, $2, $3, $4)`, [a.id, a.orderId, kind, status]);

test('append-only tables refuse UPDATE, DELETE and TRUNCATE', async () => {
  const a = await attempt();
  for (const sql of [
    'UPDATE payment_attempts SET amount = 1',
    'DELETE FROM payment_attempts',
    "UPDATE payment_attempt_events SET status = 'approved'",
    'DELETE FROM payment_attempt_events',
    'TRUNCATE payment_attempt_events CASCADE',
    'DELETE FROM ledger_entries',
    'UPDATE ledger_entries SET amount = 0',
    'DELETE FROM payment_notifications',
  ]) {
    await assert.rejects(db.query(sql), /append-only/, sql);
  }
  const { rows } = await db.query('SELECT count(*)::int AS n FROM payment_attempt_events WHERE attempt_id = $1', [a.id]);
  assert.equal(rows[0]?.n, 1);
});

test('one failure and one approval per attempt, nothing after an approval; an order is charged at most once; one commit claim', async () => {
  const a = await attempt();
  await event(a, 'approved');
  await assert.rejects(event(a, 'rejected'), /payment_attempt_approval_is_final/);
  await assert.rejects(event(a, 'expired'), /payment_attempt_approval_is_final/);
  await assert.rejects(event(a, 'approved'), /payment_attempt_one_approval|payment_order_charged_once/);
  // A late approval follows a failure; a second failure never does.
  const late = await attempt();
  await event(late, 'rejected');
  await assert.rejects(event(late, 'expired'), /payment_attempt_one_failure/);
  await event(late, 'approved');
  await assert.rejects(event(late, 'rejected'), /payment_attempt_approval_is_final/);
  const b = await attempt(a.orderId);
  await assert.rejects(event(b, 'approved'), /payment_order_charged_once/);
  await event(b, 'unknown', 'commit_started');
  await assert.rejects(event(b, 'unknown', 'commit_started'), /payment_attempt_one_commit/);
});

test('a ledger transaction that does not balance is refused at commit', async () => {
  const post = (amounts: number[]) =>
    db.transaction(async (tx) => {
      const id = randomUUID();
      await tx.query(`INSERT INTO ledger_transactions (id, kind) VALUES ($1, 'test')`, [id]);
      for (const amount of amounts) {
        await tx.query(`INSERT INTO ledger_entries (transaction_id, account, amount, currency) VALUES ($1, 'x', $2, 'CLP')`, [id, amount]);
      }
    });
  await post([500, -500]);
  await assert.rejects(post([500, -499]), /does not balance/);
  await assert.rejects(post([500]), /does not balance/);
  await assert.rejects(post([]), /has no entries/);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: -1e9, max: 1e9 }).filter((n) => n !== 0), { minLength: 1, maxLength: 6 }), async (amounts) => {
      const sum = amounts.reduce((s, n) => s + n, 0);
      const lines = sum === 0 ? amounts : [...amounts, -sum];
      if (lines.length < 2) return;
      await post(lines);
    }),
    { numRuns: 30 },
  );
  const { rows } = await db.query<{ bad: number }>(
    `SELECT count(*)::int AS bad FROM (SELECT transaction_id FROM ledger_entries GROUP BY 1 HAVING sum(amount) <> 0) t`,
  );
  assert.equal(rows[0]?.bad, 0);
});

test('refunds never exceed the captured amount, and only approved attempts are refundable', async () => {
  const a = await attempt(undefined, 1000);
  const refund = (amount: number) =>
    db.query(`INSERT INTO payment_refunds (id, attempt_id, order_id, amount, reason) VALUES ($1, $2, $3, $4, 'r')`, [randomUUID(), a.id, a.orderId, amount]);
  await assert.rejects(refund(100), /not approved/);
  await event(a, 'approved');
  await refund(600);
  await refund(400);
  await assert.rejects(refund(1), /exceed captured/);
});
