import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { appendEvents, listDeadLetters, rebuildConsumer, requestReplay, type EventEnvelope } from '../../src/events/index.js';
import { freshDatabase } from '../support/db.js';
import type { Db } from '../../src/platform/db.js';
import { effectTable, publish, sleep, testBus, uniqueContext, waitFor } from './support.js';

const { db } = await freshDatabase({ poolSize: 30 });
const bus = testBus(db);
after(() => bus.close());

test('a long transaction holds back later commits; nothing is skipped and order is commit-safe', async () => {
  const ctx = uniqueContext();
  const seen: EventEnvelope[] = [];
  const worker = bus.consumer({ name: `${ctx}.long`, types: [`${ctx}.*`], handle: async (_tx, e) => void seen.push(e) });
  worker.start();
  try {
    // A takes its transaction id first, then B1..B3 commit, then A appends (a higher outbox id) and commits.
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_current_xact_id()');
      for (let i = 1; i <= 3; i++) await publish(db, `${ctx}.b`, { n: i });
      await sleep(300);
      assert.equal(seen.length, 0, 'events behind an open older transaction must wait for it');
      await client.query(
        `INSERT INTO events_outbox (event_id, type, version, context, aggregate_type, aggregate_id, payload)
         VALUES (gen_random_uuid(), $1, 1, $2, 'probe', 'a', '{"n":0}')`,
        [`${ctx}.a`, ctx],
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await publish(db, `${ctx}.c`, { n: 4 });
    await waitFor(() => seen.length === 5, 10_000, 'five events');
    assert.deepEqual(seen.map((e) => e.type), [`${ctx}.a`, `${ctx}.b`, `${ctx}.b`, `${ctx}.b`, `${ctx}.c`]);
    // The long transaction's event has the highest id of the first four: `id > last_seen` would have lost it.
    const [a, ...bs] = seen;
    assert.ok(bs.slice(0, 3).every((b) => b.seq < (a?.seq ?? 0)));
  } finally {
    await worker.stop();
  }
});

test('concurrent transactions: every event handled exactly once, each transaction contiguous', async () => {
  const ctx = uniqueContext();
  const seen: EventEnvelope<{ tx: number; i: number }>[] = [];
  const worker = bus.consumer({
    name: `${ctx}.concurrent`,
    types: [`${ctx}.*`],
    batchSize: 7,
    handle: async (_tx, e) => void seen.push(e as EventEnvelope<{ tx: number; i: number }>),
  });
  worker.start();
  try {
    const results = await Promise.allSettled(
      Array.from({ length: 24 }, (_, t) =>
        db.transaction(async (tx) => {
          for (let i = 0; i < 4; i++) {
            await appendEvents(tx, [{ type: `${ctx}.e`, version: 1, aggregateType: 'p', aggregateId: `${t}`, payload: { tx: t, i } }]);
            await sleep(Math.floor(Math.random() * 15));
          }
          if (t % 6 === 5) throw new Error('rolled back');
        }),
      ),
    );
    assert.equal(results.filter((r) => r.status === 'rejected').length, 4);
    await waitFor(() => seen.length === 80, 10_000, '80 events');
    await sleep(200);
    assert.equal(seen.length, 80);
    assert.equal(new Set(seen.map((e) => e.id)).size, 80);
    assert.ok(seen.every((e) => e.payload.tx % 6 !== 5), 'rolled-back events never delivered');
    // Each transaction's events arrive together and in order.
    for (let k = 0; k < seen.length; k += 4) {
      const group = seen.slice(k, k + 4);
      assert.ok(group.every((e) => e.payload.tx === group[0]?.payload.tx));
      assert.deepEqual(group.map((e) => e.payload.i), [0, 1, 2, 3]);
    }
  } finally {
    await worker.stop();
  }
});

test('a crash mid-handler rolls the effect back; the retry applies it once; restart resumes at the position', async () => {
  const ctx = uniqueContext();
  await effectTable(db, `fx_${ctx}`);
  let crashes = 1;
  const spec = {
    name: `${ctx}.fx`,
    types: [`${ctx}.e`],
    backoffMs: 20,
    handle: async (tx: Db, e: EventEnvelope) => {
      await tx.query(`INSERT INTO fx_${ctx} (event_id, n) VALUES ($1, $2)`, [e.id, (e.payload as { n: number }).n]);
      if ((e.payload as { n: number }).n === 3 && crashes-- > 0) throw new Error('crash after the effect, before commit');
    },
  };
  for (let n = 1; n <= 5; n++) await publish(db, `${ctx}.e`, { n });
  const worker = bus.consumer(spec);
  worker.start();
  const count = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fx_${ctx}`)).rows[0]?.n ?? 0;
  await waitFor(async () => (await count()) === 5, 10_000, 'five effects');
  await worker.stop();

  // A new process (another bus) with the same consumer name resumes exactly where it stopped.
  for (let n = 6; n <= 8; n++) await publish(db, `${ctx}.e`, { n });
  const bus2 = testBus(db);
  const worker2 = bus2.consumer(spec);
  worker2.start();
  try {
    await waitFor(async () => (await count()) === 8, 10_000, 'eight effects');
    await sleep(200);
    const { rows } = await db.query<{ n: number; c: number }>(`SELECT n, count(*)::int AS c FROM fx_${ctx} GROUP BY n ORDER BY n`);
    assert.deepEqual(rows, [1, 2, 3, 4, 5, 6, 7, 8].map((n) => ({ n, c: 1 })));
  } finally {
    await worker2.stop();
    await bus2.close();
  }
});

test('events read in transaction-id order across a power of ten (9 before 10 before 11), none passed', async () => {
  const ctx = uniqueContext();
  const seen: number[] = [];
  // Transaction ids set by hand (all far below the horizon): the order a fresh cluster
  // reaches when its ids go from three digits to four, as in the failover test.
  await db.query(
    `INSERT INTO events_outbox (tx_id, event_id, type, version, context, aggregate_type, aggregate_id, payload)
     SELECT t::text::xid8, gen_random_uuid(), $1, 1, $2, 'probe', t::text, jsonb_build_object('n', t)
       FROM unnest(ARRAY[11, 10, 9]) AS t`,
    [`${ctx}.e`, ctx],
  );
  // Two per batch: a text sort would take 10 and 11 first and move the position past 9.
  const worker = bus.consumer({ name: `${ctx}.digits`, types: [`${ctx}.e`], batchSize: 2, handle: async (_tx, e) => void seen.push((e.payload as { n: number }).n) });
  worker.start();
  try {
    await waitFor(() => seen.length >= 3, 5_000, 'three events');
    await sleep(150);
    assert.deepEqual(seen, [9, 10, 11]);
  } finally {
    await worker.stop();
  }
});

test('after a failover that lost its last commits, a running consumer resumes from the stored position, not from memory', async () => {
  const ctx = uniqueContext();
  await effectTable(db, `fx_${ctx}`);
  const spec = {
    name: `${ctx}.fo`,
    types: [`${ctx}.e`],
    handle: async (tx: Db, e: EventEnvelope) => {
      await tx.query(`INSERT INTO fx_${ctx} (event_id, n) VALUES ($1, $2)`, [e.id, (e.payload as { n: number }).n]);
    },
  };
  const first = await publish(db, `${ctx}.e`, { n: 1 });
  const second = await publish(db, `${ctx}.e`, { n: 2 });
  const effects = async () => (await db.query<{ n: number }>(`SELECT n FROM fx_${ctx} ORDER BY n`)).rows.map((r) => r.n);
  const stored = async () =>
    (await db.query<{ at: string }>(`SELECT tx_id::text || '/' || event_seq AS at FROM events_positions WHERE consumer = $1`, [spec.name])).rows[0]?.at;
  const positionOf = async (eventId: string) =>
    (await db.query<{ at: string }>(`SELECT tx_id::text || '/' || id AS at FROM events_outbox WHERE event_id = $1`, [eventId])).rows[0]?.at;
  const worker = bus.consumer(spec);
  worker.start();
  try {
    const atSecond = await positionOf(second);
    await waitFor(async () => (await effects()).length === 2 && (await stored()) === atSecond, 10_000, 'both events handled');

    // What a promoted standby holds when the old primary's last local commits never reached
    // it: the first event, but not the consumer's commit that handled it (inbox row, effect,
    // position), and not the second event. The worker still remembers the second's position.
    await db.transaction(async (tx) => {
      await tx.query('DELETE FROM events_outbox WHERE event_id = $1', [second]);
      await tx.query('DELETE FROM events_inbox WHERE consumer = $1', [spec.name]);
      await tx.query(`DELETE FROM fx_${ctx}`);
      await tx.query(`UPDATE events_positions SET tx_id = '0', event_seq = 0 WHERE consumer = $1`, [spec.name]);
    });

    // No new event arrives to overtake the remembered position: the worker must notice alone.
    await waitFor(async () => (await effects()).length === 1, 5_000, 'the first event handled again on the "new primary"');
    assert.deepEqual(await effects(), [1]);
    assert.equal(await stored(), await positionOf(first));
    await publish(db, `${ctx}.e`, { n: 3 });
    await waitFor(async () => (await effects()).length === 2, 5_000, 'a new event after the failover');
    await sleep(150);
    assert.deepEqual(await effects(), [1, 3]);
  } finally {
    await worker.stop();
  }
});

test('a poison message goes to the dead letters while the rest flows; replay runs it again', async () => {
  const ctx = uniqueContext();
  await effectTable(db, `fx_${ctx}`);
  let cured = false;
  const worker = bus.consumer({
    name: `${ctx}.poison`,
    types: [`${ctx}.*`],
    maxAttempts: 3,
    backoffMs: 10,
    handle: async (tx, e) => {
      if (e.type === `${ctx}.poison` && !cured) throw new Error('cannot digest this');
      await tx.query(`INSERT INTO fx_${ctx} (event_id) VALUES ($1)`, [e.id]);
    },
  });
  await publish(db, `${ctx}.ok`);
  const poisonId = await publish(db, `${ctx}.poison`);
  await publish(db, `${ctx}.ok`);
  worker.start();
  try {
    const count = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fx_${ctx}`)).rows[0]?.n ?? 0;
    await waitFor(async () => (await count()) === 2, 10_000, 'the two good events');
    const dead = (await listDeadLetters(db)).filter((d) => d.consumer === `${ctx}.poison`);
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?.eventId, poisonId);
    assert.equal(dead[0]?.attempts, 3);
    assert.match(dead[0]?.error ?? '', /cannot digest this/);
    // Later events keep flowing past the dead letter.
    await publish(db, `${ctx}.ok`);
    await waitFor(async () => (await count()) === 3, 10_000, 'a later event');

    cured = true;
    assert.equal(await requestReplay(db, dead[0]?.id ?? 0), true);
    await publish(db, `${ctx}.ok`); // wakes the consumer
    await waitFor(async () => (await count()) === 5, 10_000, 'the replayed event');
    const after = (await listDeadLetters(db)).find((d) => d.id === dead[0]?.id);
    assert.equal(after?.status, 'replayed');
  } finally {
    await worker.stop();
  }
});

