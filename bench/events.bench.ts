// The event backbone's speed: appends in business-sized transactions, the outbox → JetStream
// relay against a bare acknowledged publish loop measured in the same run, and commit-to-
// handler latency at 2,000 events/s through the relay and a durable JetStream consumer.
// Needs PostgreSQL at BENCH_DATABASE_URL (a scratch database is created and dropped) and NATS
// at NATS_URL.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { appendEvents, createEventBus, type EventTrace, type TraceStage } from '../src/events/index.js';
import { connectNats, streamName } from '../src/events/nats.js';
import { RELAY } from '../src/events/relay.js';
import { createDatabase, type Database } from '../src/platform/db.js';
import { withDatabase } from '../src/platform/embedded-postgres.js';
import { createLogger } from '../src/platform/log.js';
import { createMetrics } from '../src/platform/metrics.js';
import { migrate } from '../src/platform/migrations.js';
import type { FigureTarget } from './run.js';

// BENCH_EVENTS_APPEND and BENCH_EVENTS_E2E_SECONDS shorten a run while iterating.
const APPEND_EVENTS = Math.max(2000, Math.round(Number(process.env.BENCH_EVENTS_APPEND ?? 30_000) / 1000) * 1000);
const EVENTS_PER_TX = 5;
const APPEND_CONCURRENCY = 8;
const E2E_RATE = 2000;
const E2E_SECONDS = Number(process.env.BENCH_EVENTS_E2E_SECONDS ?? 5);

