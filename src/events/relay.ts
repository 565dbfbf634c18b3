import type { PubAck } from '@nats-io/jetstream';
import type { Db } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { wakeableLoop, type Loop, type Next } from './loop.js';
import type { EventMetrics } from './metrics.js';
import { subjectOf, type NatsLink } from './nats.js';
import { contextOf } from './outbox.js';
import type { EventTrace } from './trace.js';
import { advancePosition, HORIZON, loadPosition, positionOf, type OutboxRow, type Position } from './reader.js';

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
  trace?: EventTrace;
  afterPublish?: (rows: readonly Pick<OutboxRow, 'id' | 'event_id' | 'type'>[]) => Promise<void> | void;
}

export interface Relay extends Loop {
  /** The last time the relay published or found nothing to publish. */
  lastProgressAt(): number;
  lastError(): string | undefined;
}

/**
 * One statement per read: the commit-safe horizon, whether rows wait past it (worth a quick
 * re-poll when the read comes back short), whether the stored position still is the one read
 * from (`$4`'s row) and up to `$3` rows after the position below it.
 * PostgreSQL renders each message (a WireEvent) itself, so the relay's thread neither parses
 * payloads and dates nor serialises them again: it only forwards text. With no row to read,
 * one row of nulls still carries `blocked`.
 */
// The horizon is computed once; `blocked` is an index probe (an EXISTS there was planned as a
// sequential scan of the outbox, which holds days of events).
const READ = `WITH s AS MATERIALIZED (SELECT ${HORIZON} AS x),
  h AS MATERIALIZED (
    SELECT s.x, (SELECT tx_id FROM events_outbox WHERE tx_id >= s.x ORDER BY tx_id LIMIT 1) IS NOT NULL AS blocked,
           EXISTS (SELECT 1 FROM events_positions WHERE consumer = $4 AND tx_id = $1::xid8 AND event_seq = $2) AS stored
      FROM s)
  SELECT h.blocked, h.stored, r.id, r.event_id, r.tx_id::text AS tx_id, r.type,
    json_build_object('seq', r.id, 'id', r.event_id, 'type', r.type, 'version', r.version, 'context', r.context,
      'aggregateType', r.aggregate_type, 'aggregateId', r.aggregate_id, 'payload', r.payload,
      'occurredAt', r.occurred_at, 'txId', r.tx_id::text)::text AS wire
    FROM h LEFT JOIN LATERAL (
      SELECT * FROM events_outbox
       WHERE tx_id < h.x AND (tx_id, id) > ($1::xid8, $2::bigint)
       ORDER BY tx_id, id
       LIMIT $3) r ON true
   ORDER BY r.tx_id, r.id`;

type WireRow = Pick<OutboxRow, 'id' | 'event_id' | 'tx_id' | 'type'> & { wire: string };
type ReadRow = { blocked: boolean; stored: boolean } & (WireRow | { [K in keyof WireRow]: null });
const isRow = (r: ReadRow): r is ReadRow & WireRow => r.id !== null;

/** A batch published to JetStream whose position is not stored yet. */
interface InFlight {
  rows: WireRow[];
  last: Position;
  acks: Promise<PubAck[]>;
  /** Set once every publication of the batch is acknowledged. */
  acked?: PubAck[];
}

/** Batches per iteration before yielding to the loop (stop() waits at most this long). */
const BATCHES_PER_ITERATION = 50;

/**
 * Outbox → JetStream. Every event is published with `Nats-Msg-Id` = event id. Batches are
 * pipelined: while JetStream acknowledges some (up to `window` unacknowledged), the next ones
 * are read and published, across iterations too (a commit is relayed without waiting for the
 * previous one's acks). The position is stored behind the publications, one UPDATE at a time,
 * each past every batch acknowledged so far in order: reads and publications never wait for
 * it, and under load one write covers many batches. A failed publication or a crash before a
 * write republishes from the stored position and JetStream drops the duplicates (within its
 * duplicate window).
 */
