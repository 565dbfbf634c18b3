import type { Db } from '../platform/db.js';

export interface ConsumerLag {
  consumer: string;
  /** Outbox events past the consumer's position (all types, so an upper bound for filtered consumers). */
  behind: number;
  /** Age in seconds of the oldest of them (0 when caught up). */
  oldestSeconds: number;
  deadLetters: number;
}

/** Each durable consumer's distance from the head of the outbox, for the BI operations view. */
export async function consumerLag(db: Db, now: Date): Promise<ConsumerLag[]> {
  const { rows } = await db.query<{ consumer: string; behind: string; oldest: Date | null; dead: string }>(
    `SELECT p.consumer,
            (SELECT count(*) FROM events_outbox o WHERE (o.tx_id, o.id) > (p.tx_id, p.event_seq)) AS behind,
            (SELECT min(o.occurred_at) FROM events_outbox o WHERE (o.tx_id, o.id) > (p.tx_id, p.event_seq)) AS oldest,
            (SELECT count(*) FROM events_dead_letters d WHERE d.consumer = p.consumer AND d.status <> 'replayed') AS dead
       FROM events_positions p ORDER BY p.consumer`,
  );
  return rows.map((r) => ({
    consumer: r.consumer,
    behind: Number(r.behind),
    oldestSeconds: r.oldest ? Math.max(0, Math.round((now.getTime() - r.oldest.getTime()) / 1000)) : 0,
    deadLetters: Number(r.dead),
  }));
}
