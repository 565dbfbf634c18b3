import type { Db } from '../platform/db.js';
import { natsPositionName } from './consumer-nats.js';
import { durableName, streamName, type NatsLink } from './nats.js';

export interface DeadLetterView {
  id: number;
  consumer: string;
  eventId: string;
  type: string;
  error: string;
  attempts: number;
  status: 'dead' | 'requested' | 'replayed';
  failedAt: Date;
}

export async function listDeadLetters(db: Db, status?: DeadLetterView['status']): Promise<DeadLetterView[]> {
  const { rows } = await db.query<{
    id: number; consumer: string; event_id: string; type: string; error: string; attempts: number; status: DeadLetterView['status']; failed_at: Date;
  }>(
    `SELECT id, consumer, event_id, type, error, attempts, status, failed_at FROM events_dead_letters
      WHERE $1::text IS NULL OR status = $1 ORDER BY id`,
    [status ?? null],
  );
  return rows.map((r) => ({
    id: r.id, consumer: r.consumer, eventId: r.event_id, type: r.type,
    error: r.error.split('\n')[0] ?? '', attempts: r.attempts, status: r.status, failedAt: r.failed_at,
  }));
}

/**
 * Asks the dead letter's consumer to run it again (wherever that consumer runs: it picks the
 * request up on its next iteration). Returns false when there is no such dead letter.
 */
export async function requestReplay(db: Db, deadLetterId: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE events_dead_letters SET status = 'requested' WHERE id = $1 AND status <> 'replayed'`,
    [deadLetterId],
  );
  return rowCount === 1;
}

/**
 * Rebuilds a read model: forgets the consumer's position and inbox so it handles every event
 * still in the outbox again, from the start (the owner truncates its read model in the same
 * spirit, or its handler upserts). With NATS the durable JetStream consumers are deleted too,
 * so run it while that consumer is stopped. Returns the inbox rows removed.
 */
export async function rebuildConsumer(db: Db, consumer: string, link?: NatsLink): Promise<number> {
  const removed = await db.transaction(async (tx) => {
    await tx.query(`DELETE FROM events_positions WHERE consumer = $1 OR consumer = $2`, [consumer, natsPositionName(consumer)]);
    const { rowCount } = await tx.query(`DELETE FROM events_inbox WHERE consumer = $1`, [consumer]);
    return rowCount ?? 0;
  });
  if (link) {
    for await (const name of link.jsm.streams.names()) {
      if (!name.startsWith(streamName(''))) continue;
      for await (const info of link.jsm.consumers.list(name)) {
        const d = info.config.durable_name ?? '';
        if (d === durableName(consumer) || d.startsWith(durableName(`${consumer}__`))) await link.jsm.consumers.delete(name, d).catch(() => false);
      }
    }
  }
  return removed;
}