export function createRelay(deps: RelayDeps, idleMs: number): Relay {
  const limit = deps.batchSize ?? 1000;
  const window = Math.max(1, deps.window ?? 3);
  let progressAt = Date.now();
  let error: string | undefined;

  /** The position as stored (as this relay last wrote or read it); undefined: read it again. */
  let stored: Position | undefined;
  /** Published past `stored`, in order; the read cursor is the last one's position. */
  let pending: InFlight[] = [];
  /** The position write under way, if any. */
  let writing: Promise<void> | undefined;
  /** Why the last write did not happen: the relay starts again from the stored position. */
  let broken: { err?: Error } | undefined;

  const publish = (link: NatsLink, rows: readonly WireRow[]): Promise<PubAck[]> =>
    Promise.all(rows.map((r) => link.js.publish(subjectOf(r.type), r.wire, { msgID: r.event_id })));

  const count = (rows: readonly WireRow[], acks: readonly PubAck[]) => {
    const byType = new Map<string, number>();
    for (const r of rows) byType.set(r.type, (byType.get(r.type) ?? 0) + 1);
    for (const [type, n] of byType) deps.metrics.published.inc({ type }, n);
    const dups = acks.reduce((n, a) => n + (a.duplicate ? 1 : 0), 0);
    if (dups > 0) deps.metrics.duplicates.inc(dups);
  };

  /** Stores the position past the leading acknowledged batches (one write at a time). */
  const flush = (): void => {
    if (writing || broken || !stored) return;
    let n = 0;
    while (n < pending.length && pending[n]?.acked) n++;
    if (n === 0) return;
    const from = stored;
    const done = pending.slice(0, n);
    const to = (done[n - 1] as InFlight).last;
    writing = (async () => {
      try {
        for (const b of done) await deps.afterPublish?.(b.rows);
        const ok = await advancePosition(deps.db, RELAY, from, to);
        if (!ok) {
          broken = {}; // another relay moved it: follow the stored one
          return;
        }
        stored = to;
        pending = pending.slice(n);
        for (const b of done) count(b.rows, b.acked ?? []);
        progressAt = Date.now();
        error = undefined;
      } catch (err) {
        broken = { err: err instanceof Error ? err : new Error(String(err)) };
      }
    })().finally(() => {
      writing = undefined;
      flush();
    });
  };

  const track = (batch: InFlight) => {
    pending.push(batch);
    batch.acks.then(
      (acks) => {
        batch.acked = acks;
        deps.trace?.('published', batch.rows.map((r) => r.event_id), performance.now());
        flush();
      },
      (err: unknown) => {
        // The position never passes this batch: start again from the stored one.
        broken ??= { err: err instanceof Error ? err : new Error(String(err)) };
        loop.wake();
      },
    );
  };

  /** Waits while `window` batches are unacknowledged. */
  const throttle = async () => {
    const unacked = pending.filter((b) => !b.acked);
    if (unacked.length >= window) await (unacked[0] as InFlight).acks.catch(() => undefined);
  };

  /** Forgets what was published past the stored position (republished next; JetStream drops the copies). */
  const restart = async () => {
    await writing;
    await Promise.allSettled(pending.map((b) => b.acks));
    const err = broken?.err;
    pending = [];
    stored = undefined;
    broken = undefined;
    if (err !== undefined) throw err;
  };

  const read = async (from: Position): Promise<{ rows: WireRow[]; blocked: boolean }> => {
    // Reading from the stored position itself (nothing in flight or being written), the read
    // also checks that nobody else moved it (another relay, an operator, a failover): if so,
    // this relay follows the stored one instead of its memory.
    const atStored = pending.length === 0 && !writing && stored?.txId === from.txId && stored.seq === from.seq;
    const { rows } = await deps.db.query<ReadRow>(READ, [from.txId, from.seq, limit, RELAY]);
    if (atStored && rows[0]?.stored === false) {
      broken ??= {};
      return { rows: [], blocked: false };
    }
    const read = rows.filter(isRow);
    if (deps.trace && read.length > 0) deps.trace('read', read.map((r) => r.event_id), performance.now());
    return { rows: read, blocked: rows[0]?.blocked ?? false };
  };

  const iteration = async (): Promise<Next> => {
    try {
      if (broken) await restart();
      stored ??= await loadPosition(deps.db, RELAY);
      const link = await deps.link();
      await throttle();
      if (broken) return 'more';
      let cursor = pending.at(-1)?.last ?? stored;
      let next = read(cursor);
      next.catch(() => undefined); // awaited below; a read abandoned by an early return is harmless
      for (let n = 0; n < BATCHES_PER_ITERATION; n++) {
        const { rows, blocked } = await next;
        if (broken) return 'more';
        const last = rows.at(-1);
        if (last) {
          await Promise.all([...new Set(rows.map((r) => contextOf(r.type)))].map((c) => link.ensureStream(c)));
          const acks = publish(link, rows);
          acks.catch(() => undefined); // handled in track()
          cursor = positionOf(last);
          track({ rows, last: cursor, acks });
        }
        if (rows.length < limit) {
          // Caught up. The acknowledgements and the position write finish behind the loop: the
          // next commit is read and published without waiting for them.
          if (pending.length === 0) {
            progressAt = Date.now();
            error = undefined;
          }
          return blocked ? { inMs: 15, blocked: true } : 'idle';
        }
        // The next read runs while JetStream acknowledges the batches in flight.
        next = read(cursor);
        next.catch(() => undefined);
        await throttle();
        if (broken) return 'more';
      }
      return 'more';
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      broken ??= { err: undefined };
      throw err;
    }
  };

  // stop() waits for the position write under way and the publications in flight.
  const loop = wakeableLoop('events-relay', idleMs, deps.logger, iteration, {
    onStop: async () => {
      await Promise.allSettled(pending.map((b) => b.acks));
      while (writing) await writing;
    },
  });
  return Object.assign(loop, { lastProgressAt: () => progressAt, lastError: () => error });
}
