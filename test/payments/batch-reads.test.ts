import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lockAttemptsAndFindForVerdicts, lockOrdersAndRead } from '../../src/payments/batch-store.js';
import { freshDatabase } from '../support/db.js';

// A batch that writes fraud counters asks its transaction's id in its first round trip: the
// process keeps its counter changes under that id, for features read before it committed.
const { db } = await freshDatabase();

test('the batch reads answer with their transaction\'s id when asked, and only then', async () => {
  const opened = await db.transaction(async (tx) => {
    const r = await lockOrdersAndRead(tx, ['order-a', 'order-b'], [], true);
    const { rows } = await tx.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
    return { ...r, own: BigInt(rows[0]?.xid ?? '0') };
  });
  assert.deepEqual(opened.attempts, []);
  assert.equal(typeof opened.xid, 'bigint');
  assert.equal(opened.xid, opened.own);
  const verdicts = await db.transaction(async (tx) => {
    const r = await lockAttemptsAndFindForVerdicts(tx, ['00000000-0000-4000-8000-000000000001'], true);
    const { rows } = await tx.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
    return { ...r, own: BigInt(rows[0]?.xid ?? '0') };
  });
  assert.deepEqual(verdicts.rows, []);
  assert.equal(verdicts.xid, verdicts.own);
  assert.ok((verdicts.xid ?? 0n) > (opened.xid ?? 0n), 'a later transaction has a later id');

  const without = await db.transaction(async (tx) => {
    const r = await lockOrdersAndRead(tx, ['order-a'], []);
    // Asking for the id above assigns one; here none was assigned by the reads.
    const { rows } = await tx.query<{ xid: string | null }>('SELECT pg_current_xact_id_if_assigned()::text AS xid');
    return { ...r, assigned: rows[0]?.xid ?? null };
  });
  assert.equal(without.xid, undefined);
  assert.equal(without.assigned, null);
});