test('handleBatch: new events at once in commit order, each applied once; a poison one is dead-lettered alone', async () => {
  const ctx = uniqueContext();
  await effectTable(db, `fx_${ctx}`);
  assert.throws(() => bus.consumer({ name: `${ctx}.none`, types: [`${ctx}.*`] } as never), /exactly one of handle and handleBatch/);
  const batches: number[][] = [];
  const worker = bus.consumer({
    name: `${ctx}.batch`,
    types: [`${ctx}.*`],
    maxAttempts: 2,
    backoffMs: 10,
    handleBatch: async (tx, events) => {
      const ns = events.map((e) => (e.payload as { n: number }).n);
      batches.push(ns);
      if (events.some((e) => e.type === `${ctx}.poison`)) throw new Error('cannot digest this');
      await tx.query(`INSERT INTO fx_${ctx} (event_id, n) SELECT unnest($1::uuid[]), unnest($2::int[])`, [events.map((e) => e.id), ns]);
    },
  });
  // One transaction of five, the poison in the middle, then two more transactions.
  const poisonId = (await db.transaction((tx) =>
    appendEvents(tx, [1, 2, 3, 4, 5].map((n) => ({ type: `${ctx}.${n === 3 ? 'poison' : 'ok'}`, version: 1, aggregateType: 'p', aggregateId: `${n}`, payload: { n } })))))[2];
  await publish(db, `${ctx}.ok`, { n: 6 });
  await publish(db, `${ctx}.ok`, { n: 7 });
  worker.start();
  try {
    const effects = async () => (await db.query<{ n: number }>(`SELECT n FROM fx_${ctx} ORDER BY applied_at, n`)).rows.map((r) => r.n);
    await waitFor(async () => (await effects()).length === 6, 10_000, 'the six good events');
    await sleep(150);
    assert.deepEqual(await effects(), [1, 2, 4, 5, 6, 7]);
    assert.ok(batches.some((b) => b.length > 1), `events came in batches: ${JSON.stringify(batches)}`);
    assert.ok(batches.every((b) => b.join() === [...b].sort((x, y) => x - y).join()), 'each batch in commit order');
    const dead = (await listDeadLetters(db)).filter((d) => d.consumer === `${ctx}.batch`);
    assert.deepEqual(dead.map((d) => d.eventId), [poisonId]);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events_inbox WHERE consumer = $1', [`${ctx}.batch`]);
    assert.equal(rows[0]?.n, 6, 'inbox rows only for the applied events');
  } finally {
    await worker.stop();
  }
});

