import type { Db } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { wakeableLoop, type Loop, type Next } from './loop.js';
import type { EventMetrics } from './metrics.js';
import { subjectOf, type NatsLink } from './nats.js';
import { advancePosition, loadPosition, positionOf, readBatch, typeFilter, type OutboxRow } from './reader.js';

/** The relay's row in events_positions. */
export const RELAY = '$relay';

export interface RelayDeps {
  db: Db;
  logger: Logger;
  metrics: EventMetrics;
  link: () => Promise<NatsLink>;
  batchSize?: number;
  /** Test seam: runs after JetStream acknowledged a batch and before the position moves. */
  afterPublish?: (rows: readonly OutboxRow[]) => Promise<void> | void;
}

export interface Relay extends Loop {
  /** The last time the relay published or found nothing to publish. */
  lastProgressAt(): number;
  lastError(): string | undefined;
}

const ALL = typeFilter(['*']);
/**
 * PostgreSQL renders each message (a WireEvent) itself, so the relay's thread neither parses
 * payloads and dates nor serialises them again: it only forwards text.
 */
const RAW = {
  columns: `id, event_id, tx_id::text AS tx_id, type, context,
    json_build_object('seq', id, 'id', event_id, 'type', type, 'version', version, 'context', context,
      'aggregateType', aggregate_type, 'aggregateId', aggregate_id, 'payload', payload,
      'occurredAt', occurred_at, 'txId', tx_id::text)::text AS wire`,
};

type WireRow = OutboxRow & { wire: string };

/**
 * Outbox → JetStream. Each batch is published with `Nats-Msg-Id` = event id and every ack is
 * awaited before the position advances, so a crash in between republishes the batch and
 * JetStream drops the duplicates (within its duplicate window).
 */
export function createRelay(deps: RelayDeps, idleMs: number): Relay {
  const limit = deps.batchSize ?? 1000;
  let progressAt = Date.now();
  let error: string | undefined;

  const publish = (link: NatsLink, rows: readonly OutboxRow[]) =>
    Promise.all(
      rows.map((r) => link.js.publish(subjectOf(r.type), (r as WireRow).wire, { msgID: r.event_id })),
    );

  const iteration = async (): Promise<Next> => {
    try {
      let from = await loadPosition(deps.db, RELAY);
      let batch = await readBatch(deps.db, from, ALL, limit, RAW);
      // Pipelined: the next batch is read while JetStream acknowledges this one; the position
      // only ever moves past acknowledged events.
      for (let round = 0; round < 20; round++) {
        const { rows, blocked } = batch;
        const last = rows.at(-1);
        if (!last) {
          progressAt = Date.now();
          error = undefined;
          return blocked ? { inMs: 15 } : 'idle';
        }
        const link = await deps.link();
        await Promise.all([...new Set(rows.map((r) => r.context))].map((c) => link.ensureStream(c)));
        const acked = publish(link, rows);
        const nextRead = rows.length === limit ? readBatch(deps.db, positionOf(last), ALL, limit, RAW) : undefined;
        nextRead?.catch(() => undefined);
        const acks = await acked;
        await deps.afterPublish?.(rows);
        if (!(await advancePosition(deps.db, RELAY, from, positionOf(last)))) return 'more'; // another relay moved it
        for (const r of rows) deps.metrics.published.inc({ type: r.type });
        const dups = acks.filter((a) => a.duplicate).length;
        if (dups > 0) deps.metrics.duplicates.inc(dups);
        progressAt = Date.now();
        error = undefined;
        if (!nextRead) return blocked ? { inMs: 15 } : 'idle';
        from = positionOf(last);
        batch = await nextRead;
      }
      return 'more';
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      throw err;
    }
  };

  const loop = wakeableLoop('events-relay', idleMs, deps.logger, iteration);
  return Object.assign(loop, { lastProgressAt: () => progressAt, lastError: () => error });
}
