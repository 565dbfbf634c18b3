import assert from 'node:assert/strict';
import { test } from 'node:test';
import { queryScript, sqlArray } from '../../src/platform/db.js';
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

test('a script statement after a lock sees what the lock holder committed (BEGIN travels with it)', async () => {
  let release = (): void => undefined;
  const held = new Promise<void>((r) => (release = r));
  let locked = (): void => undefined;
  const hasLock = new Promise<void>((r) => (locked = r));
  const holder = db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(4242)');
    locked();
    await held;
    await tx.query('INSERT INTO tx_probe VALUES (40)');
  });
  await hasLock;
  const waiter = db.transaction(async (tx) => {
    const [, ids] = await queryScript(tx, ['SELECT pg_advisory_xact_lock(4242)', 'SELECT id FROM tx_probe WHERE id = 40']);
    return ids?.rows.map((r) => (r as { id: number }).id);
  }, { settings: { synchronous_commit: 'off' } });
  // The holder inserts only once the script waits on the lock (its snapshot not yet taken).
  while ((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)).rows[0]?.n === 0) {
    await new Promise((r) => setImmediate(r));
  }
  release();
  await holder;
  assert.deepEqual(await waiter, [40]);
});

test('sqlArray inlines any text as literals', async () => {
  const odd = ["it's", 'back\\slash', '"quoted"', '{brace,comma}', ''];
  const { rows } = await db.query<{ v: string[] }>(`SELECT ${sqlArray(odd, 'text')} AS v`);
  assert.deepEqual(rows[0]?.v, odd);
  assert.throws(() => sqlArray([], 'text; DROP TABLE x'));
});
