import { prepared, type Db } from '../../platform/db.js';
import type { Part } from '../statement.js';
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
  profiles: Map<string, { approvedOrders: number; approvedAmount: number; maxAmount: number }>;
  cardRegions: Map<string, string[]>;
  /** The snapshot the read saw: which committed transactions it counted (see `visibleIn`). */
  snapshot: Snapshot | undefined;
}

/** A PostgreSQL snapshot (`pg_current_snapshot()`): xmin, xmax and the transactions in progress. */
export interface Snapshot { xmin: bigint; xmax: bigint; xip: Set<bigint> }

export function parseSnapshot(text: string | null | undefined): Snapshot | undefined {
  const m = /^(\d+):(\d+):([\d,]*)$/.exec(text ?? '');
  if (!m) return undefined;
  return { xmin: BigInt(m[1] as string), xmax: BigInt(m[2] as string), xip: new Set((m[3] as string).split(',').filter(Boolean).map(BigInt)) };
}

/** Whether a committed transaction's changes are in the snapshot (`pg_visible_in_snapshot`). */
export function visibleIn(xid: bigint, snap: Snapshot): boolean {
  if (xid < snap.xmin) return true;
  if (xid >= snap.xmax) return false;
  return !snap.xip.has(xid);
}

/** The features read of a batch: its entities, customers and cards at `now`. */
export interface FeaturesQuery {
  entities: string[];
  customerIds: string[];
  cards: string[];
  now: Date;
}

type FeaturesRow = {
  snapshot: string | null;
  counters: (CounterSums & { entity: string })[] | null;
  profiles: { customer_id: string; approved_orders: number; approved_amount: number; max_amount: number }[] | null;
  regions: { card: string; regions: string[] }[] | null;
};

/** Where a decision's windows start: the 1-hour one (6 buckets) and the 24-hour one (144). */
export const windows = (now: Date) => {
  const current = bucketOf(now).getTime();
  return { from1h: new Date(current - 5 * BUCKET_MS), from24h: new Date(current - 143 * BUCKET_MS) };
};

/**
 * The features read's SQL over the given expressions (parameters or inlined literals): a call
 * of `fraud_features` (migration 2026-12-02-0800), whose lookups by key are planned once per
 * connection. With the snapshot it read in (the function's queries share it): what this process
 * committed after it is added to the features from memory.
 */
function featuresSql(x: { entities: string; from1h: string; from24h: string; customerIds: string; cards: string }): string {
  return `SELECT counters, profiles, regions, pg_current_snapshot()::text AS snapshot FROM fraud_features(${x.entities}, ${x.from1h}, ${x.from24h}, ${x.customerIds}, ${x.cards})`;
}

/**
 * Everything the decisions of a batch read, in one round trip over primary-key ranges: the
 * entities' counters of the last 24 h, the customers' profiles and the cards' usual regiones.
 */
export async function readFeaturesMany(db: Db, q: FeaturesQuery): Promise<RawFeatures> {
  const { from1h, from24h } = windows(q.now);
  const { rows } = await db.query<FeaturesRow>(
    prepared(featuresSql({ entities: '$1::text[]', from1h: '$2', from24h: '$3', customerIds: '$4::text[]', cards: '$5::text[]' })),
    [q.entities, from1h, from24h, q.customerIds, q.cards],
  );
  return toRawFeatures(rows[0]);
}

