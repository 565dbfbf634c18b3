import { randomBytes } from 'node:crypto';
import { appendEvents, createEventBus, type EventBus, type EventBusDeps } from '../../src/events/index.js';
import type { Database, Db } from '../../src/platform/db.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetrics } from '../../src/platform/metrics.js';

/** A context name unique to this run, so JetStream streams never collide between test files. */
export function uniqueContext(prefix = 't'): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

export function testBus(db: Database, overrides: Partial<EventBusDeps> = {}): EventBus {
  return createEventBus({ db, logger: createLogger('silent'), metrics: createMetrics(), pollMs: 50, ...overrides });
}

export async function waitFor(check: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Appends one event of `type` in its own transaction and returns its id. */
export async function publish(db: Db, type: string, payload: Record<string, unknown> = {}): Promise<string> {
  const [id] = await db.transaction((tx) =>
    appendEvents(tx, [{ type, version: 1, aggregateType: 'probe', aggregateId: typeof payload.n === 'number' ? String(payload.n) : 'x', payload }]),
  );
  return id ?? '';
}

export async function effectTable(db: Db, name: string): Promise<void> {
  await db.query(`CREATE TABLE IF NOT EXISTS ${name} (event_id uuid NOT NULL, n int, applied_at timestamptz DEFAULT now())`);
}