test('rebuild re-reads the outbox from the start', async () => {
  const ctx = uniqueContext();
  const seen: string[] = [];
  const spec = { name: `${ctx}.rm`, types: [`${ctx}.e`], handle: async (_tx: unknown, e: EventEnvelope) => void seen.push(e.id) };
  const ids = [await publish(db, `${ctx}.e`), await publish(db, `${ctx}.e`)];
  const worker = bus.consumer(spec);
  worker.start();
  try {
    await waitFor(() => seen.length === 2, 10_000, 'two events');
    assert.equal(await rebuildConsumer(db, spec.name), 2);
    await publish(db, `${ctx}.e`);
    await waitFor(() => seen.length === 5, 10_000, 'rebuilt');
    assert.deepEqual(seen.slice(2, 4), ids);
  } finally {
    await worker.stop();
  }
});

test('subscribe fans out committed events only, after commit', async () => {
  const ctx = uniqueContext();
  const got: string[] = [];
  const unsubscribe = bus.subscribe([`${ctx}.seen`], (e) => got.push(e.id));
  try {
    await sleep(100);
    await assert.rejects(
      db.transaction(async (tx) => {
        await appendEvents(tx, [{ type: `${ctx}.seen`, version: 1, aggregateType: 'p', aggregateId: 'x', payload: {} }]);
        throw new Error('rollback');
      }),
    );
    await publish(db, `${ctx}.other`);
    const id = await publish(db, `${ctx}.seen`);
    await waitFor(() => got.length === 1, 5000, 'the committed event');
    await sleep(150);
    assert.deepEqual(got, [id]);
  } finally {
    unsubscribe();
  }
});

