import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDatabase } from '../../src/platform/db.js';
import { pgStore } from '../../src/processor-sim/store.js';
import { freshDatabase } from '../support/db.js';

const { db } = await freshDatabase();

test('concurrent updates of one document each apply once (optimistic, then locked, under contention)', async () => {
  const store = pgStore(db);
  const n = 40;
  const results = await Promise.all(
    Array.from({ length: n }, () => store.update<{ value: number }, number>('counter', 'race', (cur) => {
      const value = (cur?.value ?? 0) + 1;
      return { data: { value }, result: value };
    })),
  );
  assert.deepEqual([...results].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i + 1));
  assert.deepEqual(await store.get('counter', 'race'), { value: n });
});

test('an update that returns no document writes nothing; due times are kept unless given', async () => {
  const store = pgStore(db);
  assert.equal(await store.insert('webhook', 'w1', { attempts: 0 }, new Date('2026-01-01T00:00:00Z')), true);
  assert.equal(await store.insert('webhook', 'w1', { attempts: 9 }), false);
  assert.equal(await store.update<{ attempts: number }, string>('webhook', 'w1', () => ({ result: 'left' })), 'left');
  await store.update<{ attempts: number }, undefined>('webhook', 'w1', (cur) => ({ data: { attempts: (cur?.attempts ?? 0) + 1 }, result: undefined }));
  assert.deepEqual(await store.get('webhook', 'w1'), { attempts: 1 });
  assert.deepEqual(await store.due('webhook', new Date('2026-01-02T00:00:00Z'), 10), ['w1']);
  await store.update<{ attempts: number }, undefined>('webhook', 'w1', (cur) => ({ data: { attempts: (cur?.attempts ?? 0) + 1 }, dueAt: null, result: undefined }));
  assert.deepEqual(await store.due('webhook', new Date('2026-01-02T00:00:00Z'), 10), []);
});

test('log lines written in batches are all there, in order, when read back', async () => {
  const store = pgStore(db);
  const at = new Date('2026-11-27T15:00:00Z');
  const writes = Array.from({ length: 30 }, (_, i) => store.log({ at, direction: 'in', summary: `line ${i}`, status: 200 }));
  // Read before the batch's timer fires: the read writes it first.
  const recent = await store.recentLog(30);
  assert.deepEqual(recent.map((e) => e.summary), Array.from({ length: 30 }, (_, i) => `line ${29 - i}`));
  await Promise.all(writes);
  await store.flush();
});

test('a document remembered by one store and changed through another is re-read before it is changed again', async () => {
  const a = pgStore(db);
  const b = pgStore(db);
  await a.insert('webpay', 't1', { status: 'created', paid: 0 });
  await b.update<{ status: string; paid: number }, undefined>('webpay', 't1', (cur) => ({ data: { status: 'paid', paid: (cur?.paid ?? 0) + 1 }, result: undefined }));
  // `a` remembers the version it inserted; its write must not overwrite b's.
  const seen = await a.update<{ status: string; paid: number }, string | undefined>('webpay', 't1', (cur) =>
    cur?.status === 'paid' ? { data: { status: 'committed', paid: cur.paid }, result: cur.status } : { result: cur?.status });
  assert.equal(seen, 'paid');
  assert.deepEqual(await b.get('webpay', 't1'), { status: 'committed', paid: 1 });
  // A decision to write nothing, taken on a remembered version that is no longer current, is taken again.
  await b.update<{ status: string; paid: number }, undefined>('webpay', 't1', () => ({ data: { status: 'reversed', paid: 1 }, result: undefined }));
  assert.equal(await a.update<{ status: string }, string | undefined>('webpay', 't1', (cur) => ({ result: cur?.status })), 'reversed');
});

test('concurrent writes share batches: each insert of an id is answered once, and every document gets its own writes', async () => {
  const store = pgStore(db);
  // The same id twice in one turn (one batch): exactly one insert wins.
  const inserted = await Promise.all([
    ...Array.from({ length: 20 }, (_, i) => store.insert('mp_payment', `p${i}`, { n: i }, i % 2 === 0 ? new Date('2026-01-01T00:00:00Z') : null)),
    store.insert('mp_payment', 'p3', { n: -1 }),
  ]);
  assert.deepEqual(inserted, [...Array.from({ length: 20 }, () => true), false]);
  assert.deepEqual(await store.get('mp_payment', 'p3'), { n: 3 });
  // Updates of twenty documents, two per document in the same turn: all apply, each once.
  await Promise.all(Array.from({ length: 40 }, (_, i) => store.update<{ n: number }, undefined>('mp_payment', `p${i % 20}`, (cur) => ({
    data: { n: (cur?.n ?? 0) + 100 }, ...(i === 1 ? { dueAt: new Date('2026-01-01T00:00:00Z') } : {}), result: undefined,
  }))));
  for (let i = 0; i < 20; i++) assert.deepEqual(await store.get('mp_payment', `p${i}`), { n: i + 200 });
  // Due times: kept where no update gave one (even ids), set where one did (p1).
  const due = await store.due('mp_payment', new Date('2026-01-02T00:00:00Z'), 100);
  assert.deepEqual([...due].sort(), ['p0', 'p1', 'p10', 'p12', 'p14', 'p16', 'p18', 'p2', 'p4', 'p6', 'p8']);
});

test('a log batch that cannot be written rejects for whoever waits on it, later too, and is never an unhandled rejection', async () => {
  const { url } = await freshDatabase();
  const gone = createDatabase({ connectionString: url, max: 1 });
  const store = pgStore(gone);
  await gone.close();
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  try {
    // Waited for only after the batch's timer wrote it (as the webhook deliveries do after their loop).
    const written = store.log({ at: new Date(), direction: 'out', summary: 'webhook', status: 200 });
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(written);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
