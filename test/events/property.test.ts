import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { appendEvents } from '../../src/events/index.js';
import { freshDatabase } from '../support/db.js';
import { sleep, testBus, uniqueContext, waitFor } from './support.js';

const { db } = await freshDatabase({ poolSize: 30 });
const bus = testBus(db);
after(() => bus.close());

const plan = fc.array(
  fc.record({
    events: fc.integer({ min: 1, max: 3 }),
    delayMs: fc.integer({ min: 0, max: 25 }),
    rollback: fc.boolean(),
    flaky: fc.boolean(), // the handler fails on its first attempt for this transaction's events
  }),
  { minLength: 1, maxLength: 14 },
);

test('property: racing transactions, rollbacks and flaky handlers → every committed event applied once, in (tx_id, id) order', async () => {
  await fc.assert(
    fc.asyncProperty(plan, async (txs) => {
      const ctx = uniqueContext();
      await db.query(`CREATE TABLE fx_${ctx} (k bigint GENERATED ALWAYS AS IDENTITY, event_id uuid NOT NULL)`);
      const failedOnce = new Set<string>();
      const worker = bus.consumer({
        name: `${ctx}.p`,
        types: [`${ctx}.*`],
        backoffMs: 5,
        maxAttempts: 10,
        handle: async (tx, e) => {
          await tx.query(`INSERT INTO fx_${ctx} (event_id) VALUES ($1)`, [e.id]);
          if ((e.payload as { flaky: boolean }).flaky && !failedOnce.has(e.id)) {
            failedOnce.add(e.id);
            throw new Error('transient');
          }
        },
      });
      worker.start();
      try {
        await Promise.allSettled(
          txs.map((t, i) =>
            db.transaction(async (tx) => {
              await tx.query('SELECT pg_current_xact_id()');
              await sleep(t.delayMs);
              await appendEvents(tx, Array.from({ length: t.events }, (_, k) => ({
                type: `${ctx}.e`, version: 1, aggregateType: 'tx', aggregateId: `${i}`, payload: { i, k, flaky: t.flaky },
              })));
              if (t.rollback) throw new Error('rollback');
            }),
          ),
        );
        const committed = (await db.query<{ event_id: string }>(
          'SELECT event_id FROM events_outbox WHERE context = $1 ORDER BY tx_id, id', [ctx],
        )).rows.map((r) => r.event_id);
        assert.equal(committed.length, txs.filter((t) => !t.rollback).reduce((n, t) => n + t.events, 0));
        const applied = async () => (await db.query<{ event_id: string }>(`SELECT event_id FROM fx_${ctx} ORDER BY k`)).rows.map((r) => r.event_id);
        await waitFor(async () => (await applied()).length >= committed.length, 15_000, 'all effects');
        await sleep(60);
        assert.deepEqual(await applied(), committed);
      } finally {
        await worker.stop();
      }
    }),
    { numRuns: 8 },
  );
});
