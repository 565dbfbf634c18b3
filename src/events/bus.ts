import pg from 'pg';
import { systemClock, type Clock } from '../platform/clock.js';
import type { Database } from '../platform/db.js';
import type { ReadinessCheck } from '../platform/http.js';
import type { Logger } from '../platform/log.js';
import type { Metrics } from '../platform/metrics.js';
import type { Worker } from '../platform/worker.js';
import { renderCatalog, type EventDefinition } from './catalog.js';
import { inProcessConsumer, type ConsumerSpec } from './consumer.js';
import { natsConsumer, natsPositionName } from './consumer-nats.js';
import { archiveOutbox } from './housekeeping.js';
import { wakeableLoop, type Loop } from './loop.js';
import { eventMetrics, type EventMetrics } from './metrics.js';
import { connectNats, type NatsLink } from './nats.js';
import { observeAppends, type EventEnvelope } from './outbox.js';
import { after, HORIZON, matches, readBatch, safeHead, toEnvelope, typeFilter, type Position, type TypeFilter } from './reader.js';
import { createRelay, RELAY, type Relay } from './relay.js';
import type { EventTrace } from './trace.js';

export interface EventBusDeps {
  db: Database;
  logger: Logger;
  metrics: Metrics;
  /** Set: relay the outbox to JetStream and consume from durable pull consumers. */
  natsUrl?: string;
  clock?: Clock;
  /** Where the outbox archive goes (`<dataDir>/lake/outbox_archive/...`); no archiving without it. */
  dataDir?: string;
  /** Published events older than this leave the hot table (default 7 days). */
  retentionMs?: number;
  /** Fallback poll when no NOTIFY arrives (default 500 ms). */
  pollMs?: number;
  /** The relay is reported stalled when the oldest unpublished event is older (default 30 s). */
  stallAfterMs?: number;
  /** Diagnostics: called as events pass each stage (see `EventTrace`). */
  trace?: EventTrace;
}

export interface EventBus {
  readonly mode: 'in-process' | 'nats';
  /**
   * A durable consumer. `handle` (or `handleBatch`, a batch's new events at once) runs in a
   * transaction with the inbox rows, so its effect is applied exactly once; failures retry one
   * event at a time with backoff, then go to the dead letters.
   *
   * @example
   * workers.push(bus.consumer({ name: 'checkout.payments', types: ['payments.*'],
   *   handle: (tx, event) => orders.onPayment(tx, event) }));
   * // Set-based: one statement per batch instead of one per event.
   * workers.push(bus.consumer({ name: 'analytics.etl', types: ['*'],
   *   handleBatch: (tx, events) => landing.insertMany(tx, events) }));
   */
  consumer(spec: ConsumerSpec): Worker;
  /**
   * Resolves once the named durable consumer (running here or elsewhere) has passed every
   * event up to the outbox's commit-safe head at the time of the call: a drain, e.g.
   * `embudo etl run` before it loads. Throws after `timeoutMs` (default 10 minutes).
   *
   * @example
   * worker.start(); await events.drained('analytics.etl'); await worker.stop();
   */
  drained(consumer: string, options?: { timeoutMs?: number }): Promise<void>;
  /** Non-durable, in-process, after-commit fan-out (SSE pushes). Returns the unsubscribe. */
  subscribe(types: string[], listener: (event: EventEnvelope) => void): () => void;
  /** Registers a context's event contracts for the catalogue. */
  registerEvents(...defs: EventDefinition[]): void;
  /** The Markdown catalogue of every registered event type. */
  catalog(): string;
  /** The bus's own workers (relay, lag monitor, housekeeping) and readiness, for the events role. */
  runtime(): { workers: Worker[]; readiness: Record<string, ReadinessCheck> };
  /** The NATS link (NATS mode only), connected on first use. */
  nats(): Promise<NatsLink>;
  close(): Promise<void>;
}

/**
 * The event backbone: the outbox (`appendEvents`) plus consumers that read it in commit-safe
 * order, in-process or through NATS JetStream when `natsUrl` is set — same handler code.
 *
 * @example
 * const events = createEventBus({ db, logger, metrics, natsUrl: config.natsUrl });
 */
