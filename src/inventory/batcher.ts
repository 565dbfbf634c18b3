import { randomUUID } from 'node:crypto';
import { appendEvents, outboxWaker, type NewEvent } from '../events/index.js';
import type { Clock } from '../platform/clock.js';
import { PgCode, pgErrorCode, type Db } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { allocate, levelBook, type LevelBook, type LevelState } from './domain/allocation.js';
import type { ReserveInput } from './domain/schemas.js';
import { inventoryError } from './errors.js';
import { AVAILABILITY_CHANNEL } from './events.js';
import { stockChangedEvent } from './ledger.js';
import type { Reservation } from './reservations.js';
import * as store from './store.js';
import type { LevelRow, NewReservation } from './store.js';

type ValidReserve = {
  lines: { sku: string; quantity: number; locationId?: string }[];
  ttlSeconds?: number;
  reference?: string;
};

interface Pending {
  input: ValidReserve;
  resolve(r: Reservation): void;
  reject(err: unknown): void;
}

export interface BatcherOptions {
  /** Default reservation time-to-live. */
  ttlSeconds: number;
  /** Most reservations applied in one transaction. */
  maxBatch: number;
  /** Batches in flight at once (they lock rows in one global order, so they cannot deadlock). */
  maxInFlight: number;
  /** Queue length beyond which reserve() fails fast with `inventory_overloaded`. */
  maxQueue: number;
  /** Called after each committed batch with its size (metrics). */
  onBatch?: (size: number) => void;
}

export interface BatchStats {
  batches: number;
  reservations: number;
  /** Batches planned again because the levels they were planned against had changed. */
  replans: number;
}

/** Batches in flight that may hold the same SKU (the one committing and the one behind it). */
const PIPELINE_DEPTH = 2;

/**
 * Group commit for reservations. Concurrent `reserve()` calls queue up; a batch takes every
 * queued request, locks the stock rows of all their SKUs once (in the global lock order),
 * allocates each request in arrival order against the running levels (each with its own
 * availability check, all or nothing per reservation, see domain/allocation.ts), writes every
 * successful reservation with its ledger rows, levels, events and availability notification
 * in one transaction, and answers each caller on its own once the batch commits.
 */
