import type { Db } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import type { Clock } from '../platform/clock.js';
import { wakeableLoop, type Loop, type Next } from './loop.js';
import type { EventEnvelope } from './outbox.js';
import {
  advancePosition,
  after,
  loadPosition,
  positionOf,
  readBatch,
  toEnvelope,
  typeFilter,
  type OutboxRow,
  type Position,
} from './reader.js';
import type { EventMetrics } from './metrics.js';
import type { EventTrace } from './trace.js';

/** A durable consumer: its name is its position, inbox and dead letters. */
export type ConsumerSpec = ConsumerOptions & (
  | {
      /** Runs inside the transaction that also writes the inbox row: the effect commits exactly once. */
      handle: (tx: Db, event: EventEnvelope) => Promise<void>;
      handleBatch?: undefined;
    }
  | {
      /**
       * Instead of `handle`: the new events of one transaction at once, in order, so a handler
       * can apply them set-based (one statement for the batch instead of one per event). Same
       * guarantees: it runs in the transaction that writes their inbox rows; when it throws,
       * the events are retried one by one (`[event]`), so a poison event is dead-lettered alone.
       *
       * @example
       * handleBatch: (tx, events) => tx.query('INSERT INTO landing (id) SELECT unnest($1::uuid[])', [events.map((e) => e.id)])
       */
      handleBatch: (tx: Db, events: readonly EventEnvelope[]) => Promise<unknown>;
      handle?: undefined;
    }
);

export interface ConsumerOptions {
  name: string;
  /** Exact types, `<context>.*`, or `*`. */
  types: string[];
  /** Attempts before an event goes to the dead letters (default 5). */
  maxAttempts?: number;
  /** First retry delay; doubles each attempt up to 30 s (default 200 ms). */
  backoffMs?: number;
  /** Events per transaction (default 200). */
  batchSize?: number;
}

export interface ConsumerDeps {
  db: Db;
  logger: Logger;
  clock: Clock;
  metrics: EventMetrics;
  trace?: EventTrace;
  /**
   * Called after each of the consumer's commits: its transaction may have held the other
   * readers' commit-safe horizon (it holds an xid while it runs), so those waiting on it
   * re-read now instead of at their next re-poll.
   */
  committed?: (self: Loop) => void;
}

export function backoff(spec: ConsumerSpec, attempt: number): number {
  return Math.min(30_000, (spec.backoffMs ?? 200) * 2 ** Math.max(0, attempt - 1));
}

export function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message).slice(0, 4000) : String(err).slice(0, 4000);
}

/**
 * Records the events in the consumer's inbox and runs the handler for the ones not seen
 * before, all in `tx`. Returns how many were new.
 */
export async function applyInTx(tx: Db, spec: ConsumerSpec, events: readonly EventEnvelope[], inbox: InboxWrite = INBOX): Promise<number> {
  if (events.length === 0) return 0;
  const { rows } = await tx.query<{ event_id: string }>(inbox.sql, [spec.name, events.map((e) => e.id), ...inbox.params]);
  const ids = new Set(rows.map((r) => r.event_id));
  // delete(): a batch can carry one event twice (JetStream redelivers a message whose ack wait
  // ran out while it sat in the buffer); only its first copy runs the handler.
  const fresh = events.filter((e) => ids.delete(e.id));
  if (spec.handleBatch) {
    if (fresh.length > 0) await spec.handleBatch(tx, fresh);
  } else {
    for (const event of fresh) await spec.handle(tx, event);
  }
  return fresh.length;
}

/**
 * The statement writing a batch's inbox rows: `$1` the consumer, `$2` the event ids; it
 * returns the ids not seen before. A caller may fold another write of the same transaction
 * into it (one round trip less per batch), with its parameters from `$3`.
 */
export interface InboxWrite {
  sql: string;
  params: readonly unknown[];
}

const INBOX: InboxWrite = {
  sql: `INSERT INTO events_inbox (consumer, event_id) SELECT $1, unnest($2::uuid[])
     ON CONFLICT DO NOTHING RETURNING event_id`,
  params: [],
};