test('a subscriber arriving after every listener left starts from the head: events committed meanwhile are not replayed', async () => {
  const ctx = uniqueContext();
  const first: string[] = [];
  const stop = bus.subscribe([`${ctx}.seen`], (e) => first.push(e.id));
  await sleep(100);
  const before = await publish(db, `${ctx}.seen`);
  await waitFor(() => first.length === 1, 5000, 'the first listener got its event');
  assert.deepEqual(first, [before]);
  stop();
  // Nobody listens while these commit, and the tail notices (its next wake-up finds no listener).
  const missed = await publish(db, `${ctx}.seen`);
  await sleep(700);
  const second: string[] = [];
  const stop2 = bus.subscribe([`${ctx}.seen`], (e) => second.push(e.id));
  try {
    await sleep(200);
    const after2 = await publish(db, `${ctx}.seen`);
    await waitFor(() => second.includes(after2), 5000, 'the second listener got the new event');
    await sleep(150);
    assert.deepEqual(second, [after2]);
    assert.ok(!second.includes(missed));
  } finally {
    stop2();
  }
});

test('drained waits until the consumer passed every event committed before it, however long a batch runs', async () => {
  const ctx = uniqueContext();
  const name = `${ctx}.slow`;
  for (let i = 0; i < 12; i++) await publish(db, `${ctx}.e`, { n: i });
  // One batch, one transaction of ~1.2 s: nothing lands until it commits (what `etl run` used
  // to take for "drained" when the landing count stood still for half a second).
  const worker = bus.consumer({ name, types: [`${ctx}.*`], handle: async () => { await sleep(100); } });
  await assert.rejects(bus.drained(name, { timeoutMs: 300 }), /did not reach the outbox head/);
  worker.start();
  try {
    await bus.drained(name);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events_inbox WHERE consumer = $1', [name]);
    assert.equal(rows[0]?.n, 12);
  } finally {
    await worker.stop();
  }
});
