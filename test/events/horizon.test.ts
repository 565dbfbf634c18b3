import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { appendEvents, type EventEnvelope } from '../../src/events/index.js';
import type { Db } from '../../src/platform/db.js';
import { applyInTx } from '../../src/events/consumer.js';
import { safeHead } from '../../src/events/reader.js';
import { freshDatabase } from '../support/db.js';
import { publish, sleep, testBus, uniqueContext, waitFor } from './support.js';

const { db } = await freshDatabase({ poolSize: 10 });
const other = await freshDatabase({ poolSize: 2 });
const bus = testBus(db);
after(() => bus.close());

/**
 * The stall seen in the checkout benchmark: the consumer's position sat at the commit-safe
 * head while committed events waited past it, because the horizon was the snapshot's xmin,
 * which any transaction on the server holds back — including ones in other databases (another
 * benchmark, another test file, an idle-in-transaction session) that can never write to this
 * outbox.
 */
test('a transaction open in another database does not hold back this database’s consumers', async () => {
  const ctx = uniqueContext();
  const seen: EventEnvelope[] = [];
  const worker = bus.consumer({ name: `${ctx}.horizon`, types: [`${ctx}.*`], handle: async (_tx, e) => void seen.push(e) });
  worker.start();
  const foreign = new pg.Client({ connectionString: other.url });
  await foreign.connect();
  try {
    await foreign.query('BEGIN');
    await foreign.query('SELECT pg_current_xact_id()');
    for (let i = 1; i <= 3; i++) await publish(db, `${ctx}.e`, { n: i });
    await waitFor(() => seen.length === 3, 5_000, 'events committed behind a foreign open transaction');
    const head = await safeHead(db);
    const last = seen.at(-1);
    assert.equal(head?.seq, last?.seq, 'the commit-safe head reaches the last committed event');
  } finally {
    await foreign.query('ROLLBACK').catch(() => undefined);
    await foreign.end();
    await worker.stop();
  }
});

test('a transaction open in this database still holds back later commits (it may append)', async () => {
  const ctx = uniqueContext();
  const seen: EventEnvelope[] = [];
  const worker = bus.consumer({ name: `${ctx}.local`, types: [`${ctx}.*`], handle: async (_tx, e) => void seen.push(e) });
  worker.start();
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_current_xact_id()');
    await publish(db, `${ctx}.e`, { n: 1 });
    await sleep(300);
    assert.equal(seen.length, 0);
    await client.query('COMMIT');
    await waitFor(() => seen.length === 1, 5_000, 'the event after the local transaction ended');
  } finally {
    client.release();
    await worker.stop();
  }
});

test('three workers of one consumer (three processes) race: every event handled once, none passed without its inbox row', async () => {
  const ctx = uniqueContext();
  await db.query(`CREATE TABLE fx_${ctx} (event_id uuid NOT NULL)`);
  const buses = [testBus(db), testBus(db), testBus(db)];
  let flaky = 0;
  const workers = buses.map((b) =>
    b.consumer({
      name: `${ctx}.race`, types: [`${ctx}.*`], batchSize: 5, backoffMs: 5, maxAttempts: 50,
      handle: async (tx, e) => {
        await tx.query(`INSERT INTO fx_${ctx} (event_id) VALUES ($1)`, [e.id]);
        if (++flaky % 17 === 0) throw new Error('transient');
      },
    }),
  );
  for (const w of workers) w.start();
  try {
    await Promise.all(
      Array.from({ length: 40 }, (_, t) =>
        db.transaction(async (tx) => {
          await tx.query('SELECT pg_current_xact_id()');
          await sleep(t % 7);
          for (let i = 0; i < 3; i++) await publishIn(tx, `${ctx}.e`, t * 3 + i);
        }),
      ),
    );
    const total = 120;
    const count = async (sql: string) => (await db.query<{ n: number }>(sql, [ctx])).rows[0]?.n ?? 0;
    await waitFor(async () => (await count(`SELECT count(DISTINCT event_id)::int AS n FROM fx_${ctx} WHERE $1 <> ''`)) === total, 20_000, 'all effects');
    await sleep(200);
    assert.equal(await count(`SELECT count(*)::int AS n FROM fx_${ctx} WHERE $1 <> ''`), total, 'no effect applied twice');
    assert.equal(
      await count(`SELECT count(*)::int AS n FROM events_outbox o WHERE o.context = $1
                    AND NOT EXISTS (SELECT 1 FROM events_inbox i WHERE i.consumer = $1 || '.race' AND i.event_id = o.event_id)`),
      0,
      'no event passed without its inbox row',
    );
  } finally {
    for (const w of workers) await w.stop();
    for (const b of buses) await b.close();
  }
});

async function publishIn(tx: Db, type: string, n: number): Promise<void> {
  await appendEvents(tx, [{ type, version: 1, aggregateType: 'probe', aggregateId: String(n), payload: { n } }]);
}

test('one event twice in a batch (a JetStream redelivery buffered with the original) runs its handler once', async () => {
  const ctx = uniqueContext();
  const id = await publish(db, `${ctx}.e`, { n: 1 });
  const event: EventEnvelope = { seq: 1, id, type: `${ctx}.e`, version: 1, context: ctx, aggregateType: 'probe', aggregateId: '1', payload: { n: 1 }, occurredAt: new Date() };
  let calls = 0;
  const spec = { name: `${ctx}.twice`, types: [`${ctx}.*`], handle: async () => void calls++ };
  const fresh = await db.transaction((tx) => applyInTx(tx, spec, [event, { ...event }]));
  assert.equal(fresh, 1);
  assert.equal(calls, 1);
});
