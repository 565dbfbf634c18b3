import { randomUUID } from 'node:crypto';
import type { Histogram } from 'prom-client';
import { appendEvents, type NewEvent } from '../../events/index.js';
import type { Db } from '../../platform/db.js';
import { groupCommit } from '../../platform/group-commit.js';
import { PgCode, pgErrorCode } from '../../platform/db.js';
import { transaction, type Core } from '../core.js';
import { paymentsError } from '../errors.js';
import { paymentsEvent } from '../events.js';
import type { Part } from '../statement.js';
import type { AttemptState } from '../store.js';
import {
  DEFAULT_RULE_SET, ENTITIES, emailDomain, evaluate, RuleSetSchema, zeroFeatures,
  type Decision, type Entity, type Features, type RuleSet,
} from './rules.js';
import * as store from './store.js';

/** What the shop knows about the shopper besides the payment itself (never card data). */
export interface FraudSignals {
  ip?: string | undefined;
  deviceId?: string | undefined;
  /** Delivery región code (e.g. 'RM', 'VS'). */
  deliveryRegion?: string | undefined;
  /** A processor-issued card fingerprint (e.g. Mercado Pago's card id), when there is one. */
  cardFingerprint?: string | undefined;
}

/** The payment as the fraud check sees it. */
export interface FraudSubject {
  orderId: string;
  customerId: string;
  amount: number;
  currency: string;
  method: string;
  savedCardId?: string | undefined;
  payerEmail?: string | undefined;
  risk?: FraudSignals | undefined;
}

/** A decision taken but not yet recorded (it is recorded with the attempt, in its transaction). */
export interface Assessment {
  id: string;
  decision: Decision;
  score: number;
  reasons: string[];
  ruleVersion: number;
  entities: string[];
  region: string | null;
  inputs: Record<string, unknown>;
  /**
   * What deciding added to the payment's path, in µs: the wait for the features read beyond
   * the work it ran alongside (see `prepare`), plus the rules evaluated.
   */
  durationUs: number;
  decidedAt: Date;
}

/** The fraud decisions of one group commit: features read once, payments decided in order. */
export interface FraudBatch {
  /** Decides one payment (not yet recorded). */
  assess(s: FraudSubject): Assessment;
  /** Counts a recorded decision's attempt for the payments decided after it in the batch. */
  count(a: Assessment, s: FraudSubject): void;
}

export interface FraudReview {
  id: string; orderId: string; paymentAttemptId: string | null;
  amount: number; currency: string;
  score: number; reasons: string[];
  status: 'open' | 'approved' | 'rejected';
  createdAt: string; decidedAt: string | null; reviewer: string | null;
}

export interface FraudReviewQueue {
  list(opts?: { status?: FraudReview['status']; limit?: number }): Promise<FraudReview[]>;
  decide(reviewId: string, input: { outcome: 'approve' | 'reject'; reviewer: string; note?: string }): Promise<FraudReview>;
}

export interface FraudRuleReportRow {
  rule: string;
  /** Decisions the rule matched. */
  hits: number;
  /** Of those, blocked (never charged, so never charged back). */
  blocked: number;
  /** Charged-back payments among the hits. */
  chargebacks: number;
  /** chargebacks ÷ (hits − blocked): how often a payment the rule flagged was fraud. */
  precision: number;
  /** chargebacks ÷ all charged-back decisions: how much of the fraud the rule caught. */
  recall: number;
}

export interface RuleSetView {
  version: number;
  createdAt: string;
  createdBy: string;
  note: string | null;
  ruleSet: RuleSet;
}

const RULES_CACHE_MS = 5_000;
/** A prefetched features read older than this when its batch decides is read again. */
const PREFETCH_MAX_AGE_MS = 2_000;
/** How long this process remembers what it committed to the counters (well past any read's use). */
const JOURNAL_MS = 10_000;
/** Attempts decided here whose entities are remembered for their declines. */
const DECIDED_KEPT = 50_000;
/** Reads ahead waiting for their payment, at most. */
const AHEAD_KEPT = 10_000;

/** What a features read ahead of the payment needs: who pays, how, and the shop's signals. */
export type AheadSubject = Pick<FraudSubject, 'customerId' | 'method' | 'savedCardId' | 'payerEmail' | 'risk'>;