export async function deadLetter(tx: Db, consumer: string, event: EventEnvelope, err: unknown, attempts: number): Promise<void> {
  await tx.query(
    `INSERT INTO events_dead_letters (consumer, event_id, event_seq, type, version, envelope, error, attempts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (consumer, event_id) DO UPDATE
       SET error = excluded.error, attempts = events_dead_letters.attempts + excluded.attempts,
           status = 'dead', failed_at = now()`,
    [consumer, event.id, event.seq, event.type, event.version, JSON.stringify(event), errorText(err), attempts],
  );
}

export function envelopeFromJson(value: unknown): EventEnvelope {
  const e = value as EventEnvelope & { occurredAt: string | Date };
  return { ...e, occurredAt: new Date(e.occurredAt) };
}

/**
 * Runs the dead letters an operator asked to replay (`embudo events replay <id>`) through the
 * handler, with the inbox as usual. Works the same with or without NATS.
 */
export async function processReplays(deps: ConsumerDeps, spec: ConsumerSpec): Promise<number> {
  const { rows } = await deps.db.query<{ id: number; envelope: unknown }>(
    `SELECT id, envelope FROM events_dead_letters WHERE consumer = $1 AND status = 'requested' ORDER BY id LIMIT 20`,
    [spec.name],
  );
  for (const row of rows) {
    const event = envelopeFromJson(row.envelope);
    try {
      await deps.db.transaction(async (tx) => {
        await applyInTx(tx, spec, [event]);
        await tx.query(`UPDATE events_dead_letters SET status = 'replayed', replayed_at = now() WHERE id = $1`, [row.id]);
      });
      deps.logger.info({ consumer: spec.name, deadLetter: row.id, eventId: event.id }, 'dead letter replayed');
    } catch (err) {
      deps.metrics.handlerErrors.inc({ consumer: spec.name, type: event.type });
      await deps.db.query(
        `UPDATE events_dead_letters SET status = 'dead', error = $2, attempts = attempts + 1, failed_at = now() WHERE id = $1`,
        [row.id, errorText(err)],
      );
      deps.logger.warn({ err, consumer: spec.name, deadLetter: row.id }, 'dead letter replay failed');
    }
  }
  return rows.length;
}

class PositionMoved extends Error {}

// Re-poll delay while committed events wait behind a running transaction: 15 ms at first,
// doubled by each blocked read that found none of its events, up to 120 ms. Under steady traffic some
// transaction nearly always holds the horizon, and a fixed 15 ms had each consumer read the
// outbox ~65 times a second with nothing to show for most reads (2 of them: ~6 reads per order
// at 25 orders/s). The commits that unblock them still wake the loop at once (NOTIFY, and this
// process's consumer commits through wakeIfBlocked); the re-poll only covers the rest.
const BLOCKED_REPOLL_MS = 15;
const BLOCKED_REPOLL_MAX_MS = 120;

/**
 * The in-process consumer: reads the outbox in commit-safe order from its stored position;
 * each batch's inbox rows, effects and new position commit together.
 */
