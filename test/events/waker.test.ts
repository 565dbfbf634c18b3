// Appends without a NOTIFY in the transaction, woken after commit (outboxWaker): consumers
// still hear of every committed event at once, never of one still uncommitted.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { appendEvents, outboxWaker } from '../../src/events/index.js';
import { freshDatabase } from '../support/db.js';
import { sleep, testBus, uniqueContext, waitFor } from './support.js';

const { db } = await freshDatabase({ poolSize: 6 });

test('an append with notify: false wakes nobody until the waker runs after the commit', async () => {
  const listener = new pg.Client(db.pool.options);
  await listener.connect();
  after(() => listener.end());
  let heard = 0;
  listener.on('notification', (n) => {
    if (n.channel === 'embudo_outbox') heard++;
  });
  await listener.query('LISTEN embudo_outbox');
  const ctx = uniqueContext();
  const event = { type: `${ctx}.quiet`, version: 1, aggregateType: 'probe', aggregateId: 'x', payload: {} };

  await db.transaction((tx) => appendEvents(tx, [event], { notify: false }));
  await sleep(200);
  assert.equal(heard, 0, 'no NOTIFY inside the transaction');

  const wake = outboxWaker(db);
  wake();
  wake(); // arriving while the first is on its way: shares the next one
  await waitFor(() => heard > 0, 5_000, 'the wake-up');
  await sleep(200);
  assert.ok(heard >= 1 && heard <= 2, `coalesced wake-ups (heard ${heard})`);

  // The default still notifies at commit.
  const before = heard;
  await db.transaction((tx) => appendEvents(tx, [event]));
  await waitFor(() => heard > before, 5_000, 'the in-transaction NOTIFY');
});

test('a consumer handles events appended without a NOTIFY once the waker runs, well before its poll', async () => {
  const bus = testBus(db, { pollMs: 60_000 });
  after(() => bus.close());
  const ctx = uniqueContext();
  const seen: string[] = [];
  const worker = bus.consumer({
    name: `${ctx}.w`, types: [`${ctx}.*`],
    handle: async (_tx, e) => {
      seen.push(e.aggregateId);
    },
  });
  worker.start();
  after(() => worker.stop());
  await sleep(300); // LISTEN in place, first (empty) pass done
  const wake = outboxWaker(db);
  await db.transaction((tx) => appendEvents(tx, [{ type: `${ctx}.a`, version: 1, aggregateType: 'probe', aggregateId: 'one', payload: {} }], { notify: false }));
  wake();
  await waitFor(() => seen.includes('one'), 5_000, 'the consumer to handle the event');
});
