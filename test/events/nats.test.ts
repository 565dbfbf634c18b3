import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { EventEnvelope } from '../../src/events/index.js';
import { listDeadLetters } from '../../src/events/index.js';
import { natsConsumer } from '../../src/events/consumer-nats.js';
import { eventMetrics } from '../../src/events/metrics.js';
import { connectNats, streamName } from '../../src/events/nats.js';
import { createRelay, RELAY } from '../../src/events/relay.js';
import { safeHead, START } from '../../src/events/reader.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { systemClock } from '../../src/platform/clock.js';
import type { Db } from '../../src/platform/db.js';
import { freshDatabase } from '../support/db.js';
import { effectTable, publish, sleep, testBus, uniqueContext, waitFor } from './support.js';

const natsUrl = process.env.NATS_URL;

// JetStream suites run only where NATS is available (CI sets NATS_URL).
if (natsUrl) {
  const { db } = await freshDatabase({ poolSize: 20 });
  const logger = createLogger(process.env.TEST_LOG ?? 'silent');
  const link = await connectNats(natsUrl, logger, 'embudo-test');
  const streams: string[] = [];
  after(async () => {
    for (const s of streams) await link.jsm.streams.delete(s).catch(() => false);
    await link.close();
  });
  const count = async (table: string) => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n ?? 0;

  test('relay killed between publish and position update: nothing lost, duplicates dropped', async () => {
    const ctx = uniqueContext();
    streams.push(streamName(ctx));
    for (let n = 0; n < 50; n++) await publish(db, `${ctx}.e`, { n });
    const metrics = eventMetrics(createMetrics().registry);
    let killed = false;
    const first = createRelay({
      db, logger, metrics, link: async () => link, batchSize: 30,
      afterPublish: () => {
        killed = true;
        throw new Error('relay killed after the acks, before the position moved');
      },
    }, 50);
    first.start();
    await waitFor(() => killed, 5000, 'the first publication');
    await first.stop();
    // Everything the killed relay got acknowledged is republished: JetStream drops each copy.
    const publishedBeforeKill = (await link.jsm.streams.info(streamName(ctx))).state.messages;
    assert.ok(publishedBeforeKill >= 30);

    const second = createRelay({ db, logger, metrics, link: async () => link, batchSize: 30 }, 50);
    second.start();
    try {
      await waitFor(async () => (await link.jsm.streams.info(streamName(ctx))).state.messages === 50, 10_000, '50 messages');
      await waitFor(async () => {
        const { rows } = await db.query<{ event_seq: number }>(`SELECT event_seq FROM events_positions WHERE consumer = '$relay'`);
        return rows[0]?.event_seq === (await safeHead(db))?.seq;
      }, 10_000, 'relay position at the head');
      const info = await link.jsm.streams.info(streamName(ctx));
      assert.equal(info.state.messages, 50, 'the republished batch was dropped as duplicates');
      const dups = (await metrics.duplicates.get()).values[0]?.value ?? 0;
      assert.equal(dups, publishedBeforeKill);
    } finally {
      await second.stop();
    }
  });

  test('relay publishes in transaction-id order across a power of ten (9, 10, 11), none passed', async () => {
    const ctx = uniqueContext();
    streams.push(streamName(ctx));
    // Transaction ids set by hand, far below the relay's position: start it from the beginning.
    await db.query(
      `INSERT INTO events_outbox (tx_id, event_id, type, version, context, aggregate_type, aggregate_id, payload)
       SELECT t::text::xid8, gen_random_uuid(), $1, 1, $2, 'probe', t::text, jsonb_build_object('n', t)
         FROM unnest(ARRAY[11, 10, 9]) AS t`,
      [`${ctx}.e`, ctx],
    );
    await db.query(`DELETE FROM events_positions WHERE consumer = '$relay'`);
    const metrics = eventMetrics(createMetrics().registry);
    // Two per read: a text sort would read 10 and 11 first and move the position past 9.
    const relay = createRelay({ db, logger, metrics, link: async () => link, batchSize: 2 }, 50);
    relay.start();
    try {
      await waitFor(async () => {
        const { rows } = await db.query<{ event_seq: number }>(`SELECT event_seq FROM events_positions WHERE consumer = '$relay'`);
        return rows[0]?.event_seq === (await safeHead(db))?.seq;
      }, 20_000, 'relay position at the head');
      const stream = streamName(ctx);
      const { messages } = (await link.jsm.streams.info(stream)).state;
      const published: number[] = [];
      for (let seq = 1; seq <= messages; seq++) {
        const m = await link.jsm.streams.getMessage(stream, { seq });
        if (m) published.push(m.json<{ payload: { n: number } }>().payload.n);
      }
      assert.deepEqual(published, [9, 10, 11]);
    } finally {
      await relay.stop();
    }
  });

  for (const shape of ['handle', 'handleBatch'] as const)
  test(`same ${shape} through JetStream: crash after commit before ack → effect once; poison → dead letter`, async () => {
    const ctx = uniqueContext();
    streams.push(streamName(ctx));
    await effectTable(db, `fx_${ctx}`);
    const bus = testBus(db, { natsUrl });
    const relay = bus.runtime().workers[0];
    assert.equal(relay?.name, 'events-relay');
    relay.start();
    const handle = async (tx: Db, e: EventEnvelope) => {
      if (e.type === `${ctx}.poison`) throw new Error('poison');
      await tx.query(`INSERT INTO fx_${ctx} (event_id) VALUES ($1)`, [e.id]);
    };
    // Set-based: one statement for the batch; a poison event fails the whole batch, which is
    // then retried one by one.
    const handleBatch = async (tx: Db, events: readonly EventEnvelope[]) => {
      if (events.some((e) => e.type === `${ctx}.poison`)) throw new Error('poison');
      await tx.query(`INSERT INTO fx_${ctx} (event_id) SELECT unnest($1::uuid[])`, [events.map((e) => e.id)]);
    };
    const options = { name: `${ctx}.fx`, types: [`${ctx}.*`], maxAttempts: 2, backoffMs: 20 };
    const spec = shape === 'handle' ? { ...options, handle } : { ...options, handleBatch };
    const deps = { db, logger, clock: systemClock, metrics: eventMetrics(createMetrics().registry), link: async () => link, ackWaitMs: 1000 };
    try {
      for (let n = 0; n < 10; n++) await publish(db, `${ctx}.e`, { n });
      // First process: commits the effects, then dies before acknowledging anything.
      let crashed = 0;
      const crashing = natsConsumer(deps, spec, 50, {
        beforeAck: () => {
          crashed++;
          throw new Error('process died before the ack');
        },
      });
      crashing.start();
      try {
        await waitFor(async () => (await count(`fx_${ctx}`)) === 10, 10_000, 'ten effects');
      } finally {
        await crashing.stop();
      }
      assert.ok(crashed > 0);

      // Second process: JetStream redelivers the unacknowledged messages; the inbox drops them.
      await publish(db, `${ctx}.poison`);
      for (let n = 10; n < 15; n++) await publish(db, `${ctx}.e`, { n });
      const healthy = natsConsumer(deps, spec, 50);
      healthy.start();
      try {
        await waitFor(async () => (await count(`fx_${ctx}`)) === 15, 15_000, 'fifteen effects');
        await waitFor(async () => (await listDeadLetters(db)).some((d) => d.consumer === spec.name), 15_000, 'the dead letter');
        await sleep(1500); // past ack_wait: any unacknowledged message would be back by now
        const { rows } = await db.query<{ dup: number }>(
          `SELECT count(*)::int AS dup FROM (SELECT event_id FROM fx_${ctx} GROUP BY event_id HAVING count(*) > 1) d`,
        );
        assert.equal(rows[0]?.dup, 0);
        assert.equal(await count(`fx_${ctx}`), 15);
        const dead = (await listDeadLetters(db)).filter((d) => d.consumer === spec.name);
        assert.deepEqual(dead.map((d) => d.type), [`${ctx}.poison`]);
        const c = await link.jsm.consumers.info(streamName(ctx), spec.name.replace(/[^A-Za-z0-9_-]/g, '_'));
        assert.deepEqual({ pending: c.num_pending, ackPending: c.num_ack_pending }, { pending: 0, ackPending: 0 });
      } finally {
        await healthy.stop();
      }
    } finally {
      await bus.close();
    }
  });
  test('relay: small pipelined batches keep commit order; a stored position moved behind it is followed (duplicates dropped)', async () => {
    const ctx = uniqueContext();
    streams.push(streamName(ctx));
    const before = (await safeHead(db)) ?? START;
    for (let n = 0; n < 20; n++) await publish(db, `${ctx}.e`, { n });
    const metrics = eventMetrics(createMetrics().registry);
    // Batches of 3, two unacknowledged at once: several batches per position write.
    const relay = createRelay({ db, logger, metrics, link: async () => link, batchSize: 3, window: 2 }, 50);
    const position = async () =>
      (await db.query<{ tx_id: string; event_seq: number }>(`SELECT tx_id::text AS tx_id, event_seq FROM events_positions WHERE consumer = $1`, [RELAY])).rows[0];
    const atHead = async () => {
      const [p, head] = [await position(), await safeHead(db)];
      return p?.tx_id === head?.txId && p?.event_seq === head?.seq;
    };
    relay.start();
    try {
      await waitFor(atHead, 10_000, 'relay position at the head');
      const ns: unknown[] = [];
      for (let seq = 1; seq <= 20; seq++) ns.push((await link.jsm.streams.getMessage(streamName(ctx), { seq }))?.json<{ payload: { n: number } }>().payload.n);
      assert.deepEqual(ns, Array.from({ length: 20 }, (_, n) => n), 'published in commit order');

      // Someone moves the stored position back (an operator, a failover): the idle relay
      // notices on its next read and republishes from there; JetStream drops every copy.
      await db.query(`UPDATE events_positions SET tx_id = $2::xid8, event_seq = $3 WHERE consumer = $1`, [RELAY, before.txId, before.seq]);
      await waitFor(async () => ((await metrics.duplicates.get()).values[0]?.value ?? 0) >= 20 && (await atHead()), 10_000, 'the republished copies');
      assert.equal((await link.jsm.streams.info(streamName(ctx))).state.messages, 20);
      assert.equal((await metrics.duplicates.get()).values[0]?.value, 20);
    } finally {
      await relay.stop();
    }
  });
  test('relay: a publication that fails is republished from the stored position; nothing lost', async () => {
    const ctx = uniqueContext();
    streams.push(streamName(ctx));
    for (let n = 0; n < 20; n++) await publish(db, `${ctx}.e`, { n });
    const metrics = eventMetrics(createMetrics().registry);
    // JetStream refuses the 5th publication once (its batch and the ones after it stay unstored).
    let calls = 0;
    const js = new Proxy(link.js, {
      get: (target, prop, receiver) =>
        prop === 'publish'
          ? (...args: Parameters<typeof link.js.publish>) => (++calls === 5 ? Promise.reject(new Error('no ack')) : target.publish(...args))
          : (Reflect.get(target, prop, receiver) as unknown),
    });
    const relay = createRelay({ db, logger, metrics, link: async () => ({ ...link, js }), batchSize: 3, window: 2 }, 50);
    relay.start();
    try {
      await waitFor(async () => {
        const [p, head] = [(await db.query<{ event_seq: number }>(`SELECT event_seq FROM events_positions WHERE consumer = $1`, [RELAY])).rows[0], await safeHead(db)];
        return p?.event_seq === head?.seq;
      }, 10_000, 'relay position at the head');
      assert.ok(calls > 20, 'the failed batch was published again');
      const info = await link.jsm.streams.info(streamName(ctx));
      assert.equal(info.state.messages, 20);
      const ns = new Set<number>();
      for (let seq = 1; seq <= 20; seq++) ns.add((await link.jsm.streams.getMessage(streamName(ctx), { seq }))?.json<{ payload: { n: number } }>().payload.n ?? -1);
      assert.equal(ns.size, 20);
    } finally {
      await relay.stop();
    }
  });
}