export function inProcessConsumer(deps: ConsumerDeps, spec: ConsumerSpec, idleMs: number): Loop {
  const filter = typeFilter(spec.types);
  const limit = spec.batchSize ?? 200;
  const maxAttempts = spec.maxAttempts ?? 5;
  let failing: { eventId: string; attempts: number; dueAt: number } | undefined;
  let replaysAt = 0;
  let lastReadEmpty = true;
  let blockedRepollMs = BLOCKED_REPOLL_MS;
  // The position this worker last stored. Every move is a compare-and-set against it, so a
  // stale value (another process moved on) only costs one rolled-back batch and a re-read.
  let known: Position | undefined;

  const applyBatch = async (from: Position, rows: OutboxRow[], to: Position) => {
    try {
      await deps.db.transaction(async (tx) => {
        // The compare-and-set first: it also locks the position row, so a second worker of
        // this consumer waits here and then backs off before running any handler.
        if (!(await advancePosition(tx, spec.name, from, to))) throw new PositionMoved();
        await applyInTx(tx, spec, rows.map(toEnvelope));
      });
      known = to;
      deps.committed?.(loop);
    } catch (err) {
      known = undefined;
      throw err;
    }
  };

  const iteration = async (): Promise<Next> => {
    // Requested replays are looked for when the last read found nothing, not ahead of every
    // batch (the query's round trip delays it), unless a steady stream never leaves a gap.
    const sinceReplays = Date.now() - replaysAt;
    if ((lastReadEmpty && sinceReplays >= 250) || sinceReplays >= 5000) {
      replaysAt = Date.now();
      await processReplays(deps, spec);
    }
    const cached = known !== undefined;
    const from = known ?? (await loadPosition(deps.db, spec.name));
    const batch = await readBatch(deps.db, from, filter, limit);
    lastReadEmpty = batch.rows.length === 0;
    if (deps.trace && batch.rows.length > 0) deps.trace('read', batch.rows.map((r) => r.event_id), performance.now());
    blockedRepollMs = batch.rows.length > 0 ? BLOCKED_REPOLL_MS : Math.min(blockedRepollMs * 2, BLOCKED_REPOLL_MAX_MS);
    const quiet: Next = batch.blocked ? { inMs: blockedRepollMs, blocked: true } : 'idle';
    const { rows, head } = batch;
    const last = rows.at(-1);
    // Past the last wanted event: skip the unrelated tail so lag and housekeeping see progress.
    const end = rows.length < limit && head && (!last || after(head, positionOf(last))) ? head : last && positionOf(last);
    if (!last) {
      if (end && after(end, from)) known = (await advancePosition(deps.db, spec.name, from, end)) ? end : undefined;
      else if (cached && head && after(from, head)) {
        // The remembered position is past the server's whole outbox: this server forgot what
        // we last stored (a promoted standby lacks the primary's last local commits and hands
        // their transaction ids out again). Nothing would ever compare-and-set against the
        // stale memory until new transaction ids overtook it, so read the stored position now.
        known = undefined;
        return 'more';
      } else known = from;
      return quiet;
    }
    const now = Date.now();
    if (failing && failing.eventId === rows[0]?.event_id && failing.dueAt > now) return { inMs: failing.dueAt - now };

    try {
      if (!failing) {
        await applyBatch(from, rows, end ?? positionOf(last));
        countHandled(rows);
        return rows.length === limit ? 'more' : quiet;
      }
    } catch (err) {
      if (err instanceof PositionMoved) return 'more';
      // One event of the batch failed: go one by one to commit the good ones before it.
    }
    let pos = from;
    for (const row of rows) {
      const next = positionOf(row);
      try {
        await applyBatch(pos, [row], next);
        countHandled([row]);
        failing = undefined;
        pos = next;
      } catch (err) {
        if (err instanceof PositionMoved) return 'more';
        deps.metrics.handlerErrors.inc({ consumer: spec.name, type: row.type });
        const attempts = (failing?.eventId === row.event_id ? failing.attempts : 0) + 1;
        if (attempts >= maxAttempts) {
          const event = toEnvelope(row);
          known = undefined;
          failing = undefined;
          const moved = await deps.db.transaction(async (tx) => {
            if (!(await advancePosition(tx, spec.name, pos, next))) return false;
            await deadLetter(tx, spec.name, event, err, attempts);
            return true;
          });
          if (!moved) return 'more'; // another worker got past it first
          deps.metrics.deadLetters.inc({ consumer: spec.name, type: row.type });
          deps.logger.error({ err, consumer: spec.name, eventId: row.event_id, type: row.type, attempts }, 'event dead-lettered');
          failing = undefined;
          return 'more';
        }
        const delay = backoff(spec, attempts);
        failing = { eventId: row.event_id, attempts, dueAt: Date.now() + delay };
        deps.logger.warn({ err, consumer: spec.name, eventId: row.event_id, type: row.type, attempts, retryInMs: delay }, 'handler failed; will retry');
        return { inMs: delay };
      }
    }
    return 'more';
  };

  const countHandled = (rows: OutboxRow[]) => {
    deps.trace?.('handled', rows.map((r) => r.event_id), performance.now());
    const now = Date.now();
    for (const r of rows) {
      deps.metrics.handled.inc({ consumer: spec.name, type: r.type });
      deps.metrics.handleDelay.observe({ consumer: spec.name }, Math.max(0, now - r.occurred_at.getTime()) / 1000);
    }
  };

  const loop = wakeableLoop(`events-consumer:${spec.name}`, idleMs, deps.logger, iteration);
  return loop;
}
