import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import type { EventEnvelope } from '../../src/events/index.js';
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
