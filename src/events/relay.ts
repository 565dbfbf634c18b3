import type { PubAck } from '@nats-io/jetstream';
import type { Db } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { wakeableLoop, type Loop, type Next } from './loop.js';
import type { EventMetrics } from './metrics.js';
import { subjectOf, type NatsLink } from './nats.js';
import { contextOf } from './outbox.js';
import { advancePosition, blockedPastHorizon, loadPosition, positionOf, readAll, type OutboxRow, type Position } from './reader.js';

/** The relay's row in events_positions. */
export const RELAY = '$relay';

export interface RelayDeps {
  db: Db;
  logger: Logger;
  metrics: EventMetrics;
  link: () => Promise<NatsLink>;
  /** Events per read and per position update (default 1000). */
  batchSize?: number;
  /** Batches published and not yet acknowledged at once (default 3). */
  window?: number;
  /** Test seam: runs after JetStream acknowledged a batch and before the position moves. */
  afterPublish?: (rows: readonly Pick<OutboxRow, 'id' | 'event_id' | 'type'>[]) => Promise<void> | void;
}

export interface Relay extends Loop {
  /** The last time the relay published or found nothing to publish. */
  lastProgressAt(): number;
  lastError(): string | undefined;
}

/**
 * PostgreSQL renders each message (a WireEvent) itself, so the relay's thread neither parses
 * payloads and dates nor serialises them again: it only forwards text.
 */
const WIRE_COLUMNS = `id, event_id, tx_id::text AS tx_id, type,
    json_build_object('seq', id, 'id', event_id, 'type', type, 'version', version, 'context', context,
      'aggregateType', aggregate_type, 'aggregateId', aggregate_id, 'payload', payload,
      'occurredAt', occurred_at, 'txId', tx_id::text)::text AS wire`;

type WireRow = Pick<OutboxRow, 'id' | 'event_id' | 'tx_id' | 'type'> & { wire: string };

interface InFlight {
  rows: WireRow[];
  last: Position;
  acks: Promise<PubAck[]>;
}

/** Batches per iteration before yielding to the loop (stop() waits at most this long). */
const BATCHES_PER_ITERATION = 50;

/**
 * Outbox → JetStream. Every event is published with `Nats-Msg-Id` = event id. Batches are
 * pipelined: while JetStream acknowledges one, the next ones are read and published (up to
 * `window` unacknowledged), but the position only ever moves past a batch whose every ack
 * has arrived, in order. A crash in between republishes from the position and JetStream drops
 * the duplicates (within its duplicate window).
 */
export function createRelay(deps: RelayDeps, idleMs: number): Relay {
  const limit = deps.batchSize ?? 1000;
  const window = Math.max(1, deps.window ?? 3);
  let progressAt = Date.now();
  let error: string | undefined;

  const publish = (link: NatsLink, rows: readonly WireRow[]): Promise<PubAck[]> =>
    Promise.all(rows.map((r) => link.js.publish(subjectOf(r.type), r.wire, { msgID: r.event_id })));

  const count = (rows: readonly WireRow[], acks: readonly PubAck[]) => {
    const byType = new Map<string, number>();
    for (const r of rows) byType.set(r.type, (byType.get(r.type) ?? 0) + 1);
    for (const [type, n] of byType) deps.metrics.published.inc({ type }, n);
    const dups = acks.reduce((n, a) => n + (a.duplicate ? 1 : 0), 0);
    if (dups > 0) deps.metrics.duplicates.inc(dups);
  };

  const iteration = async (): Promise<Next> => {
    const inflight: InFlight[] = [];
    try {
      let committed = await loadPosition(deps.db, RELAY);
      let drained = false;
      const link = await deps.link();
      /** Waits for the oldest batch's acks and moves the position past it; false if another relay moved it. */
      const settle = async (): Promise<boolean> => {
        const batch = inflight.shift();
        if (!batch) return true;
        const acks = await batch.acks;
        await deps.afterPublish?.(batch.rows);
        if (!(await advancePosition(deps.db, RELAY, committed, batch.last))) return false;
        committed = batch.last;
        count(batch.rows, acks);
        progressAt = Date.now();
        error = undefined;
        return true;
      };
      const read = (from: Position) => {
        const p = readAll<WireRow>(deps.db, from, limit, WIRE_COLUMNS);
        p.catch(() => undefined); // awaited below; a read abandoned by an early return is harmless
        return p;
      };
      let next = read(committed);
      for (let n = 0; n < BATCHES_PER_ITERATION; n++) {
        const rows = await next;
        if (rows.length > 0) {
          await Promise.all([...new Set(rows.map((r) => contextOf(r.type)))].map((c) => link.ensureStream(c)));
          const acks = publish(link, rows);
          acks.catch(() => undefined); // awaited in settle(); a failure there ends the iteration
          inflight.push({ rows, last: positionOf(rows[rows.length - 1] as WireRow), acks });
        }
        if (rows.length < limit) {
          drained = true;
          break;
        }
        // The next read runs while the oldest batch's acks are awaited and its position stored.
        next = read(positionOf(rows[rows.length - 1] as WireRow));
        if (inflight.length >= window && !(await settle())) return 'more';
      }
      while (inflight.length > 0) if (!(await settle())) return 'more';
      if (!drained) return 'more';
      progressAt = Date.now();
      error = undefined;
      return (await blockedPastHorizon(deps.db)) ? { inMs: 15 } : 'idle';
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      // Publications still unacknowledged when an iteration ends early are simply redone from
      // the position next time (duplicates dropped); wait for them so none outlives stop().
      await Promise.allSettled(inflight.map((b) => b.acks));
    }
  };

  const loop = wakeableLoop('events-relay', idleMs, deps.logger, iteration);
  return Object.assign(loop, { lastProgressAt: () => progressAt, lastError: () => error });
}