/** A payment's features as read ahead of its batch, with the rule set and time they were read for. */
export interface Prefetched {
  version: number;
  ruleSet: RuleSet;
  /** The decision's time: the counters' windows end here. */
  now: Date;
  raw: store.RawFeatures;
  /** performance.now() when the read was sent (its snapshot is later) and answered. */
  sentAt: number;
  at: number;
}

/**
 * What a transaction changes in the counters, and its id (`pg_current_xact_id()`), filled in
 * as it goes; handed to `committed` once it has committed.
 */
export interface CounterSink { xid?: bigint | undefined; bumps: store.CounterBump[] }

const visibleInRead = (xid: bigint, raw: store.RawFeatures): boolean => (raw.snapshot ? store.visibleIn(xid, raw.snapshot) : true);

function reviewView(r: store.ReviewRow): FraudReview {
  return {
    id: r.id, orderId: r.orderId, paymentAttemptId: r.attemptId, amount: r.amount, currency: r.currency,
    score: r.score, reasons: r.reasons, status: r.status, createdAt: r.createdAt.toISOString(),
    decidedAt: r.decidedAt?.toISOString() ?? null, reviewer: r.reviewer,
  };
}

/** The counter key of a card: the saved card, or a processor fingerprint; none for Webpay. */
function cardKey(s: FraudSubject): string | null {
  if (s.method === 'oneclick' && s.savedCardId) return `card:oc:${s.savedCardId}`;
  if (s.risk?.cardFingerprint) return `card:fp:${s.risk.cardFingerprint.slice(0, 100)}`;
  return null;
}

/**
 * The fraud check, evaluated before every authorization: reads indexed counters and
 * aggregates (one round trip), evaluates the rule set in force, and records the decision with
 * the attempt; processor outcomes feed the counters back. Also the review queue, the rule
 * editor and the per-rule report.
 */
