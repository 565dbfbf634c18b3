import type { EventEnvelope } from '../../src/events/index.js';
import type { Database, Db } from '../../src/platform/db.js';

/**
 * A minimal consumer over the outbox with an inbox table (stands in for the event bus's
 * durable consumer). Outbox ids are not commit-ordered, so it re-scans a window behind the
 * highest id it has seen and skips what the inbox already holds.
 */
export function dispatchPaymentEvents(db: Database, handle: (tx: Db, e: EventEnvelope) => Promise<void>) {
  let high = 0;
  let stopped = false;
  const ready = db.query('CREATE TABLE IF NOT EXISTS bench_inbox (event_id uuid PRIMARY KEY)');
  const tick = async (from: number): Promise<number> => {
    await ready;
    const { rows } = await db.query<{ id: number; event_id: string; type: string; version: number; context: string; aggregate_type: string; aggregate_id: string; payload: unknown; occurred_at: Date }>(
      `SELECT * FROM events_outbox o WHERE id > $1 AND type LIKE 'payments.%'
         AND NOT EXISTS (SELECT 1 FROM bench_inbox i WHERE i.event_id = o.event_id) ORDER BY id LIMIT 500`, [from]);
    for (const r of rows) {
      await db.transaction(async (tx) => {
        const { rowCount } = await tx.query('INSERT INTO bench_inbox VALUES ($1) ON CONFLICT DO NOTHING', [r.event_id]);
        if (rowCount === 0) return;
        await handle(tx, {
          seq: r.id, id: r.event_id, type: r.type, version: r.version, context: r.context, aggregateType: r.aggregate_type,
          aggregateId: r.aggregate_id, payload: r.payload, occurredAt: r.occurred_at,
        });
      });
      high = Math.max(high, r.id);
    }
    return rows.length;
  };
  const loop = (async () => {
    while (!stopped) if ((await tick(Math.max(0, high - 20_000))) === 0) await new Promise((r) => setTimeout(r, 20));
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
    async drain() {
      while ((await tick(0)) > 0);
    },
  };
}
