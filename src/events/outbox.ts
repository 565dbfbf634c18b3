import { randomUUID } from 'node:crypto';
import { prepared, type Db } from '../platform/db.js';

/** An event as a context publishes it. `type` is `<context>.<name>`, e.g. `inventory.stock_changed`. */
export interface NewEvent<P = unknown> {
  type: string;
  version: number;
  aggregateType: string;
  aggregateId: string;
  payload: P;
  /** Defaults to a random UUID; pass one to make the append idempotent at a higher level. */
  id?: string;
  occurredAt?: Date;
}

/** An event as stored in the outbox and delivered to consumers. */
export interface EventEnvelope<P = unknown> {
  /** Outbox sequence number (unique, not commit-ordered). */
  seq: number;
  id: string;
  type: string;
  version: number;
  context: string;
  aggregateType: string;
  aggregateId: string;
  payload: P;
  occurredAt: Date;
}

/**
 * Appends events to the outbox. Call it with the same transaction handle as the change that
 * causes them, so the change and its events commit together or not at all.
 *
 * @example
 * await db.transaction(async (tx) => {
 *   await stock.reserve(tx, line);
 *   await appendEvents(tx, [{ type: 'inventory.stock_changed', version: 1,
 *     aggregateType: 'sku', aggregateId: line.sku, payload }]);
 * });
 */
const appendObservers = new Set<(types: readonly string[]) => void>();

/** Lets the bus count appended events per type without changing `appendEvents`' signature. */
export function observeAppends(observer: (types: readonly string[]) => void): () => void {
  appendObservers.add(observer);
  return () => appendObservers.delete(observer);
}

/** How `appendEvents` wakes the consumers. */
export interface AppendOptions {
  /**
   * false: no NOTIFY in this transaction; the caller wakes the consumers once it has committed,
   * with an `outboxWaker`. A NOTIFY takes a cluster-wide lock that its transaction holds until
   * its commit is flushed, so every notifying commit waits for the previous one's fsync
   * (measured here: 210 commits/s with a NOTIFY in the transaction, 1,190 without, 1,230 with
   * the wake-up after commit). Hot paths committing many transactions per second use the waker.
   */
  notify?: boolean;
}

const wakers = new WeakMap<Db, () => void>();

/** Least time between two wake-ups of one waker: a busy process sends at most ~50 a second. */
const WAKE_SPACING_MS = 20;

/**
 * Wakes the outbox consumers (every process LISTENing) after the caller's commit. Calls that
 * arrive while a wake-up is on its way, or within 20 ms of the last one, share the next one,
 * across every waker of `db` (each NOTIFY sends every listener to read the outbox, so a busy
 * process coalesces them: at most 20 ms more before a consumer hears of an event). The NOTIFY
 * commits asynchronously: it carries no data (a lost one costs at most the consumers'
 * fallback poll), so it does not wait for a flush while holding the notify lock.
 *
 * @example
 * const wake = outboxWaker(db);
 * await db.transaction((tx) => appendEvents(tx, events, { notify: false }));
 * wake();
 */
export function outboxWaker(db: Db): () => void {
  // One waker per database handle: every writer of the process shares its wake-ups.
  const shared = wakers.get(db);
  if (shared) return shared;
  let running = false;
  let again = false;
  let lastSentAt = -Infinity;
  const send = async () => {
    running = true;
    try {
      do {
        const wait = lastSentAt + WAKE_SPACING_MS - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        // Calls until now are covered by this NOTIFY: it is sent after their commits.
        again = false;
        lastSentAt = performance.now();
        await db.query(`SELECT set_config('synchronous_commit', 'off', true), pg_notify('embudo_outbox', '')`).catch(() => undefined);
      } while (again);
    } finally {
      running = false;
    }
  };
  const wake = () => {
    if (running) {
      again = true;
      return;
    }
    void send();
  };
  wakers.set(db, wake);
  return wake;
}

const NOTIFY = prepared(`SELECT pg_notify('embudo_outbox', '')`);

export async function appendEvents(tx: Db, events: readonly NewEvent[], options: AppendOptions = {}): Promise<string[]> {
  if (events.length === 0) return [];
  const insert = outboxInsert(events, 1);
  await tx.query(prepared(insert.sql), insert.params);
  // Wakes in-process consumers at commit (NOTIFY is delivered only if the transaction commits).
  if (options.notify !== false) await tx.query(NOTIFY);
  insert.appended();
  return insert.ids;
}

/**
 * `appendEvents`' INSERT as a statement of its own with its parameters numbered from
 * `$first`, for a hot path that folds its events into one statement with its other writes
 * (a data-modifying CTE: one round trip, atomic without a transaction). It does not NOTIFY:
 * wake the consumers with an `outboxWaker` after the statement; call `appended()` once it ran.
 *
 * @example
 * const ev = outboxInsert(events, 3);
 * await db.query(`WITH o AS (INSERT INTO orders ... $1, $2) ${ev.sql}`, [a, b, ...ev.params]);
 * ev.appended();
 * wake();
 */
export function outboxInsert(events: readonly NewEvent[], first: number): { sql: string; params: unknown[]; ids: string[]; appended(): void } {
  const ids = events.map((e) => e.id ?? randomUUID());
  const p = (i: number) => `$${first + i}`;
  return {
    sql: `INSERT INTO events_outbox (event_id, type, version, context, aggregate_type, aggregate_id, payload, occurred_at)
     SELECT * FROM unnest(${p(0)}::uuid[], ${p(1)}::text[], ${p(2)}::int[], ${p(3)}::text[], ${p(4)}::text[], ${p(5)}::text[], ${p(6)}::jsonb[], ${p(7)}::timestamptz[])`,
    params: [
      ids,
      events.map((e) => e.type),
      events.map((e) => e.version),
      events.map((e) => contextOf(e.type)),
      events.map((e) => e.aggregateType),
      events.map((e) => e.aggregateId),
      events.map((e) => JSON.stringify(e.payload)),
      events.map((e) => (e.occurredAt ?? new Date()).toISOString()),
    ],
    ids,
    appended() {
      if (appendObservers.size === 0) return;
      const types = events.map((e) => e.type);
      for (const observe of appendObservers) observe(types);
    },
  };
}

export function contextOf(type: string): string {
  const dot = type.indexOf('.');
  if (dot <= 0) throw new Error(`event type "${type}" must be <context>.<name>`);
  return type.slice(0, dot);
}