export function createFraud(core: Core, opts: { timing?: Histogram; readTiming?: Histogram } = {}) {
  let cached: { at: number; version: number; ruleSet: RuleSet } | undefined;
  let refreshing: Promise<unknown> | undefined;
  /** Bumped by an edit here: a read begun before it does not put the older set back. */
  let generation = 0;

  // Past 5 s the set in hand is still used while one read refreshes it in the background (up
  // to 10 s old; older, the decision waits for the read): the refresh, a query and a parse every
  // 5 s, was otherwise paid inside one batch's decisions, the slowest ones (the fraud decision
  // p99 in the checkout bench swung from 0.9 to 3.4 ms with it).
  const current = async (): Promise<{ version: number; ruleSet: RuleSet }> => {
    const age = cached ? Date.now() - cached.at : Infinity;
    if (cached && age < 2 * RULES_CACHE_MS) {
      if (age >= RULES_CACHE_MS && !refreshing) {
        refreshing = load().catch((err: unknown) => core.logger.warn({ err }, 'fraud rule set refresh failed; keeping the one in force'))
          .finally(() => (refreshing = undefined));
      }
      return cached;
    }
    return load();
  };
  const load = async (): Promise<{ version: number; ruleSet: RuleSet }> => {
    const now = Date.now();
    const gen = generation;
    let found = await store.latestRuleSet(core.db);
    if (!found) {
      await store.seedRuleSet(core.db, DEFAULT_RULE_SET, core.clock.now());
      found = await store.latestRuleSet(core.db);
    }
    if (!found) throw new Error('no fraud rule set');
    // Stored sets passed validation when written; parsing again fills defaults added since.
    const loaded = { at: now, version: found.version, ruleSet: RuleSetSchema.parse(found.ruleSet) };
    if (gen === generation) cached = loaded;
    return loaded;
  };

  const entitiesOf = (s: FraudSubject, set: RuleSet): Partial<Record<Entity, string>> => {
    const card = cardKey(s);
    const ip = s.risk?.ip?.trim();
    const device = s.risk?.deviceId?.trim();
    return {
      ...(card ? { card } : {}),
      customer: `customer:${s.customerId}`,
      ...(ip && !set.ignoredIps.includes(ip) ? { ip: `ip:${ip.slice(0, 64)}` } : {}),
      ...(device ? { device: `device:${device.slice(0, 128)}` } : {}),
    };
  };

  // What this process committed to the counters lately, by transaction: a prefetched read
  // whose snapshot did not see one of these is given it from here (no miss, no double count).
  // Kept a little longer than any prefetched read is used for.
  const journal: { xid: bigint; at: number; bumps: store.CounterBump[] }[] = [];
  // The entities and amount of the attempts decided here lately, for their declines.
  const decided = new Map<string, { entities: string[]; amount: number }>();

  const readGroup = groupCommit(async (subjects: FraudSubject[]): Promise<Prefetched[]> => {
    const t0 = performance.now();
    const { version, ruleSet } = await current();
    const now = core.clock.now();
    const all = subjects.map((s) => entitiesOf(s, ruleSet));
    const raw = await store.readFeaturesMany(core.db, {
      entities: [...new Set(all.flatMap((e) => Object.values(e)))],
      customerIds: [...new Set(subjects.map((s) => s.customerId))],
      cards: [...new Set(all.flatMap((e) => (e.card ? [e.card] : [])))],
      now,
    });
    const at = performance.now();
    opts.readTiming?.observe((at - t0) / 1000);
    const read: Prefetched = { version, ruleSet, now, raw, sentAt: t0, at };
    return subjects.map(() => read);
  }, { maxBatch: 256, maxInFlight: 2 });

  // Reads started by `readAhead` (at the start of a checkout), until its payment asks for them.
  // `uses`: payments announced for it (the same shopper checking out twice at once shares it).
  const ahead = new Map<string, { read: Promise<Prefetched>; at: number; uses: number }>();
  const aheadKey = (s: AheadSubject): string =>
    [s.customerId, s.method, s.savedCardId ?? '', s.risk?.cardFingerprint ?? '', s.risk?.ip ?? '', s.risk?.deviceId ?? ''].join('\u0000');

  /**
   * Starts reading a payment's features now, with those of the payments that arrive meanwhile
   * (one query per group, on its own connection): while the payment waits for its batch, its
   * features are on their way, and its decision does not wait for a read on the batch's path.
   * A read the checkout started earlier for the same shopper, card and signals is used instead.
   */
  function prefetch(s: FraudSubject): Promise<Prefetched> {
    const key = aheadKey(s);
    const early = ahead.get(key);
    if (early) {
      if (--early.uses <= 0) ahead.delete(key);
      if (performance.now() - early.at <= PREFETCH_MAX_AGE_MS) return early.read;
    }
    const p = readGroup(s);
    p.catch(() => undefined); // awaited by the batch, or re-read there
    return p;
  }

  /**
   * Starts a payment's features read before the payment exists (a checkout calls it when it
   * begins, several round trips before it pays): by the time the payment asks, its features are
   * usually there. Unused reads are dropped after PREFETCH_MAX_AGE_MS.
   */
  function readAhead(s: AheadSubject): void {
    const now = performance.now();
    for (const [k, v] of ahead) {
      if (now - v.at <= PREFETCH_MAX_AGE_MS && ahead.size < AHEAD_KEPT) break;
      ahead.delete(k); // oldest first (insertion order)
    }
    const key = aheadKey(s);
    const pending = ahead.get(key);
    if (pending) {
      // The same entities, already being read: what commits after its snapshot is added
      // from memory, so one read serves both payments.
      pending.uses += 1;
      return;
    }
    const read = readGroup({ ...s, orderId: '', amount: 0, currency: 'CLP' });
    read.catch(() => undefined); // a failed read ahead is read again by the payment
    ahead.set(key, { read, at: now, uses: 1 });
  }

  /**
   * The decider of a batch of payments. Each is decided from its prefetched features (read
   * again now if it has none or they are older than PREFETCH_MAX_AGE_MS), plus what this
   * process committed to the counters that the read's snapshot did not see, plus the payments
   * decided before it in the batch, as one after the other would. `alongside` is the work the
   * batch does meanwhile and needs anyway (its locks and reads): what a decision costs the
   * payment is only the wait for its features beyond that (usually none) plus its rules.
   */
  async function prepare(items: { subject: FraudSubject; features?: Promise<Prefetched> | undefined }[], alongside: Promise<unknown> = Promise.resolve()): Promise<FraudBatch> {
    let alongsideDoneAt = performance.now();
    const other = alongside.then(() => {
      alongsideDoneAt = performance.now();
    });
    const fresh = async (p: Promise<Prefetched> | undefined, s: FraudSubject): Promise<Prefetched> => {
      const got = await p?.catch(() => undefined);
      // Sent at most PREFETCH_MAX_AGE_MS ago, so the journal (JOURNAL_MS) still holds every
      // change committed after its snapshot.
      return got && performance.now() - got.sentAt <= PREFETCH_MAX_AGE_MS ? got : readGroup(s);
    };
    const reads = Promise.all(items.map((i) => fresh(i.features, i.subject)));
    // Both settle before either error is thrown: no read is left running unobserved.
    const [features, done] = await Promise.allSettled([reads, other]);
    if (done.status === 'rejected') throw done.reason;
    if (features.status === 'rejected') throw features.reason;
    const readsAt = Math.max(...features.value.map((r) => r.at));
    // Every decision of the batch waits for the last of its reads: part of each one's cost.
    const waitMs = Math.max(0, readsAt - alongsideDoneAt);
    const bySubject = new Map(items.map((it, i) => [it.subject, features.value[i] as Prefetched]));
    const counted = new Map<string, { attempts: number; amount: number }>();
    const unseenBy = new Map<Prefetched, (typeof journal)[number][]>();

    return {
      assess(s: FraudSubject): Assessment {
        const t0 = performance.now();
        const read = bySubject.get(s);
        if (!read) throw new Error('fraud subject not in its batch');
        const { version, ruleSet, raw, now: decidedAt } = read;
        const byEntity = entitiesOf(s, ruleSet);
        const entities = Object.values(byEntity).sort();
        const region = s.risk?.deliveryRegion?.trim().toUpperCase().slice(0, 10) || null;
        const x: Features = zeroFeatures();
        x.amount = s.amount;
        const { from1h, from24h } = store.windows(decidedAt);
        const unseen = unseenBy.get(read) ?? journal.filter((j) => !visibleInRead(j.xid, raw));
        unseenBy.set(read, unseen);
        for (const e of ENTITIES) {
          const key = byEntity[e];
          if (!key) continue;
          const c = raw.counters.get(key);
          if (c) for (const [k, v] of Object.entries(c)) if (k !== 'entity') x[`${e}.${k}` as keyof Features] = Number(v);
          for (const j of unseen) {
            for (const b of j.bumps) {
              if (b.entity !== key || b.bucket < from24h) continue;
              const in1h = b.bucket >= from1h ? 1 : 0;
              x[`${e}.attempts_24h`] += b.attempts;
              x[`${e}.attempts_1h`] += b.attempts * in1h;
              x[`${e}.declines_24h`] += b.declines;
              x[`${e}.declines_1h`] += b.declines * in1h;
              x[`${e}.small_declines_24h`] += b.smallDeclines;
              x[`${e}.small_declines_1h`] += b.smallDeclines * in1h;
              x[`${e}.amount_24h`] += b.amount;
              x[`${e}.amount_1h`] += b.amount * in1h;
            }
          }
          const before = counted.get(key);
          if (before) {
            x[`${e}.attempts_1h`] += before.attempts;
            x[`${e}.attempts_24h`] += before.attempts;
            x[`${e}.amount_1h`] += before.amount;
            x[`${e}.amount_24h`] += before.amount;
          }
        }
        const p = raw.profiles.get(s.customerId);
        x['customer.approved_orders'] = p?.approvedOrders ?? 0;
        x['customer.avg_amount'] = p && p.approvedOrders > 0 ? Math.round(p.approvedAmount / p.approvedOrders) : 0;
        x['customer.max_amount'] = p?.maxAmount ?? 0;
        x.amount_to_avg = x['customer.avg_amount'] > 0 ? s.amount / x['customer.avg_amount'] : 0;
        x.first_purchase = (p?.approvedOrders ?? 0) === 0 ? 1 : 0;
        const cardRegions = (byEntity.card ? raw.cardRegions.get(byEntity.card) : undefined) ?? [];
        x.region_unusual = region && cardRegions.length > 0 && !cardRegions.includes(region) ? 1 : 0;
        const domain = emailDomain(s.payerEmail);
        x.email_disposable = domain && ruleSet.disposableDomains.includes(domain) ? 1 : 0;
        const verdict = evaluate(ruleSet, x);
        const nonZero = Object.fromEntries(Object.entries(x).filter(([, v]) => v !== 0));
        // The decision's own cost on the payment's path: the wait for the features beyond the
        // work alongside, plus this payment's evaluation. Recording it is more rows in the
        // attempts' own write statement, not a wait of its own.
        const seconds = (waitMs + performance.now() - t0) / 1000;
        opts.timing?.observe({ decision: verdict.decision }, seconds);
        return {
          id: randomUUID(), ...verdict, ruleVersion: version, entities, region,
          inputs: { features: nonZero, signals: { ...byEntity, emailDomain: domain || null, region } },
          durationUs: Math.round(seconds * 1_000_000), decidedAt,
        };
      },
      count(a: Assessment, s: FraudSubject): void {
        for (const e of a.entities) {
          const c = counted.get(e) ?? { attempts: 0, amount: 0 };
          c.attempts += 1;
          c.amount += s.amount;
          counted.set(e, c);
        }
      },
    };
  }

  /** A transaction that changed the counters by `bumps` committed as `xid` (from its sink). */
  function committed(sink: CounterSink): void {
    if (sink.xid === undefined || sink.bumps.length === 0) return;
    const at = performance.now();
    journal.push({ xid: sink.xid, at, bumps: sink.bumps });
    while (journal.length > 0 && at - (journal[0] as (typeof journal)[number]).at > JOURNAL_MS) journal.shift();
  }

  /**
   * The writes that record decisions, for the caller's statement (the attempts' group commit):
   * the append-only rows, each attempt counted against its entities, the open reviews for
   * `review`, and the `fraud.decision_made` events to append with them.
   */
  function decisionWrites(items: { assessment: Assessment; subject: FraudSubject; attemptId: string | null }[], sink?: CounterSink): { parts: Part[]; events: NewEvent[] } {
    if (items.length === 0) return { parts: [], events: [] };
    for (const { assessment: a, subject: s, attemptId } of items) {
      if (attemptId) decided.set(attemptId, { entities: a.entities, amount: s.amount });
    }
    while (decided.size > DECIDED_KEPT) decided.delete(decided.keys().next().value as string);
    sink?.bumps.push(...store.bumps(items.map(({ assessment: a, subject: s }) => ({ entities: a.entities, at: a.decidedAt, attempts: 1, amount: s.amount }))));
    const parts = [
      ...store.decisionParts(items.map(({ assessment: a, subject: s, attemptId }) => ({
        id: a.id, orderId: s.orderId, attemptId, customerId: s.customerId, amount: s.amount, currency: s.currency, method: s.method,
        decision: a.decision, score: a.score, reasons: a.reasons, ruleVersion: a.ruleVersion, entities: a.entities, region: a.region,
        inputs: a.inputs, durationUs: a.durationUs, decidedAt: a.decidedAt,
      }))),
      ...store.reviewParts(items.filter((i) => i.assessment.decision === 'review').map(({ assessment: a, subject: s, attemptId }) => ({
        id: randomUUID(), orderId: s.orderId, decisionId: a.id, attemptId, amount: s.amount, currency: s.currency,
        score: a.score, reasons: a.reasons, at: a.decidedAt,
      }))),
    ];
    const events = items.map(({ assessment: a, subject: s }) => paymentsEvent('fraud.decision_made', { type: 'fraud_decision', id: a.id }, {
      orderId: s.orderId, decisionId: a.id, decision: a.decision, score: a.score, reasons: a.reasons, ruleVersion: a.ruleVersion,
      customerId: s.customerId, amount: s.amount, currency: s.currency, method: s.method,
    }));
    return { parts, events };
  }

  /**
   * Processor outcomes, as writes for the verdicts' statement. Declines feed the counters;
   * approvals feed the customers' history. (Whether an approval is held for an open review
   * the verdicts' read tells, under the reviews' row locks.)
   */
  async function outcomeWrites(outcomes: { attempt: AttemptState; status: 'approved' | 'rejected' }[], sink?: CounterSink): Promise<Part[]> {
    const now = core.clock.now();
    const rejected = outcomes.filter((o) => o.status === 'rejected').map((o) => o.attempt.id);
    const approved = outcomes.filter((o) => o.status === 'approved').map((o) => o.attempt.id);
    if (rejected.length === 0) return approved.length > 0 ? store.approvalParts(approved, now) : [];
    const { smallAmount } = (await current()).ruleSet;
    // The declines of attempts decided here, for this process's later decisions (declinePart
    // counts them from the decisions' rows, the same entities and amounts).
    sink?.bumps.push(...store.bumps(rejected.flatMap((id) => {
      const d = decided.get(id);
      return d ? [{ entities: d.entities, at: now, declines: 1, smallDeclines: d.amount <= smallAmount ? 1 : 0 }] : [];
    })));
    return [
      store.declinePart(rejected, smallAmount, now),
      ...(approved.length > 0 ? store.approvalParts(approved, now) : []),
    ];
  }

  const reviews: FraudReviewQueue = {
    async list(o = {}) {
      return (await store.listReviews(core.db, o.status ?? null, Math.max(1, Math.min(o.limit ?? 100, 1000)))).map(reviewView);
    },
    async decide(reviewId, input) {
      const reviewer = input.reviewer.trim().slice(0, 200);
      if (!reviewer) throw paymentsError('invalid_payment_request', 'reviewer is required');
      return transaction(core, async (tx) => {
        const r = await store.lockReview(tx, reviewId);
        if (!r) throw paymentsError('review_not_found', 'no such review');
        const status = input.outcome === 'approve' ? 'approved' : 'rejected';
        if (r.status !== 'open') {
          if (r.status === status) return reviewView(r); // the same decision again: nothing to do
          throw paymentsError('review_already_decided', `the review was already ${r.status}`, { status: r.status });
        }
        const closed = await store.closeReview(tx, r.id, { status, reviewer, note: input.note?.slice(0, 1000) ?? null, at: core.clock.now() });
        await appendEvents(tx, [paymentsEvent('payments.fraud_review_decided', { type: 'fraud_review', id: r.id }, {
          reviewId: r.id, orderId: r.orderId, attemptId: r.attemptId, outcome: input.outcome, reviewer,
        })]);
        return reviewView(closed);
      });
    },
  };

  return {
    prefetch,
    readAhead,
    prepare,
    committed,
    decisionWrites,
    outcomeWrites,
    reviews,

    /** Labels the decision behind a charged-back attempt (settlement import, same transaction). */
    labelChargeback: (tx: Db, c: { attemptId: string; amount: number; settledAt: Date }) =>
      store.labelChargeback(tx, { ...c, at: core.clock.now() }),

    rules: {
      async current(): Promise<RuleSetView> {
        await current();
        const v = await store.latestRuleSet(core.db);
        if (!v) throw new Error('no fraud rule set');
        return { version: v.version, createdAt: v.createdAt.toISOString(), createdBy: v.createdBy, note: v.note, ruleSet: RuleSetSchema.parse(v.ruleSet) };
      },
      versions: (limit = 50) => store.ruleVersions(core.db, limit),
      /** Stores a new version of the rules (the whole set); in force at once here, in every other process within 10 s. */
      async update(input: unknown, by: string, note?: string): Promise<RuleSetView> {
        const parsed = RuleSetSchema.safeParse(input);
        if (!parsed.success) {
          throw paymentsError('invalid_fraud_rules', 'the rule set is not valid', {
            issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
          });
        }
        await current(); // version 1 exists before the first edit
        const at = core.clock.now();
        for (let i = 0; ; i++) {
          try {
            const version = await store.insertRuleVersion(core.db, { ruleSet: parsed.data, createdBy: by, note, at });
            cached = undefined;
            generation++;
            return { version, createdAt: at.toISOString(), createdBy: by, note: note ?? null, ruleSet: parsed.data };
          } catch (err) {
            if (pgErrorCode(err) !== PgCode.uniqueViolation || i >= 3) throw err; // a concurrent edit took the number
          }
        }
      },
    },

    /** Precision and recall of each rule against chargebacks imported from settlement reports. */
    async report(): Promise<FraudRuleReportRow[]> {
      const { ruleSet } = await current();
      const { stats, totalChargebacks } = await store.ruleStats(core.db);
      const byRule = new Map(stats.map((s) => [s.rule, s]));
      for (const r of ruleSet.rules) if (!byRule.has(r.id)) byRule.set(r.id, { rule: r.id, hits: 0, blocked: 0, chargebacks: 0 });
      const ratio = (a: number, b: number) => (b > 0 ? Number((a / b).toFixed(4)) : 0);
      return [...byRule.values()]
        .map((s) => ({ ...s, precision: ratio(s.chargebacks, s.hits - s.blocked), recall: ratio(s.chargebacks, totalChargebacks) }))
        .sort((a, b) => a.rule.localeCompare(b.rule));
    },

    /** Drops counter buckets older than a day. */
    prune: () => store.pruneCounters(core.db, core.clock.now()),
  };
}

export type Fraud = ReturnType<typeof createFraud>;
