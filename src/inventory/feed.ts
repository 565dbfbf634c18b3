import type pg from 'pg';
import type { Database } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { AVAILABILITY_CHANNEL } from './events.js';
import * as store from './store.js';

export interface AvailabilityUpdate {
  sku: string;
  available: number;
}

type Listener = (update: AvailabilityUpdate) => void;

/**
 * Live availability per SKU for this process. One dedicated connection LISTENs on the
 * inventory channel (notified in the same transaction as each change, so only committed
 * changes arrive); updates fan out in-process to every subscriber of the SKU. Each level
 * carries a version, so a snapshot read and a notification can arrive in any order and the
 * newest value wins.
 */
export function availabilityFeed(db: Database, logger: Logger) {
  const listeners = new Map<string, Set<Listener>>();
  /** sku → locationId → [available, version] */
  const levels = new Map<string, Map<string, [number, number]>>();
  let client: pg.PoolClient | undefined;
  let connecting: Promise<void> | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const total = (sku: string) => {
    let sum = 0;
    for (const [available] of levels.get(sku)?.values() ?? []) sum += available;
    return sum;
  };

  /** Merges one level; returns true when it was newer than what we had. */
  const merge = (sku: string, locationId: string, available: number, version: number): boolean => {
    const perSku = levels.get(sku);
    if (!perSku) return false;
    const known = perSku.get(locationId);
    if (known && known[1] >= version) return false;
    perSku.set(locationId, [available, version]);
    return true;
  };

  const emit = (sku: string) => {
    const update = { sku, available: Math.max(0, total(sku)) };
    for (const l of listeners.get(sku) ?? []) l(update);
  };

  const onNotification = (msg: pg.Notification) => {
    if (msg.channel !== AVAILABILITY_CHANNEL || !msg.payload) return;
    let items: unknown;
    try {
      items = JSON.parse(msg.payload);
    } catch {
      return;
    }
    if (!Array.isArray(items)) return;
    const changed = new Set<string>();
    for (const item of items as unknown[]) {
      if (!Array.isArray(item) || item.length !== 4) continue;
      const [sku, locationId, available, version] = item as [string, string, number, number];
      if (merge(sku, locationId, available, version)) changed.add(sku);
    }
    for (const sku of changed) emit(sku);
  };

  /** Connections given back to the pool (each exactly once: on its error, or by close()). */
  const returned = new WeakSet<object>();

  async function connect(): Promise<void> {
    const c = await db.connect();
    c.on('notification', onNotification);
    c.on('error', (err) => {
      // Once close() gave the connection back, the pool owns it and its errors.
      if (returned.has(c)) return;
      returned.add(c);
      logger.warn({ err }, 'availability feed connection lost; reconnecting');
      c.removeListener('notification', onNotification);
      c.release(true);
      if (client === c) client = undefined;
      scheduleReconnect();
    });
    await c.query(`LISTEN ${AVAILABILITY_CHANNEL}`);
    client = c;
    // Anything missed while disconnected is recovered from a fresh snapshot.
    if (levels.size > 0) await refresh([...levels.keys()]);
  }

  function scheduleReconnect() {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      ensureListening().catch((err: unknown) => {
        logger.warn({ err }, 'availability feed reconnect failed');
        scheduleReconnect();
      });
    }, 1000);
  }

  function ensureListening(): Promise<void> {
    if (client) return Promise.resolve();
    connecting ??= connect().finally(() => {
      connecting = undefined;
    });
    return connecting;
  }

  async function refresh(skus: string[]): Promise<void> {
    const rows = await store.availabilityRows(db, skus);
    const changed = new Set<string>();
    for (const r of rows) if (merge(r.sku, r.locationId, r.onHand - r.reserved, r.version)) changed.add(r.sku);
    for (const sku of changed) emit(sku);
  }

  return {
    /**
     * Subscribes to the given SKUs: `listener` gets the current availability of each SKU at
     * once, then every change. Returns the unsubscribe function.
     */
    async subscribe(skus: readonly string[], listener: Listener): Promise<() => void> {
      const unique = [...new Set(skus)];
      for (const sku of unique) {
        if (!levels.has(sku)) levels.set(sku, new Map());
        let set = listeners.get(sku);
        if (!set) listeners.set(sku, (set = new Set()));
        set.add(listener);
      }
      const unsubscribe = () => {
        for (const sku of unique) {
          const set = listeners.get(sku);
          set?.delete(listener);
          if (set && set.size === 0) {
            listeners.delete(sku);
            levels.delete(sku);
          }
        }
      };
      try {
        await ensureListening();
        await refresh(unique);
      } catch (err) {
        unsubscribe();
        throw err;
      }
      for (const sku of unique) listener({ sku, available: Math.max(0, total(sku)) });
      return unsubscribe;
    },
    subscribers: () => [...listeners.values()].reduce((n, s) => n + s.size, 0),
    async close(): Promise<void> {
      closed = true;
      clearTimeout(retry);
      await connecting?.catch(() => undefined);
      const c = client;
      client = undefined;
      if (c) {
        c.removeListener('notification', onNotification);
        await c.query(`UNLISTEN ${AVAILABILITY_CHANNEL}`).catch(() => undefined);
        if (!returned.has(c)) {
          returned.add(c);
          c.release();
        }
      }
    },
  };
}

export type AvailabilityFeed = ReturnType<typeof availabilityFeed>;
