import type { Db } from '../platform/db.js';

/** What the on-call view needs from payments: stuck attempts, janitor backlog, webhook trouble. */
export interface PaymentsOperations {
  /** Attempts whose latest state is still pending/unknown/redirect, by age bucket. */
  pendingByAge: { bucket: '<5m' | '5m-1h' | '1h-24h' | '>24h'; count: number; amount: number }[];
  janitor: { scheduled: number; due: number; givingUpWithin24h: number };
  /** Notifications received but not processed after a minute, and processed without a matching attempt. */
  webhooks: { received24h: number; unprocessed: number; unmatched24h: number };
}

/** Read-only snapshot for the BI operations dashboard (cheap: indexed, bounded scans). */
export async function paymentsOperations(db: Db, now: Date): Promise<PaymentsOperations> {
  const pending = await db.query<{ bucket: PaymentsOperations['pendingByAge'][number]['bucket']; n: string; amount: string }>(
    `WITH latest AS (
       SELECT DISTINCT ON (e.attempt_id) e.attempt_id, e.status, a.amount, a.created_at
         FROM payment_attempt_events e JOIN payment_attempts a ON a.id = e.attempt_id
        ORDER BY e.attempt_id, e.id DESC)
     SELECT CASE WHEN $1::timestamptz - created_at < interval '5 minutes' THEN '<5m'
                 WHEN $1::timestamptz - created_at < interval '1 hour' THEN '5m-1h'
                 WHEN $1::timestamptz - created_at < interval '24 hours' THEN '1h-24h' ELSE '>24h' END AS bucket,
            count(*) AS n, coalesce(sum(amount), 0) AS amount
       FROM latest WHERE status IN ('created', 'redirect', 'unknown', 'pending', 'review') GROUP BY 1`,
    [now],
  );
  const buckets = ['<5m', '5m-1h', '1h-24h', '>24h'] as const;
  const pendingByAge = buckets.map((bucket) => {
    const r = pending.rows.find((x) => x.bucket === bucket);
    return { bucket, count: Number(r?.n ?? 0), amount: Number(r?.amount ?? 0) };
  });
  const j = await db.query<{ scheduled: string; due: string; giving_up: string }>(
    `SELECT count(*) AS scheduled, count(*) FILTER (WHERE next_check_at <= $1) AS due,
            count(*) FILTER (WHERE give_up_at <= $1::timestamptz + interval '24 hours') AS giving_up
       FROM payment_janitor_schedule`, [now]);
  const w = await db.query<{ received: string; unprocessed: string; unmatched: string }>(
    `SELECT count(*) FILTER (WHERE n.received_at > $1::timestamptz - interval '24 hours') AS received,
            count(*) FILTER (WHERE p.notification_id IS NULL AND n.received_at < $1::timestamptz - interval '1 minute') AS unprocessed,
            count(*) FILTER (WHERE p.result = 'no_matching_attempt' AND n.received_at > $1::timestamptz - interval '24 hours') AS unmatched
       FROM payment_notifications n LEFT JOIN payment_notifications_processed p USING (provider, notification_id)`, [now]);
  return {
    pendingByAge,
    janitor: { scheduled: Number(j.rows[0]?.scheduled ?? 0), due: Number(j.rows[0]?.due ?? 0), givingUpWithin24h: Number(j.rows[0]?.giving_up ?? 0) },
    webhooks: { received24h: Number(w.rows[0]?.received ?? 0), unprocessed: Number(w.rows[0]?.unprocessed ?? 0), unmatched24h: Number(w.rows[0]?.unmatched ?? 0) },
  };
}
