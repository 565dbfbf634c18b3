import { z } from 'zod';
import type { Clock } from '../platform/clock.js';
import type { Db } from '../platform/db.js';
import { inventoryError } from './errors.js';
import { applyMovements } from './ledger.js';
import * as store from './store.js';
import type { MovementKind, ReservationRow, ReservationStatus } from './store.js';

/** A reservation as callers see it (contract with checkout). */
export interface Reservation {
  id: string;
  status: ReservationStatus;
  expiresAt: Date;
  reference?: string;
  allocations: { sku: string; locationId: string; quantity: number }[];
}

const Uuid = z.string().uuid();

const SETTLE_KIND: Record<Exclude<ReservationStatus, 'active'>, MovementKind> = {
  committed: 'sale',
  released: 'release',
  expired: 'expiry',
};

/**
 * Moves active reservations to a final state in `tx`: a sale takes the units off hand and out
 * of reserved; a release or an expiry gives them back to available.
 */
async function settle(tx: Db, rows: readonly ReservationRow[], status: Exclude<ReservationStatus, 'active'>, reason: string | null, now: Date) {
  if (rows.length === 0) return;
  const ids = rows.map((r) => r.id);
  const lines = await store.reservationLines(tx, ids);
  const kind = SETTLE_KIND[status];
  await applyMovements(
    tx,
    lines.map((l) => ({
      sku: l.sku,
      locationId: l.locationId,
      kind,
      onHandDelta: status === 'committed' ? -l.quantity : 0,
      reservedDelta: -l.quantity,
      reservationId: l.reservationId,
      ...(reason ? { reason } : {}),
    })),
    now,
  );
  await store.finishReservations(tx, ids, status, reason, now);
}

export function reservationService(db: Db, clock: Clock) {
  async function view(id: string, tx: Db = db): Promise<Reservation> {
    const row = Uuid.safeParse(id).success ? await store.findReservation(tx, id) : undefined;
    if (!row) throw inventoryError('reservation_not_found', `no reservation ${id}`, { reservationId: id });
    const lines = await store.reservationLines(tx, [id]);
    return {
      id: row.id,
      status: row.status,
      expiresAt: row.expiresAt,
      ...(row.reference !== null ? { reference: row.reference } : {}),
      allocations: lines.map((l) => ({ sku: l.sku, locationId: l.locationId, quantity: l.quantity })),
    };
  }

  async function lockOne(tx: Db, id: string): Promise<ReservationRow> {
    const [row] = Uuid.safeParse(id).success ? await store.lockReservations(tx, [id]) : [];
    if (!row) throw inventoryError('reservation_not_found', `no reservation ${id}`, { reservationId: id });
    return row;
  }

  return {
    get: (id: string) => view(id),

    /**
     * Turns the reservation into a sale. Idempotent: committing a committed one returns it.
     * A reservation past its expiry is expired here (if the sweeper has not yet) and the call
     * fails with `reservation_expired`: a late payment never oversells.
     */
    async commit(id: string): Promise<Reservation> {
      const now = clock.now();
      const outcome = await db.transaction(async (tx) => {
        const row = await lockOne(tx, id);
        switch (row.status) {
          case 'committed':
            return 'ok' as const;
          case 'released':
            throw inventoryError('reservation_released', `reservation ${id} was released`, { reservationId: id });
          case 'expired':
            return 'expired' as const;
          case 'active':
            if (row.expiresAt.getTime() <= now.getTime()) {
              await settle(tx, [row], 'expired', 'expired before commit', now);
              return 'expired' as const;
            }
            await settle(tx, [row], 'committed', null, now);
            return 'ok' as const;
        }
      });
      if (outcome === 'expired') {
        throw inventoryError('reservation_expired', `reservation ${id} expired before it was committed`, { reservationId: id });
      }
      return view(id);
    },

    /**
     * Gives the units back. Idempotent: releasing a released or expired reservation returns it
     * unchanged; a committed one (a sale) cannot be released: `reservation_committed`.
     */
    async release(id: string, reason?: string): Promise<Reservation> {
      const now = clock.now();
      await db.transaction(async (tx) => {
        const row = await lockOne(tx, id);
        switch (row.status) {
          case 'committed':
            throw inventoryError('reservation_committed', `reservation ${id} is already a sale`, { reservationId: id });
          case 'released':
          case 'expired':
            return;
          case 'active':
            await settle(tx, [row], 'released', reason?.slice(0, 500) ?? null, now);
        }
      });
      return view(id);
    },

    /**
     * Keeps an active reservation for at least `ttlSeconds` from now (never shortens it), e.g.
     * while an order waits for a fraud review. A reservation that is no longer active fails
     * with its status (`reservation_expired`, `reservation_released`, `reservation_committed`).
     */
    async extend(id: string, ttlSeconds: number): Promise<Reservation> {
      if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) throw inventoryError('invalid_inventory_input', 'ttlSeconds must be a positive integer');
      const now = clock.now();
      await db.transaction(async (tx) => {
        const row = await lockOne(tx, id);
        if (row.status === 'active' && row.expiresAt.getTime() <= now.getTime()) {
          throw inventoryError('reservation_expired', `reservation ${id} expired`, { reservationId: id });
        }
        switch (row.status) {
          case 'committed':
            throw inventoryError('reservation_committed', `reservation ${id} is already a sale`, { reservationId: id });
          case 'released':
            throw inventoryError('reservation_released', `reservation ${id} was released`, { reservationId: id });
          case 'expired':
            throw inventoryError('reservation_expired', `reservation ${id} expired`, { reservationId: id });
          case 'active':
            await tx.query('UPDATE inventory_reservations SET expires_at = greatest(expires_at, $2) WHERE id = $1', [id, new Date(now.getTime() + ttlSeconds * 1000)]);
        }
      });
      return view(id);
    },

    /**
     * Expires up to `limit` due reservations in one transaction. Rows another sweeper (or a
     * commit/release) holds are skipped, so several processes may sweep at once and each
     * reservation is expired exactly once. Returns how many it expired.
     */
    async expireDue(limit = 200): Promise<number> {
      const now = clock.now();
      return db.transaction(async (tx) => {
        const due = await store.lockDueReservations(tx, now, limit);
        await settle(tx, due, 'expired', 'ttl elapsed', now);
        return due.length;
      });
    },
  };
}

export type ReservationService = ReturnType<typeof reservationService>;