export function createEventBus(deps: EventBusDeps): EventBus {
  const clock = deps.clock ?? systemClock;
  const metrics: EventMetrics = eventMetrics(deps.metrics.registry);
  const pollMs = deps.pollMs ?? 500;
  const mode = deps.natsUrl ? 'nats' : 'in-process';
  const stopObserving = observeAppends((types) => {
    for (const type of types) metrics.appended.inc({ type });
  });

  // NOTIFY wakes the loops at commit; the poll is only the fallback.
  const loops = new Set<Loop>();
  let listener: pg.Client | undefined;
  let listening = false;
  let closed = false;
  const listen = async (): Promise<void> => {
    if (listening || closed) return;
    listening = true;
    try {
      // Its own connection, outside the pool: it lives as long as the bus.
      const client = new pg.Client(deps.db.pool.options);
      listener = client;
      client.on('notification', () => {
        for (const l of loops) l.wake();
      });
      client.on('error', (err) => {
        deps.logger.warn({ err }, 'outbox LISTEN connection lost; reconnecting');
        void client.end().catch(() => undefined);
        listener = undefined;
        listening = false;
        if (!closed) setTimeout(() => void listen(), 1000).unref();
      });
      await client.connect();
      if (closed) {
        await client.end();
        return;
      }
      await client.query('LISTEN embudo_outbox');
    } catch (err) {
      listening = false;
      deps.logger.warn({ err }, 'could not LISTEN on the outbox; polling');
      if (!closed) setTimeout(() => void listen(), 1000).unref();
    }
  };
  const track = (loop: Loop): Loop => {
    const start = loop.start.bind(loop);
    const stop = loop.stop.bind(loop);
    return Object.assign(loop, {
      start() {
        loops.add(loop);
        void listen();
        start();
      },
      async stop() {
        loops.delete(loop);
        await stop();
      },
    });
  };

  let link: Promise<NatsLink> | undefined;
  const nats = () => {
    if (!deps.natsUrl) return Promise.reject(new Error('NATS_URL is not set'));
    link ??= connectNats(deps.natsUrl, deps.logger, 'embudo-events');
    link.catch(() => (link = undefined));
    return link;
  };

  const consumers: ConsumerSpec[] = [];
  // A consumer's transaction holds an xid, so the relay and the other readers of this process
  // may be waiting for it to end: they re-read at its commit, not at their next re-poll.
  const committed = (self: Loop) => {
    for (const l of loops) if (l !== self) l.wakeIfBlocked();
  };
  const consumerDeps = { db: deps.db, logger: deps.logger, clock, metrics, trace: deps.trace, committed };

  // Live fan-out: one tail per process from the head at first subscription.
  const listeners = new Set<{ filter: TypeFilter; fn: (e: EventEnvelope) => void }>();
  let tailAt: Position | undefined;
  const ALL = typeFilter(['*']);
  const tail = track(
    wakeableLoop('events-tail', pollMs, deps.logger, async () => {
      if (listeners.size === 0) {
        // Nobody listens: the next first listener starts from the head of its time, not from
        // where this tail stopped (it would otherwise read everything committed meanwhile).
        tailAt = undefined;
        return 'idle';
      }
      tailAt ??= (await safeHead(deps.db)) ?? { txId: '0', seq: 0 };
      const { rows, blocked } = await readBatch(deps.db, tailAt, ALL, 500);
      for (const row of rows) {
        const event = toEnvelope(row);
        for (const l of listeners) {
          if (!matches(l.filter, event.type)) continue;
          try {
            l.fn(event);
          } catch (err) {
            deps.logger.warn({ err, type: event.type }, 'event listener threw');
          }
        }
        tailAt = { txId: row.tx_id, seq: row.id };
      }
      return rows.length === 500 ? 'more' : blocked ? { inMs: 15, blocked: true } : 'idle';
    }),
  );

  let relay: Relay | undefined;
  const getRelay = () => (relay ??= Object.assign(track(createRelay({ db: deps.db, logger: deps.logger, metrics, link: nats, trace: deps.trace }, pollMs)), {}) as Relay);

  const monitor = wakeableLoop('events-lag', 5000, deps.logger, async () => {
    const watched: { name: string; position: string; filter: TypeFilter }[] = consumers.map((c) => ({
      name: c.name,
      position: mode === 'nats' ? natsPositionName(c.name) : c.name,
      filter: typeFilter(c.types),
    }));
    if (mode === 'nats') watched.push({ name: RELAY, position: RELAY, filter: ALL });
    for (const w of watched) {
      const { rows } = await deps.db.query<{ n: number; oldest: Date | null }>(
        `SELECT count(*)::int AS n, min(o.occurred_at) AS oldest FROM (
           SELECT o.occurred_at FROM events_outbox o
             LEFT JOIN events_positions p ON p.consumer = $1
            WHERE (o.tx_id, o.id) > (COALESCE(p.tx_id, '0'::xid8), COALESCE(p.event_seq, 0))
              AND ($2::boolean OR o.type = ANY($3::text[]) OR o.context = ANY($4::text[]))
            LIMIT 100000) o`,
        [w.position, w.filter.all, w.filter.exact, w.filter.contexts],
      );
      const r = rows[0];
      metrics.lagEvents.set({ consumer: w.name }, r?.n ?? 0);
      metrics.lagSeconds.set({ consumer: w.name }, r?.oldest ? Math.max(0, (clock.now().getTime() - r.oldest.getTime()) / 1000) : 0);
    }
    return 'idle';
  });

  const retentionMs = deps.retentionMs ?? 7 * 24 * 3600_000;
  const housekeeping = wakeableLoop('events-housekeeping', 15 * 60_000, deps.logger, async () => {
    if (!deps.dataDir) return 'idle';
    const { archived, files } = await archiveOutbox(deps.db, { dataDir: deps.dataDir, retentionMs, now: clock.now(), natsMode: mode === 'nats' });
    if (archived > 0) deps.logger.info({ archived, files: files.length }, 'outbox archived to the lake');
    return 'idle';
  });

  const stallAfterMs = deps.stallAfterMs ?? 30_000;
  const relayReadiness: ReadinessCheck = async () => {
    const r = getRelay();
    if (!r.running) return undefined;
    const { rows } = await deps.db.query<{ occurred_at: Date }>(
      `SELECT o.occurred_at FROM events_outbox o LEFT JOIN events_positions p ON p.consumer = $1
        WHERE (o.tx_id, o.id) > (COALESCE(p.tx_id, '0'::xid8), COALESCE(p.event_seq, 0))
          AND o.tx_id < ${HORIZON}
        ORDER BY o.tx_id, o.id LIMIT 1`,
      [RELAY],
    );
    const oldest = rows[0]?.occurred_at;
    const waitingMs = oldest ? clock.now().getTime() - oldest.getTime() : 0;
    if (oldest && waitingMs > stallAfterMs && Date.now() - r.lastProgressAt() > stallAfterMs) {
      return `relay stalled: events waiting ${Math.round(waitingMs / 1000)} s${r.lastError() ? ` (${r.lastError()})` : ''}`;
    }
    return undefined;
  };

  const definitions = new Map<string, EventDefinition>();

  return {
    mode,
    consumer(spec) {
      typeFilter(spec.types);
      if ((typeof spec.handle === 'function') === (typeof spec.handleBatch === 'function')) {
        throw new Error(`consumer "${spec.name}" needs exactly one of handle and handleBatch`);
      }
      if (consumers.some((c) => c.name === spec.name)) throw new Error(`consumer "${spec.name}" is already registered`);
      consumers.push(spec);
      return mode === 'nats' ? natsConsumer({ ...consumerDeps, link: nats }, spec, pollMs) : track(inProcessConsumer(consumerDeps, spec, pollMs));
    },
    async drained(consumer, options = {}) {
      const head = await safeHead(deps.db);
      if (!head) return;
      const timeoutMs = options.timeoutMs ?? 600_000;
      const deadline = Date.now() + timeoutMs;
      const position = mode === 'nats' ? natsPositionName(consumer) : consumer;
      for (;;) {
        const { rows } = await deps.db.query<{ tx_id: string; event_seq: string }>(
          'SELECT tx_id::text AS tx_id, event_seq::text AS event_seq FROM events_positions WHERE consumer = $1', [position]);
        const at = rows[0];
        if (at && !after(head, { txId: at.tx_id, seq: Number(at.event_seq) })) return;
        if (Date.now() > deadline) throw new Error(`consumer ${consumer} did not reach the outbox head within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    subscribe(types, fn) {
      const entry = { filter: typeFilter(types), fn };
      listeners.add(entry);
      if (!closed) {
        tail.start();
        // A tail left idle (no listener) takes the head now rather than at its next poll.
        if (listeners.size === 1) tail.wake();
      }
      return () => {
        listeners.delete(entry);
      };
    },
    registerEvents(...defs) {
      for (const d of defs) definitions.set(`${d.type}@${d.version}`, d);
    },
    catalog: () => renderCatalog([...definitions.values()]),
    runtime() {
      const workers: Worker[] = [monitor, housekeeping];
      const readiness: Record<string, ReadinessCheck> = {};
      if (mode === 'nats') {
        workers.unshift(getRelay());
        readiness['events-relay'] = relayReadiness;
      }
      return { workers, readiness };
    },
    nats,
    async close() {
      closed = true;
      stopObserving();
      await tail.stop();
      for (const l of [...loops]) await l.stop();
      await monitor.stop();
      await housekeeping.stop();
      if (listener) {
        const l = listener;
        listener = undefined;
        await l.end().catch(() => undefined);
      }
      if (link) await (await link.catch(() => undefined))?.close();
    },
  };
}
