import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freshDatabase } from '../support/db.js';

const { db } = await freshDatabase();
await db.query('CREATE TABLE tx_probe (id int PRIMARY KEY)');

test('a transaction commits when its function resolves and rolls back when it throws', async () => {
  await db.transaction(async (tx) => {
    assert.equal(tx.inTransaction, true);
    await tx.query('INSERT INTO tx_probe VALUES (1)');
  });
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.query('INSERT INTO tx_probe VALUES (2)');
      throw new Error('abort');
    }),
    /abort/,
  );
  const { rows } = await db.query<{ id: number }>('SELECT id FROM tx_probe ORDER BY id');
  assert.deepEqual(rows.map((r) => r.id), [1]);
});

test('a nested transaction is a savepoint on the same handle', async () => {
  await db.transaction(async (tx) => {
    await tx.query('INSERT INTO tx_probe VALUES (10)');
    await assert.rejects(
      tx.transaction(async (inner) => {
        await inner.query('INSERT INTO tx_probe VALUES (11)');
        throw new Error('inner');
      }),
    );
    await tx.transaction(async (inner) => inner.query('INSERT INTO tx_probe VALUES (12)'));
  });
  const { rows } = await db.query<{ id: number }>('SELECT id FROM tx_probe WHERE id >= 10 ORDER BY id');
  assert.deepEqual(rows.map((r) => r.id), [10, 12]);
});

test('transaction settings apply locally', async () => {
  const value = await db.transaction(
    async (tx) => (await tx.query<{ v: string }>(`SELECT current_setting('synchronous_commit') AS v`)).rows[0]?.v,
    { settings: { synchronous_commit: 'off' }, isolation: 'repeatable read' },
  );
  assert.equal(value, 'off');
  const after = (await db.query<{ v: string }>(`SELECT current_setting('synchronous_commit') AS v`)).rows[0]?.v;
  assert.equal(after, 'on');
});

test('bigint columns come back as numbers', async () => {
  const { rows } = await db.query<{ n: number }>('SELECT 9007199254740991::bigint AS n');
  assert.equal(rows[0]?.n, Number.MAX_SAFE_INTEGER);
});
