import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { appendEvents, listDeadLetters } from '../../src/events/index.js';
import { connectNats, streamName } from '../../src/events/nats.js';
import { createHttpApp } from '../../src/platform/http.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetrics, type Metrics } from '../../src/platform/metrics.js';
import { freshDatabase } from '../support/db.js';
import { publish, testBus, uniqueContext, waitFor } from './support.js';

const { db } = await freshDatabase({ poolSize: 10 });

/** One sample of a Prometheus text exposition, or 0 when absent. */
async function sample(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await metrics.registry.metrics();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

test('metrics: handled, handler errors and dead letters per consumer and type; lag in events and seconds', async () => {
  const metrics = createMetrics();
  const bus = testBus(db, { metrics });
  const ctx = uniqueContext();
  const worker = bus.consumer({
    name: `${ctx}.m`, types: [`${ctx}.*`], maxAttempts: 2, backoffMs: 10,
    handle: async (_tx, e) => {
      if (e.type === `${ctx}.poison`) throw new Error('poison');
    },
  });
  // Registered, never started: the lag monitor must show it behind.
  bus.consumer({ name: `${ctx}.idle`, types: [`${ctx}.*`], handle: async () => undefined });
  await db.transaction((tx) =>
    appendEvents(tx, [{ type: `${ctx}.ok`, version: 1, aggregateType: 'p', aggregateId: '1', payload: {}, occurredAt: new Date(Date.now() - 120_000) }]),
  );
  await publish(db, `${ctx}.poison`);
  await publish(db, `${ctx}.ok`);
  const { workers } = bus.runtime();
  worker.start();
  for (const w of workers) w.start();
  try {
    await waitFor(async () => (await listDeadLetters(db)).some((d) => d.consumer === `${ctx}.m`), 10_000, 'a dead letter');
    await waitFor(async () => (await sample(metrics, 'embudo_events_handled_total', { consumer: `${ctx}.m`, type: `${ctx}.ok` })) === 2, 10_000, 'two handled');
    assert.equal(await sample(metrics, 'embudo_events_appended_total', { type: `${ctx}.ok` }), 2);
    assert.equal(await sample(metrics, 'embudo_events_appended_total', { type: `${ctx}.poison` }), 1);
    assert.equal(await sample(metrics, 'embudo_events_handler_errors_total', { consumer: `${ctx}.m`, type: `${ctx}.poison` }), 2);
    assert.equal(await sample(metrics, 'embudo_events_dead_letters_total', { consumer: `${ctx}.m`, type: `${ctx}.poison` }), 1);
    await waitFor(async () => (await sample(metrics, 'embudo_events_consumer_lag_events', { consumer: `${ctx}.idle` })) === 3, 10_000, 'lag of the idle consumer');
    assert.ok((await sample(metrics, 'embudo_events_consumer_lag_seconds', { consumer: `${ctx}.idle` })) >= 100, 'lag in seconds counts from the oldest waiting event');
  } finally {
    await worker.stop();
    for (const w of workers) await w.stop();
    await bus.close();
  }
});

test('/readyz answers 503 naming the stalled relay, and 200 once it is not needed', async () => {
  const metrics = createMetrics();
  const stalled = testBus(db, { natsUrl: 'nats://127.0.0.1:1', stallAfterMs: 100, metrics });
  const { workers, readiness } = stalled.runtime();
  const logger = createLogger('silent');
  const app = await createHttpApp({ logger, metrics, readiness, modules: [] });
  await db.transaction((tx) =>
    appendEvents(tx, [{ type: 'probe.waiting', version: 1, aggregateType: 'p', aggregateId: 'x', payload: {}, occurredAt: new Date(Date.now() - 60_000) }]),
  );
  for (const w of workers) w.start();
  try {
    await waitFor(async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode === 503, 10_000, 'not ready');
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    const body = res.json<{ status: string; checks: Record<string, string> }>();
    assert.equal(body.status, 'not_ready');
    assert.match(body.checks['events-relay'] ?? '', /relay stalled: events waiting \d+ s/);
  } finally {
    for (const w of workers) await w.stop();
    await stalled.close();
  }
  // A stopped relay is not this process's job any more: ready again.
  const res = await app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(res.statusCode, 200);
  await app.close();
});

const natsUrl = process.env.NATS_URL;
if (natsUrl) {
  const link = await connectNats(natsUrl, createLogger('silent'), 'embudo-test-metrics');
  const streams: string[] = [];
  after(async () => {
    for (const s of streams) await link.jsm.streams.delete(s).catch(() => false);
    await link.close();
  });

  test('metrics: published per type once JetStream acknowledged; relay lag back to zero', async () => {
    const metrics = createMetrics();
    const bus = testBus(db, { natsUrl, metrics });
    const ctx = uniqueContext();
    streams.push(streamName(ctx));
    for (let n = 0; n < 5; n++) await publish(db, `${ctx}.a`, { n });
    for (let n = 0; n < 3; n++) await publish(db, `${ctx}.b`, { n });
    const { workers } = bus.runtime();
    for (const w of workers) w.start();
    try {
      await waitFor(async () => (await sample(metrics, 'embudo_events_published_total', { type: `${ctx}.b` })) === 3, 10_000, 'published');
      assert.equal(await sample(metrics, 'embudo_events_published_total', { type: `${ctx}.a` }), 5);
      assert.equal((await link.jsm.streams.info(streamName(ctx))).state.messages, 8);
    } finally {
      for (const w of workers) await w.stop();
      await bus.close();
    }
  });
}