/** Issue #7's targets on this machine (2 cores): relay vs a bare acknowledged publish, latency at 2,000 events/s. */
export const targets: Record<string, FigureTarget> = {
  append_per_s: { better: 'higher', unit: 'events/s', note: `${EVENTS_PER_TX}-event business transactions, ${APPEND_CONCURRENCY} at once` },
  relay_per_s: { target: 10_000, better: 'higher', unit: 'events/s', baseline: 'nats_publish_per_s', note: 'outbox → JetStream, acknowledged, position advanced' },
  nats_publish_per_s: { better: 'higher', unit: 'msgs/s', note: 'bare acknowledged publish loop, 1,000 in flight (the baseline)' },
  ratio: { target: 0.8, better: 'higher', baseline: 'nats_publish_per_s', note: 'relay_per_s / nats_publish_per_s' },
  end_to_end_p50_ms: { better: 'lower', unit: 'ms', note: `commit → handler through the relay and a durable pull consumer at ${E2E_RATE} events/s, handleBatch (one INSERT per batch)` },
  end_to_end_p99_ms: { target: 100, better: 'lower', unit: 'ms', note: `commit → handler through the relay and a durable pull consumer at ${E2E_RATE} events/s, handleBatch (one INSERT per batch)` },
  end_to_end_per_event_p50_ms: { better: 'lower', unit: 'ms', note: 'the same with a per-event handler (one INSERT per event)' },
  end_to_end_per_event_p99_ms: { target: 100, better: 'lower', unit: 'ms', note: 'the same with a per-event handler (one INSERT per event)' },
  end_to_end_rate_per_s: { unit: 'events/s', better: 'higher' },
  end_to_end_in_process_p99_ms: { target: 100, better: 'lower', unit: 'ms', note: 'without NATS (embedded default), off the outbox table, per-event handler' },
  events: { better: 'higher', note: 'events the consumers had to apply' },
  lost: { target: 0, better: 'lower' },
  duplicated_effects: { target: 0, better: 'lower' },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Commits `perTick`-event transactions at `rate` events/s for `seconds`; returns commit times by event id. */
async function pacedProducer(db: Database, type: string, rate: number, seconds: number): Promise<Map<string, number>> {
  const perTick = 10;
  const ticks = (rate / perTick) * seconds;
  const commitAt = new Map<string, number>();
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let t = 0; t < ticks; t++) {
    const wait = start + (t * 1000 * perTick) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    inflight.push(
      db.transaction((tx) =>
        appendEvents(tx, Array.from({ length: perTick }, (_, i) => ({
          type, version: 1, aggregateType: 'sku', aggregateId: `SKU-${i}`,
          payload: { sku: `SKU-${i}`, locationId: 'main', onHand: 10, reserved: 1, available: 9 },
        }))),
      ).then((ids) => {
        const now = performance.now();
        for (const id of ids) commitAt.set(id, now);
      }),
    );
  }
  await Promise.all(inflight);
  return commitAt;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** When each event first passed each stage (the bus's trace), by event id. */
function stageRecorder() {
  const at: Record<TraceStage, Map<string, number>> = { read: new Map(), published: new Map(), received: new Map(), handled: new Map() };
  const trace: EventTrace = (stage, ids, now) => {
    const m = at[stage];
    for (const id of ids) if (!m.has(id)) m.set(id, now);
  };
  return { at, trace };
}

/**
 * Per-leg latency percentiles (ms) for the events in `from`: each leg from one recorded
 * time to the next. Legs overlap nowhere, so their p50s add up to about the end-to-end one.
 */
function legs(ids: Iterable<string>, points: [string, Map<string, number>][], p: number): Record<string, number> {
  const out: Record<string, number> = {};
  const list = [...ids];
  for (let i = 1; i < points.length; i++) {
    const [, a] = points[i - 1] as [string, Map<string, number>];
    const [name, b] = points[i] as [string, Map<string, number>];
    const d = list.flatMap((id) => {
      const x = a.get(id);
      const y = b.get(id);
      return x === undefined || y === undefined ? [] : [y - x];
    });
    out[name] = Math.round(percentile(d, p) * 10) / 10;
  }
  return out;
}

export async function run(): Promise<Record<string, unknown>> {
  const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const name = `embudo_bench_events_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const db = createDatabase({ connectionString: withDatabase(adminUrl, name), max: 20 });
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const ctx = `bench${randomBytes(3).toString('hex')}`;
  const link = await connectNats(natsUrl, logger, 'embudo-bench');
  const stages = stageRecorder();
  const bus = createEventBus({ db, logger, metrics: createMetrics(), natsUrl, pollMs: 200, trace: stages.trace });
  try {
    await migrate(db);
    await db.query('CREATE TABLE bench_orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, total int NOT NULL)');
    await db.query('CREATE TABLE bench_effects (event_id uuid NOT NULL, handled_at timestamptz DEFAULT now())');

    // 1. Appends: each transaction writes a business row and its events, like a checkout.
    const order = async (n: number) =>
      db.transaction(async (tx) => {
        const { rows } = await tx.query<{ id: number }>('INSERT INTO bench_orders (total) VALUES ($1) RETURNING id', [n * 1000]);
        const id = String(rows[0]?.id);
        return appendEvents(
          tx,
          Array.from({ length: EVENTS_PER_TX }, (_, i) => ({
            type: `${ctx}.${i === 0 ? 'order_placed' : 'line_added'}`, version: 1, aggregateType: 'order', aggregateId: id,
            payload: { orderId: id, line: i, sku: `SKU-${n % 500}`, quantity: 1 + (i % 3), unitPrice: 9990 },
          })),
        );
      });
    let next = 0;
    const appendStart = performance.now();
    await Promise.all(
      Array.from({ length: APPEND_CONCURRENCY }, async () => {
        while (next < APPEND_EVENTS / EVENTS_PER_TX) await order(next++);
      }),
    );
    const appendPerS = APPEND_EVENTS / ((performance.now() - appendStart) / 1000);

    // 2. Baseline: a bare acknowledged JetStream publish loop, same window as the relay (1,000 in flight).
    const baseCtx = `${ctx}base`;
    await link.ensureStream(baseCtx);
    // The same message shape and size the relay sends (an envelope as WireEvent).
    const body = JSON.stringify({
      seq: 123456, id: '0b6f8a52-9d3e-4c1a-8f7e-2d4b6a8c0e1f', type: `${baseCtx}.line_added`, version: 1, context: baseCtx,
      aggregateType: 'order', aggregateId: '12345', payload: { orderId: '12345', line: 1, sku: 'SKU-123', quantity: 2, unitPrice: 9990 },
      occurredAt: new Date().toISOString(), txId: '1234567',
    });
    let sent = 0;
    /** Publishes `n` messages, 1,000 in flight per round; returns the seconds it took. */
    const bareLoop = async (n: number) => {
      const start = performance.now();
      for (let i = 0; i < n; i += 1000) {
        await Promise.all(Array.from({ length: 1000 }, () => link.js.publish(`embudo.${baseCtx}.e`, body, { msgID: `${ctx}-${sent++}` })));
      }
      return (performance.now() - start) / 1000;
    };
    // Half of the baseline right before the relay and half right after: on a shared machine the
    // load drifts within minutes, and the ratio should compare like with like.
    let natsSeconds = await bareLoop(APPEND_EVENTS / 2);

    // 3. The relay drains the outbox: published, acknowledged, position advanced.
    const [relay] = bus.runtime().workers;
    if (!relay) throw new Error('no relay worker');
    // The relay is done when its position reaches the last row in commit-safe (tx_id, id)
    // order — not max(id): with concurrent appends the highest id is rarely the last
    // transaction (comparing with max(id) hung a run forever). The end time is the position
    // row's own update time, so polling (every 50 ms, not to steal the relay's CPU) adds no error.
    const relayed = async () =>
      (await db.query<{ done: boolean; at: Date }>(
        `SELECT (p.tx_id, p.event_seq) >= (o.tx_id, o.id) AS done, p.updated_at AS at FROM events_positions p,
                (SELECT tx_id, id FROM events_outbox ORDER BY tx_id DESC, id DESC LIMIT 1) o WHERE p.consumer = $1`,
        [RELAY],
      )).rows[0];
    // Like the baseline's, the relay's NATS connection is open before the clock starts (a relay
    // is a long-lived process); creating its stream on the first event stays in the figure.
    await bus.nats();
    const startedAt = (await db.query<{ at: Date }>('SELECT clock_timestamp() AS at')).rows[0]?.at ?? new Date();
    relay.start();
    const relayUntil = Date.now() + 120_000;
    let done = await relayed();
    while (!done?.done) {
      if (Date.now() > relayUntil) throw new Error('the relay did not reach the head in 120 s');
      await sleep(50);
      done = await relayed();
    }
    const relayPerS = APPEND_EVENTS / ((done.at.getTime() - startedAt.getTime()) / 1000);
    natsSeconds += await bareLoop(APPEND_EVENTS / 2);
    const natsPerS = APPEND_EVENTS / natsSeconds;

    // 4. A durable JetStream consumer applies every event once (inbox + effect in one transaction).
    // Two handler shapes of the same effect (one bench_effects row per event): `handle`, one
    // INSERT per event, and `handleBatch`, one INSERT per batch (what a high-rate consumer such
    // as a landing table uses). Each consumer gets its own context, so its own stream.
    const natsConsumerFor = (context: string, shape: 'each' | 'batch') => {
      const handledAt = new Map<string, number>();
      const seen = (id: string) => {
        if (!handledAt.has(id)) handledAt.set(id, performance.now());
      };
      const options = { name: `${context}.effects`, types: [`${context}.*`] };
      const worker = bus.consumer(
        shape === 'each'
          ? {
              ...options,
              handle: async (tx, e) => {
                seen(e.id);
                await tx.query('INSERT INTO bench_effects (event_id) VALUES ($1)', [e.id]);
              },
            }
          : {
              ...options,
              handleBatch: async (tx, events) => {
                for (const e of events) seen(e.id);
                await tx.query('INSERT INTO bench_effects (event_id) SELECT unnest($1::uuid[])', [events.map((e) => e.id)]);
              },
            },
      );
      return { worker, handledAt };
    };
    /** Commits at 2,000 events/s (10-event transactions every 5 ms) and waits until each was handled. */
    const paced = async (context: string, handledAt: Map<string, number>) => {
      const commitAt = await pacedProducer(db, `${context}.stock_changed`, E2E_RATE, E2E_SECONDS);
      // Waits in memory: a count(DISTINCT) over the growing effects table every 200 ms would
      // load the database under measurement. Lost and duplicated come from the table at the end.
      const allHandled = () => [...commitAt.keys()].every((id) => handledAt.has(id));
      const until = Date.now() + 60_000;
      while (!allHandled() && Date.now() < until) await sleep(50);
      await sleep(1500); // let any redelivery show up as a duplicate
      return commitAt;
    };

    // 4. A durable JetStream consumer (per-event handler) applies every appended event once
    // (inbox + effect in one transaction).
    const each = natsConsumerFor(ctx, 'each');
    each.worker.start();
    const effects = async () => (await db.query<{ n: number }>('SELECT count(DISTINCT event_id)::int AS n FROM bench_effects')).rows[0]?.n ?? 0;
    const drainUntil = Date.now() + 120_000;
    while ((await effects()) < APPEND_EVENTS && Date.now() < drainUntil) await sleep(200);

    // 5. End to end through the relay and JetStream, per-event handler, then batch handler.
    const eachCommits = await paced(ctx, each.handledAt);
    await each.worker.stop();
    const setCtx = `${ctx}set`;
    await link.ensureStream(setCtx);
    const batch = natsConsumerFor(setCtx, 'batch');
    batch.worker.start();
    await sleep(1000); // bound to its durable before the clock starts
    const commitAt = await paced(setCtx, batch.handledAt);
    const handledAt = batch.handledAt;
    await batch.worker.stop();
    await relay.stop();
    const expected = APPEND_EVENTS + eachCommits.size + commitAt.size;

    // 6. The same in-process (no NATS: the embedded default), off the outbox table.
    const localStages = stageRecorder();
    const local = createEventBus({ db, logger, metrics: createMetrics(), pollMs: 200, trace: localStages.trace });
    const localHandled = new Map<string, number>();
    const localConsumer = local.consumer({
      name: `${ctx}.local`,
      types: [`${ctx}local.*`],
      handle: async (tx, e) => {
        if (!localHandled.has(e.id)) localHandled.set(e.id, performance.now());
        await tx.query('INSERT INTO bench_effects (event_id) VALUES ($1)', [e.id]);
      },
    });
    localConsumer.start();
    await sleep(1500); // a new consumer first walks the whole outbox: measure the steady state
    const localCommits = await pacedProducer(db, `${ctx}local.stock_changed`, E2E_RATE, E2E_SECONDS);
    const localUntil = Date.now() + 60_000;
    while (localHandled.size < localCommits.size && Date.now() < localUntil) await sleep(50);
    await localConsumer.stop();
    await local.close();
    const localLatencies = [...localCommits].map(([id, at]) => Math.max(0, (localHandled.get(id) ?? Number.POSITIVE_INFINITY) - at));

    const latenciesOf = (commits: Map<string, number>, handled: Map<string, number>) =>
      [...commits].map(([id, at]) => Math.max(0, (handled.get(id) ?? Number.POSITIVE_INFINITY) - at));
    const latencies = latenciesOf(commitAt, handledAt);
    const eachLatencies = latenciesOf(eachCommits, each.handledAt);
    const { rows } = await db.query<{ distinct_ids: number; total: number }>(
      'SELECT count(DISTINCT event_id)::int AS distinct_ids, count(*)::int AS total FROM bench_effects',
    );
    const distinct = rows[0]?.distinct_ids ?? 0;
    const total = rows[0]?.total ?? 0;
    const round = (v: number) => Math.round(v);
    // Where the end-to-end time goes: commit → relay read → JetStream ack (publish) and
    // → consumer's pull subscription (delivery) → handler start (buffer wait, transaction
    // start, inbox insert) → consumer commit.
    const natsPoints = (commits: Map<string, number>, handled: Map<string, number>, p: number) => ({
      ...legs(commits.keys(), [['commit', commits], ['relay_read_ms', stages.at.read], ['relay_publish_ack_ms', stages.at.published]], p),
      ...legs(commits.keys(), [['read', stages.at.read], ['nats_delivery_ms', stages.at.received], ['consumer_to_handler_ms', handled], ['consumer_commit_ms', stages.at.handled]], p),
    });
    const localPoints = (p: number) =>
      legs(localCommits.keys(), [['commit', localCommits], ['read_ms', localStages.at.read], ['to_handler_ms', localHandled], ['commit_ms', localStages.at.handled]], p);
    return {
      append_per_s: round(appendPerS),
      relay_per_s: round(relayPerS),
      nats_publish_per_s: round(natsPerS),
      ratio: Math.round((relayPerS / natsPerS) * 100) / 100,
      end_to_end_p50_ms: Math.round(percentile(latencies, 50) * 10) / 10,
      end_to_end_p99_ms: Math.round(percentile(latencies, 99) * 10) / 10,
      end_to_end_rate_per_s: E2E_RATE,
      end_to_end_per_event_p50_ms: Math.round(percentile(eachLatencies, 50) * 10) / 10,
      end_to_end_per_event_p99_ms: Math.round(percentile(eachLatencies, 99) * 10) / 10,
      end_to_end_in_process_p99_ms: Math.round(percentile(localLatencies, 99) * 10) / 10,
      events: expected + localCommits.size,
      lost: expected + localCommits.size - distinct,
      duplicated_effects: total - distinct,
      mode: 'nats',
      nats_legs_p50: natsPoints(commitAt, handledAt, 50),
      nats_legs_p99: natsPoints(commitAt, handledAt, 99),
      per_event_legs_p50: natsPoints(eachCommits, each.handledAt, 50),
      per_event_legs_p99: natsPoints(eachCommits, each.handledAt, 99),
      in_process_legs_p50: localPoints(50),
      in_process_legs_p99: localPoints(99),
    };
  } finally {
    await bus.close();
    for (const s of [streamName(ctx), streamName(`${ctx}set`), streamName(`${ctx}base`)]) await link.jsm.streams.delete(s).catch(() => false);
    await link.close();
    await db.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}