/** The features from that statement's one row. */
function toRawFeatures(r: FeaturesRow | undefined): RawFeatures {
  return {
    counters: new Map((r?.counters ?? []).map((c) => [c.entity, c])),
    profiles: new Map((r?.profiles ?? []).map((p) => [p.customer_id, {
      approvedOrders: p.approved_orders, approvedAmount: Number(p.approved_amount), maxAmount: Number(p.max_amount),
    }])),
    cardRegions: new Map((r?.regions ?? []).map((x) => [x.card, x.regions])),
    snapshot: parseSnapshot(r?.snapshot),
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

/** Counter rows a batch bumps, one per (entity, bucket), applied in key order. */
export interface CounterBump { entity: string; bucket: Date; attempts: number; declines: number; smallDeclines: number; amount: number }

export function bumps(items: { entities: string[]; at: Date; attempts?: number; declines?: number; smallDeclines?: number; amount?: number }[]): CounterBump[] {
  const byKey = new Map<string, CounterBump>();
  for (const it of items) {
    const bucket = bucketOf(it.at);
    for (const entity of new Set(it.entities)) {
      const key = `${entity}\u0000${bucket.getTime()}`;
      const b = byKey.get(key) ?? { entity, bucket, attempts: 0, declines: 0, smallDeclines: 0, amount: 0 };
      b.attempts += it.attempts ?? 0;
      b.declines += it.declines ?? 0;
      b.smallDeclines += it.smallDeclines ?? 0;
      b.amount += it.amount ?? 0;
      byKey.set(key, b);
    }
  }
  return [...byKey.values()];
}

/**
 * Adds to the counters, one row per (entity, bucket) for the whole batch, locked in key order
 * (ORDER BY in the SELECT): concurrent batches over the same entities wait for each other
 * instead of deadlocking, and each hot row is touched once per batch.
 */
function counterPart(rows: CounterBump[]): Part {
  return {
    sql: `INSERT INTO fraud_counters AS c (entity, bucket, attempts, declines, small_declines, amount)
     SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::int[], $4::int[], $5::int[], $6::bigint[]) ORDER BY 1, 2
     ON CONFLICT (entity, bucket) DO UPDATE SET attempts = c.attempts + EXCLUDED.attempts, declines = c.declines + EXCLUDED.declines,
       small_declines = c.small_declines + EXCLUDED.small_declines, amount = c.amount + EXCLUDED.amount`,
    params: [rows.map((r) => r.entity), rows.map((r) => r.bucket), rows.map((r) => r.attempts), rows.map((r) => r.declines),
      rows.map((r) => r.smallDeclines), rows.map((r) => r.amount)],
  };
}

/**
 * The writes that record a batch of decisions and count each attempt (and its amount) for
 * every entity: the decision rows, the counters. The caller runs them in its statement.
 */
export function decisionParts(ds: DecisionRow[]): Part[] {
  if (ds.length === 0) return [];
  return [{
    sql: `INSERT INTO fraud_decisions (id, order_id, attempt_id, customer_id, amount, currency, method, decision, score, reasons,
                                  rule_version, entities, region, inputs, duration_us, decided_at)
     SELECT id, order_id, attempt_id, customer_id, amount, currency, method, decision, score, reasons,
            rule_version, entities, region, inputs, duration_us, decided_at
       FROM jsonb_to_recordset($1::jsonb) AS t(id uuid, order_id text, attempt_id uuid, customer_id text, amount bigint, currency text,
            method text, decision text, score smallint, reasons text[], rule_version integer, entities text[], region text, inputs jsonb,
            duration_us integer, decided_at timestamptz)`,
    params: [JSON.stringify(ds.map((d) => ({
      id: d.id, order_id: d.orderId, attempt_id: d.attemptId, customer_id: d.customerId, amount: d.amount, currency: d.currency,
      method: d.method, decision: d.decision, score: d.score, reasons: d.reasons, rule_version: d.ruleVersion, entities: d.entities,
      region: d.region, inputs: d.inputs, duration_us: d.durationUs, decided_at: d.decidedAt.toISOString(),
    })))],
  }, counterPart(bumps(ds.map((d) => ({ entities: d.entities, at: d.decidedAt, attempts: 1, amount: d.amount }))))];
}

/**
 * Processors declined these attempts: a decline (small or not) for their entities, one counter
 * row per entity in key order, as a part of the caller's statement.
 */
export function declinePart(attemptIds: string[], smallAmount: number, now: Date): Part {
  return {
    sql: `INSERT INTO fraud_counters AS c (entity, bucket, attempts, declines, small_declines, amount)
     SELECT x.entity, $2::timestamptz, 0, count(*)::int, (count(*) FILTER (WHERE d.amount <= $3))::int, 0
       FROM fraud_decisions d CROSS JOIN LATERAL (SELECT DISTINCT unnest(d.entities) AS entity) x
      WHERE d.attempt_id = ANY($1::uuid[]) GROUP BY x.entity ORDER BY x.entity
     ON CONFLICT (entity, bucket) DO UPDATE SET declines = c.declines + EXCLUDED.declines, small_declines = c.small_declines + EXCLUDED.small_declines`,
    params: [attemptIds, bucketOf(now), smallAmount],
  };
}

/**
 * Approved payments become history: the customers' profiles and the cards' regiones, each row
 * updated once per batch and in key order (concurrent batches cannot deadlock), as parts of
 * the caller's statement.
 */
export function approvalParts(attemptIds: string[], now: Date): Part[] {
  return [
    { name: 'approved_decisions', sql: 'SELECT customer_id, amount, region, entities FROM fraud_decisions WHERE attempt_id = ANY($1::uuid[])', params: [attemptIds] },
    {
      sql: `INSERT INTO fraud_customer_profiles AS p (customer_id, approved_orders, approved_amount, max_amount, updated_at)
       SELECT customer_id, count(*), sum(amount), max(amount), $1 FROM approved_decisions GROUP BY customer_id ORDER BY customer_id
       ON CONFLICT (customer_id) DO UPDATE SET approved_orders = p.approved_orders + EXCLUDED.approved_orders,
         approved_amount = p.approved_amount + EXCLUDED.approved_amount,
         max_amount = greatest(p.max_amount, EXCLUDED.max_amount), updated_at = EXCLUDED.updated_at`,
      params: [now],
    },
    {
      sql: `INSERT INTO fraud_card_regions AS r (card, region, approvals)
       SELECT e, d.region, count(*) FROM approved_decisions d, unnest(d.entities) AS e WHERE e LIKE 'card:%' AND d.region IS NOT NULL
        GROUP BY e, d.region ORDER BY e, d.region
       ON CONFLICT (card, region) DO UPDATE SET approvals = r.approvals + EXCLUDED.approvals`,
      params: [],
    },
  ];
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

/** Opens a review for each order, or points its open review at the newest decision (one per order); none without reviews. */
export function reviewParts(rs: { id: string; orderId: string; decisionId: string; attemptId: string | null; amount: number; currency: string; score: number; reasons: string[]; at: Date }[]): Part[] {
  // ON CONFLICT may touch a row once per statement: the last decision of an order wins.
  const byOrder = [...new Map(rs.map((r) => [r.orderId, r])).values()].sort((a, b) => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0));
  if (byOrder.length === 0) return [];
  return [{
    sql: `INSERT INTO fraud_reviews (id, order_id, decision_id, attempt_id, amount, currency, score, reasons, status, created_at)
     SELECT id, order_id, decision_id, attempt_id, amount, currency, score, reasons, 'open', created_at
       FROM jsonb_to_recordset($1::jsonb) AS t(id uuid, order_id text, decision_id uuid, attempt_id uuid, amount bigint, currency text,
            score smallint, reasons text[], created_at timestamptz)
     ON CONFLICT (order_id) WHERE status = 'open' DO UPDATE SET decision_id = EXCLUDED.decision_id, attempt_id = EXCLUDED.attempt_id,
       amount = EXCLUDED.amount, score = EXCLUDED.score, reasons = EXCLUDED.reasons`,
    params: [JSON.stringify(byOrder.map((r) => ({
      id: r.id, order_id: r.orderId, decision_id: r.decisionId, attempt_id: r.attemptId, amount: r.amount, currency: r.currency,
      score: r.score, reasons: r.reasons, created_at: r.at.toISOString(),
    })))],
  }];
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

/** The orders among these with an open review, locked in order (an approval and a reviewer serialise on it). */
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