export function reservationBatcher(db: Db, clock: Clock, logger: Logger, options: BatcherOptions) {
  let queue: Pending[] = [];
  let inFlight = 0;
  const stats: BatchStats = { batches: 0, reservations: 0, replans: 0 };
  /** SKUs locked (or about to be) by batches in flight, with how many batches hold each. */
  const busy = new Map<string, number>();
  /**
   * What batches are planned against: each SKU's levels (allocation order) as the last planned
   * batch leaves them. Possibly stale (other writers, other processes): the write checks the
   * planned-from values under lock and hands back the current ones when they differ.
   */
  const plan = new Map<string, LevelState[]>();
  // Wakes the outbox consumers after a fast-path batch commits (its events carry no NOTIFY).
  const wake = outboxWaker(db);
  let pumpScheduled = false;
  // Pumps on the next turn of the event loop, so every request submitted in this turn (e.g.
  // callers answered by the previous batch coming straight back) joins the same batch.
  const schedulePump = () => {
    if (pumpScheduled) return;
    pumpScheduled = true;
    setImmediate(() => {
      pumpScheduled = false;
      pump();
    });
  };

  // Batches pipeline: while one batch holds a hot SKU's rows, the next is planned against the
  // levels the first leaves (the `plan`) and already waits on the row lock inside its single
  // statement, so it commits right behind the first instead of starting its round trips only
  // then. At most PIPELINE_DEPTH batches hold a SKU, so batches stay large (one lock
  // hold serves every waiting caller); disjoint SKUs overlap freely. A batch planned behind
  // one that fails finds the levels changed under lock and is planned again.
  const pump = () => {
    while (inFlight < options.maxInFlight && queue.length > 0) {
      const batch: Pending[] = [];
      const rest: Pending[] = [];
      for (const p of queue) {
        if (batch.length < options.maxBatch && p.input.lines.every((l) => (busy.get(l.sku) ?? 0) < PIPELINE_DEPTH)) batch.push(p);
        else rest.push(p);
      }
      if (batch.length === 0) return;
      queue = rest;
      const skus = [...new Set(batch.flatMap((p) => p.input.lines.map((l) => l.sku)))];
      for (const sku of skus) busy.set(sku, (busy.get(sku) ?? 0) + 1);
      inFlight += 1;
      void runPlanned(batch, skus).finally(() => {
        for (const sku of skus) {
          const n = (busy.get(sku) ?? 1) - 1;
          if (n === 0) busy.delete(sku);
          else busy.set(sku, n);
        }
        inFlight -= 1;
        schedulePump();
      });
    }
  };

  const errorFor = (p: Pending, result: Exclude<ReturnType<typeof allocate>, { ok: true }>, known: Set<string>): Error => {
    switch (result.reason) {
      case 'unknown_sku':
        // Known to inventory but never stocked anywhere: simply none available.
        return known.has(result.sku)
          ? inventoryError('insufficient_stock', `not enough ${result.sku}`, {
              sku: result.sku,
              requested: p.input.lines.find((l) => l.sku === result.sku)?.quantity ?? 0,
              available: 0,
            })
          : inventoryError('unknown_sku', `unknown SKU ${result.sku}`, { sku: result.sku });
      case 'insufficient_stock':
        return inventoryError('insufficient_stock', `only ${result.available} of ${result.sku} available`, {
          sku: result.sku,
          requested: result.requested,
          available: result.available,
        });
    }
  };

  const setPlan = (skus: readonly string[], levels: readonly LevelState[]) => {
    if (plan.size > 100_000) plan.clear();
    const book = levelBook(levels);
    for (const sku of skus) plan.set(sku, book.get(sku) ?? []);
  };

  /**
   * The fast path: plan in memory against `plan` (no lock, no read when the SKUs are known),
   * then one statement (no BEGIN/COMMIT round trips) locks the rows late, checks they still
   * hold the planned-from values and writes everything with the events; the locks are held
   * for that statement only. When the check fails it writes nothing and the batch is planned
   * again against the current values the check returned; after a few misses (a SKU other
   * writers keep changing) it takes the lock-first path.
   */
  async function runPlanned(batch: Pending[], skus: string[], attempt = 1): Promise<void> {
    if (attempt > 3) {
      for (const sku of skus) plan.delete(sku);
      return runBatch(batch);
    }
    const now = clock.now();
    try {
      const missing = skus.filter((s) => !plan.has(s));
      if (missing.length > 0) setPlan(missing, await store.readSkuLevels(db, missing));
      const book: LevelBook = new Map(skus.map((s) => [s, plan.get(s) ?? []]));
      const plannedFrom = [...book.values()].flat().map((l) => ({ ...l }));
      const asked = [...new Set(batch.flatMap((p) => p.input.lines.flatMap((l) => (l.locationId === undefined ? [] : [l.locationId]))))];
      const stocked = new Set(plannedFrom.map((l) => l.locationId));
      const unseen = asked.filter((id) => !stocked.has(id));
      const locations = unseen.length > 0 ? await store.locationExists(db, unseen) : new Set<string>();

      const answers: (() => void)[] = [];
      const reservations: NewReservation[] = [];
      const events: NewEvent[] = [];
      const deltas = new Map<LevelState, number>();
      const failed: { p: Pending; result: Exclude<ReturnType<typeof allocate>, { ok: true }> }[] = [];
      for (const p of batch) {
        const badLocation = p.input.lines.find((l) => l.locationId !== undefined && !stocked.has(l.locationId) && !locations.has(l.locationId));
        if (badLocation) {
          const err = inventoryError('unknown_location', `no location ${badLocation.locationId}`, { locationId: badLocation.locationId });
          answers.push(() => p.reject(err));
          continue;
        }
        const result = allocate(book, p.input.lines);
        if (!result.ok) {
          failed.push({ p, result });
          continue;
        }
        const id = randomUUID();
        const expiresAt = new Date(now.getTime() + (p.input.ttlSeconds ?? options.ttlSeconds) * 1000);
        reservations.push({ id, reference: p.input.reference ?? null, expiresAt, lines: result.allocations });
        for (const a of result.allocations) {
          const level = book.get(a.sku)?.find((l) => l.locationId === a.locationId) as LevelState;
          deltas.set(level, (deltas.get(level) ?? 0) + a.quantity);
        }
        const reservation = activeReservation(id, expiresAt, p.input.reference, result.allocations);
        answers.push(() => p.resolve(reservation));
      }
      const unknown = [...new Set(failed.filter((f) => f.result.reason === 'unknown_sku').map((f) => f.result.sku))];
      const known = unknown.length > 0 ? await store.knownSkus(db, unknown) : new Set<string>();
      for (const f of failed) {
        const err = errorFor(f.p, f.result, known);
        answers.push(() => f.p.reject(err));
      }

      // One stock_changed event per level the batch changed, with the level after the batch
      // (the transaction is the unit of change, as in applyMovements).
      for (const l of deltas.keys()) events.push(stockChangedEvent({ sku: l.sku, locationId: l.locationId, onHand: l.onHand, reserved: l.reserved, version: 0 }, now));
      // One statement, atomic on its own: the batch with its events (appended under the row
      // locks, so a SKU's events take outbox ids in its commit order even when the next batch
      // is already waiting on the same rows), or, on a stale plan, nothing written and the
      // current levels to plan again from. The consumers are woken after it commits.
      const current = await store.applyReservationBatch(db, {
        skus,
        plannedFrom,
        deltas: [...deltas].map(([l, delta]) => ({ sku: l.sku, locationId: l.locationId, delta })),
        reservations,
        now,
        channel: AVAILABILITY_CHANNEL,
        events,
      });
      if (!current && events.length > 0) wake();
      if (current) {
        stats.replans += 1;
        setPlan(skus, current);
        return runPlanned(batch, skus, attempt + 1);
      }
      stats.batches += 1;
      stats.reservations += batch.length;
      options.onBatch?.(batch.length);
      for (const answer of answers) answer();
    } catch (err) {
      for (const sku of skus) plan.delete(sku);
      const code = pgErrorCode(err);
      if ((code === PgCode.deadlockDetected || code === PgCode.serializationFailure) && attempt < 3) {
        return runPlanned(batch, skus, attempt + 1);
      }
      logger.error({ err, size: batch.length }, 'reservation batch failed');
      for (const p of batch) p.reject(err);
    }
  }

  /** The lock-first path: locks the batch's rows, then plans and writes under the lock. */
  async function runBatch(batch: Pending[], attempt = 1): Promise<void> {
    const now = clock.now();
    const answers: ((() => void) | undefined)[] = new Array<undefined>(batch.length);
    try {
      await db.transaction(async (tx) => {
        answers.fill(undefined);
        const skus = [...new Set(batch.flatMap((p) => p.input.lines.map((l) => l.sku)))].sort();
        const locked = await store.lockSkus(tx, skus);
        const book = levelBook(locked.map((l): LevelState => ({ ...l })));
        const byKey = new Map<string, LevelState>();
        for (const list of book.values()) for (const l of list) byKey.set(`${l.sku}\u0000${l.locationId}`, l);
        const missing = skus.filter((s) => !book.has(s));
        const known = missing.length > 0 ? await store.knownSkus(tx, missing) : new Set<string>();
        const lockedLocations = new Set(locked.map((l) => l.locationId));
        const asked = [...new Set(batch.flatMap((p) => p.input.lines.flatMap((l) => (l.locationId === undefined ? [] : [l.locationId]))))];
        const unseen = asked.filter((id) => !lockedLocations.has(id));
        const locations = unseen.length > 0 ? await store.locationExists(tx, unseen) : new Set<string>();
        const unknownLocation = (p: Pending) =>
          p.input.lines.find((l) => l.locationId !== undefined && !lockedLocations.has(l.locationId) && !locations.has(l.locationId));

        const reservations: NewReservation[] = [];
        const events: NewEvent[] = [];
        const touched = new Set<LevelState>();
        batch.forEach((p, i) => {
          const badLocation = unknownLocation(p);
          if (badLocation) {
            const err = inventoryError('unknown_location', `no location ${badLocation.locationId}`, { locationId: badLocation.locationId });
            answers[i] = () => p.reject(err);
            return;
          }
          const result = allocate(book, p.input.lines);
          if (!result.ok) {
            let err: Error;
            switch (result.reason) {
              case 'unknown_sku':
                // Known to inventory but never stocked anywhere: simply none available.
                err = known.has(result.sku)
                  ? inventoryError('insufficient_stock', `not enough ${result.sku}`, {
                      sku: result.sku,
                      requested: p.input.lines.find((l) => l.sku === result.sku)?.quantity ?? 0,
                      available: 0,
                    })
                  : inventoryError('unknown_sku', `unknown SKU ${result.sku}`, { sku: result.sku });
                break;
              case 'insufficient_stock':
                err = inventoryError('insufficient_stock', `only ${result.available} of ${result.sku} available`, {
                  sku: result.sku,
                  requested: result.requested,
                  available: result.available,
                });
                break;
            }
            answers[i] = () => p.reject(err);
            return;
          }
          const id = randomUUID();
          const expiresAt = new Date(now.getTime() + (p.input.ttlSeconds ?? options.ttlSeconds) * 1000);
          reservations.push({ id, reference: p.input.reference ?? null, expiresAt, lines: result.allocations });
          for (const a of result.allocations) touched.add(byKey.get(`${a.sku}\u0000${a.locationId}`) as LevelState);
          const reservation = activeReservation(id, expiresAt, p.input.reference, result.allocations);
          answers[i] = () => p.resolve(reservation);
        });

        if (reservations.length > 0) {
          // One stock_changed event per level the batch changed, with the level after it.
          for (const l of touched) events.push(stockChangedEvent({ sku: l.sku, locationId: l.locationId, onHand: l.onHand, reserved: l.reserved, version: 0 }, now));
          const versions = new Map(locked.map((l) => [`${l.sku}\u0000${l.locationId}`, l.version]));
          const levels: LevelRow[] = [...touched].map((l) => ({
            sku: l.sku,
            locationId: l.locationId,
            onHand: l.onHand,
            reserved: l.reserved,
            version: (versions.get(`${l.sku}\u0000${l.locationId}`) ?? 0) + 1,
          }));
          await store.writeReservationBatch(tx, reservations, levels, now, AVAILABILITY_CHANNEL);
          await appendEvents(tx, events);
        }
      });
      stats.batches += 1;
      stats.reservations += batch.length;
      options.onBatch?.(batch.length);
    } catch (err) {
      // Lock order makes deadlocks impossible among our writers; retry anyway if the server
      // reports one (or a serialization failure), since nothing of the batch was applied.
      const code = pgErrorCode(err);
      if ((code === PgCode.deadlockDetected || code === PgCode.serializationFailure) && attempt < 3) {
        return runBatch(batch, attempt + 1);
      }
      logger.error({ err, size: batch.length }, 'reservation batch failed');
      for (const p of batch) p.reject(err);
      return;
    }
    for (const answer of answers) answer?.();
  }

  return {
    stats,
    /** Queues one validated reservation request; resolves once its batch has committed. */
    submit(input: ValidReserve): Promise<Reservation> {
      if (queue.length >= options.maxQueue) {
        return Promise.reject(inventoryError('inventory_overloaded', 'too many reservations waiting; retry shortly'));
      }
      return new Promise<Reservation>((resolve, reject) => {
        queue.push({ input, resolve, reject });
        schedulePump();
      });
    },
    /** Resolves when no batch is queued or running. */
    async drain(): Promise<void> {
      while (queue.length > 0 || inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    },
  };
}

export type { ReserveInput };

/** The answer for a reservation a batch has just written (both reserve paths). */
function activeReservation(id: string, expiresAt: Reservation['expiresAt'], reference: string | undefined, allocations: Reservation['allocations']): Reservation {
  return { id, status: 'active', expiresAt, ...(reference !== undefined ? { reference } : {}), allocations };
}
