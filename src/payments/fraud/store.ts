import type { Db } from '../../platform/db.js';
import type { Decision, RuleSet } from './rules.js';

/** Counters are kept per 10-minute bucket: windows are whole buckets ("1h" = the last 6). */
export const BUCKET_MS = 10 * 60_000;
export const bucketOf = (t: Date): Date => new Date(Math.floor(t.getTime() / BUCKET_MS) * BUCKET_MS);

export async function latestRuleSet(db: Db): Promise<{ version: number; ruleSet: RuleSet; createdAt: Date; createdBy: string; note: string | null } | undefined> {
  const { rows } = await db.query<{ version: number; rule_set: RuleSet; created_at: Date; created_by: string; note: string | null }>(
    'SELECT version, rule_set, created_at, created_by, note FROM fraud_rule_versions ORDER BY version DESC LIMIT 1',
  );
  const r = rows[0];
  return r ? { version: r.version, ruleSet: r.rule_set, createdAt: r.created_at, createdBy: r.created_by, note: r.note } : undefined;
}

export async function ruleVersions(db: Db, limit: number): Promise<{ version: number; createdAt: Date; createdBy: string; note: string | null; rules: number }[]> {
  const { rows } = await db.query<{ version: number; created_at: Date; created_by: string; note: string | null; rules: number }>(
    `SELECT version, created_at, created_by, note, jsonb_array_length(rule_set->'rules') AS rules
       FROM fraud_rule_versions ORDER BY version DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ version: r.version, createdAt: r.created_at, createdBy: r.created_by, note: r.note, rules: r.rules }));
}

/** Appends the next version (a concurrent edit loses on the primary key and is retried by the caller). */
export async function insertRuleVersion(tx: Db, v: { ruleSet: RuleSet; createdBy: string; note?: string | undefined; at: Date }): Promise<number> {
  const { rows } = await tx.query<{ version: number }>(
    `INSERT INTO fraud_rule_versions (version, rule_set, created_by, note, created_at)
     SELECT coalesce(max(version), 0) + 1, $1, $2, $3, $4 FROM fraud_rule_versions
     RETURNING version`,
    [JSON.stringify(v.ruleSet), v.createdBy, v.note ?? null, v.at],
  );
  return (rows[0] as { version: number }).version;
}

export interface CounterSums {
  attempts_1h: number; attempts_24h: number;
  declines_1h: number; declines_24h: number;
  small_declines_1h: number; small_declines_24h: number;
  amount_1h: number; amount_24h: number;
}

export interface RawFeatures {
  counters: Map<string, CounterSums>;
  profile: { approvedOrders: number; approvedAmount: number; maxAmount: number } | undefined;
  cardRegions: string[];
}

/**
 * Everything a decision reads, in one round trip over primary-key ranges: the entities'
 * counters of the last 24 h, the customer's profile and the card's usual regiones.
 */
export async function readFeatures(db: Db, q: { entities: string[]; customerId: string; card: string | null; now: Date }): Promise<RawFeatures> {
  const current = bucketOf(q.now).getTime();
  const from1h = new Date(current - 5 * BUCKET_MS);
  const from24h = new Date(current - 143 * BUCKET_MS);
  const { rows } = await db.query<{ counters: (CounterSums & { entity: string })[] | null; profile: { approved_orders: number; approved_amount: string; max_amount: string } | null; regions: string[] | null }>(
    `SELECT
       (SELECT json_agg(c) FROM (
          SELECT entity,
                 coalesce(sum(attempts) FILTER (WHERE bucket >= $2), 0)::int AS attempts_1h, sum(attempts)::int AS attempts_24h,
                 coalesce(sum(declines) FILTER (WHERE bucket >= $2), 0)::int AS declines_1h, sum(declines)::int AS declines_24h,
                 coalesce(sum(small_declines) FILTER (WHERE bucket >= $2), 0)::int AS small_declines_1h, sum(small_declines)::int AS small_declines_24h,
                 coalesce(sum(amount) FILTER (WHERE bucket >= $2), 0)::float8 AS amount_1h, sum(amount)::float8 AS amount_24h
            FROM fraud_counters WHERE entity = ANY($1::text[]) AND bucket >= $3 GROUP BY entity) c) AS counters,
       (SELECT row_to_json(p) FROM (SELECT approved_orders, approved_amount, max_amount FROM fraud_customer_profiles WHERE customer_id = $4) p) AS profile,
       (SELECT array_agg(region) FROM fraud_card_regions WHERE card = $5) AS regions`,
    [q.entities, from1h, from24h, q.customerId, q.card],
  );
  const r = rows[0];
  const counters = new Map<string, CounterSums>();
  for (const c of r?.counters ?? []) counters.set(c.entity, c);
  return {
    counters,
    profile: r?.profile
      ? { approvedOrders: r.profile.approved_orders, approvedAmount: Number(r.profile.approved_amount), maxAmount: Number(r.profile.max_amount) }
      : undefined,
    cardRegions: r?.regions ?? [],
  };
}

export interface DecisionRow {
  id: string;
  orderId: string;
  attemptId: string | null;
  customerId: string;
  amount: number;
  currency: string;
  method: string;
  decision: Decision;
  score: number;
  reasons: string[];
  ruleVersion: number;
  entities: string[];
  region: string | null;
  inputs: Record<string, unknown>;
  durationUs: number;
  decidedAt: Date;
}

/**
 * Records a decision and counts the attempt (and its amount) for every entity, in one
 * statement. Entities are upserted in key order so concurrent decisions never deadlock.
 */
export async function recordDecision(tx: Db, d: DecisionRow, countAttempt: boolean): Promise<void> {
  await tx.query(
    `WITH d AS (
       INSERT INTO fraud_decisions (id, order_id, attempt_id, customer_id, amount, currency, method, decision, score, reasons,
                                    rule_version, entities, region, inputs, duration_us, decided_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16))
     INSERT INTO fraud_counters AS c (entity, bucket, attempts, amount)
     SELECT e, $17, 1, $5 FROM unnest($12::text[]) AS e WHERE $18 ORDER BY e
     ON CONFLICT (entity, bucket) DO UPDATE SET attempts = c.attempts + 1, amount = c.amount + EXCLUDED.amount`,
    [d.id, d.orderId, d.attemptId, d.customerId, d.amount, d.currency, d.method, d.decision, d.score, d.reasons, d.ruleVersion,
      d.entities, d.region, JSON.stringify(d.inputs), d.durationUs, d.decidedAt, bucketOf(d.decidedAt), countAttempt],
  );
}

/** A processor declined the attempt: count a decline (small or not) for its entities. */
export async function countDecline(tx: Db, attemptId: string, smallAmount: number, now: Date): Promise<void> {
  await tx.query(
    `INSERT INTO fraud_counters AS c (entity, bucket, declines, small_declines)
     SELECT e, $2, 1, (d.amount <= $3)::int FROM fraud_decisions d, unnest(d.entities) AS e WHERE d.attempt_id = $1 ORDER BY e
     ON CONFLICT (entity, bucket) DO UPDATE SET declines = c.declines + 1, small_declines = c.small_declines + EXCLUDED.small_declines`,
    [attemptId, bucketOf(now), smallAmount],
  );
}

/** An approved payment becomes history: the customer's profile and the card's regiones. */
export async function recordApproval(tx: Db, attemptId: string, now: Date): Promise<void> {
  await tx.query(
    `WITH d AS (SELECT customer_id, amount, region, entities FROM fraud_decisions WHERE attempt_id = $1),
     p AS (
       INSERT INTO fraud_customer_profiles AS p (customer_id, approved_orders, approved_amount, max_amount, updated_at)
       SELECT customer_id, 1, amount, amount, $2 FROM d
       ON CONFLICT (customer_id) DO UPDATE SET approved_orders = p.approved_orders + 1, approved_amount = p.approved_amount + EXCLUDED.approved_amount,
         max_amount = greatest(p.max_amount, EXCLUDED.max_amount), updated_at = EXCLUDED.updated_at)
     INSERT INTO fraud_card_regions AS r (card, region, approvals)
     SELECT e, d.region, 1 FROM d, unnest(d.entities) AS e WHERE e LIKE 'card:%' AND d.region IS NOT NULL
     ON CONFLICT (card, region) DO UPDATE SET approvals = r.approvals + 1`,
    [attemptId, now],
  );
}

/** Drops counter buckets older than a day (they no longer feed any window). */
export async function pruneCounters(db: Db, now: Date): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM fraud_counters WHERE bucket < $1', [new Date(bucketOf(now).getTime() - 145 * BUCKET_MS)]);
  return rowCount ?? 0;
}

// Reviews.
export interface ReviewRow {
  id: string;
  orderId: string;
  decisionId: string;
  attemptId: string | null;
  amount: number;
  currency: string;
  score: number;
  reasons: string[];
  status: 'open' | 'approved' | 'rejected';
  reviewer: string | null;
  note: string | null;
  createdAt: Date;
  decidedAt: Date | null;
}

const REVIEW_COLS = 'id, order_id, decision_id, attempt_id, amount, currency, score, reasons, status, reviewer, note, created_at, decided_at';
function toReview(r: Record<string, unknown>): ReviewRow {
  return {
    id: r.id as string,
    orderId: r.order_id as string,
    decisionId: r.decision_id as string,
    attemptId: r.attempt_id as string | null,
    amount: Number(r.amount),
    currency: r.currency as string,
    score: r.score as number,
    reasons: r.reasons as string[],
    status: r.status as ReviewRow['status'],
    reviewer: r.reviewer as string | null,
    note: r.note as string | null,
    createdAt: r.created_at as Date,
    decidedAt: r.decided_at as Date | null,
  };
}

/** Opens a review for the order, or points its open review at the newest decision. */
export async function openReview(tx: Db, r: { id: string; orderId: string; decisionId: string; attemptId: string | null; amount: number; currency: string; score: number; reasons: string[]; at: Date }): Promise<void> {
  await tx.query(
    `INSERT INTO fraud_reviews (id, order_id, decision_id, attempt_id, amount, currency, score, reasons, status, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9)
     ON CONFLICT (order_id) WHERE status = 'open' DO UPDATE SET decision_id = EXCLUDED.decision_id, attempt_id = EXCLUDED.attempt_id,
       amount = EXCLUDED.amount, score = EXCLUDED.score, reasons = EXCLUDED.reasons`,
    [r.id, r.orderId, r.decisionId, r.attemptId, r.amount, r.currency, r.score, r.reasons, r.at],
  );
}

export async function listReviews(db: Db, status: ReviewRow['status'] | null, limit: number): Promise<ReviewRow[]> {
  const { rows } = await db.query(
    `SELECT ${REVIEW_COLS} FROM fraud_reviews WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at, id LIMIT $2`,
    [status, limit],
  );
  return rows.map(toReview);
}

export async function lockReview(tx: Db, id: string): Promise<ReviewRow | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const { rows } = await tx.query(`SELECT ${REVIEW_COLS} FROM fraud_reviews WHERE id = $1 FOR UPDATE`, [id]);
  return rows[0] ? toReview(rows[0]) : undefined;
}

/** The order's open review, locked (an approval and a reviewer serialise on it). */
export async function lockOpenReviewForOrder(tx: Db, orderId: string): Promise<ReviewRow | undefined> {
  const { rows } = await tx.query(`SELECT ${REVIEW_COLS} FROM fraud_reviews WHERE order_id = $1 AND status = 'open' FOR UPDATE`, [orderId]);
  return rows[0] ? toReview(rows[0]) : undefined;
}

export async function closeReview(tx: Db, id: string, c: { status: 'approved' | 'rejected'; reviewer: string; note: string | null; at: Date }): Promise<ReviewRow> {
  const { rows } = await tx.query(
    `UPDATE fraud_reviews SET status = $2, reviewer = $3, note = $4, decided_at = $5 WHERE id = $1 AND status = 'open' RETURNING ${REVIEW_COLS}`,
    [id, c.status, c.reviewer, c.note, c.at],
  );
  return toReview(rows[0] as Record<string, unknown>);
}

/** Labels the decision behind a charged-back attempt (once). */
export async function labelChargeback(tx: Db, c: { attemptId: string; amount: number; settledAt: Date; at: Date }): Promise<boolean> {
  const { rowCount } = await tx.query(
    `INSERT INTO fraud_chargebacks (decision_id, order_id, attempt_id, amount, settled_at, labeled_at)
     SELECT id, order_id, attempt_id, $2, $3, $4 FROM fraud_decisions WHERE attempt_id = $1
     ON CONFLICT (decision_id) DO NOTHING`,
    [c.attemptId, c.amount, c.settledAt, c.at],
  );
  return rowCount === 1;
}

export interface RuleStats {
  rule: string;
  hits: number;
  blocked: number;
  chargebacks: number;
}

/** Per rule: decisions it matched, how many of those were blocked, and chargebacks among them. */
export async function ruleStats(db: Db): Promise<{ stats: RuleStats[]; totalChargebacks: number }> {
  const { rows } = await db.query<{ rule: string; hits: number; blocked: number; chargebacks: number }>(
    `SELECT r.rule, count(*)::int AS hits, count(*) FILTER (WHERE d.decision = 'block')::int AS blocked,
            count(cb.decision_id)::int AS chargebacks
       FROM fraud_decisions d CROSS JOIN LATERAL unnest(d.reasons) AS r(rule)
       LEFT JOIN fraud_chargebacks cb ON cb.decision_id = d.id
      GROUP BY r.rule ORDER BY r.rule`,
  );
  const total = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM fraud_chargebacks');
  return { stats: rows, totalChargebacks: total.rows[0]?.n ?? 0 };
}

/** Installs the default rule set as version 1 when no version exists yet. */
export async function seedRuleSet(db: Db, ruleSet: RuleSet, at: Date): Promise<void> {
  await db.query(
    `INSERT INTO fraud_rule_versions (version, rule_set, created_by, note, created_at) VALUES (1, $1, 'system', 'default rules', $2)
     ON CONFLICT (version) DO NOTHING`,
    [JSON.stringify(ruleSet), at],
  );
}
