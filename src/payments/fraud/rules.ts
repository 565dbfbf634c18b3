import { z } from 'zod';

/**
 * Fraud rules are data: a versioned rule set an admin edits, evaluated in order against the
 * features of one payment. Pure: no I/O here (features are read by ./store.ts).
 */

/** The windows counters are kept for (10-minute buckets; see store.ts). */
export const WINDOWS = ['1h', '24h'] as const;
/** Whose counters: the card (saved card or processor fingerprint), customer, IP, device. */
export const ENTITIES = ['card', 'customer', 'ip', 'device'] as const;
export type Entity = (typeof ENTITIES)[number];
/** attempts = authorizations asked for; declines = processor rejections; small_declines ≤ `smallAmount`. */
export const MEASURES = ['attempts', 'declines', 'small_declines', 'amount'] as const;

const COUNTER_FEATURES = ENTITIES.flatMap((e) => MEASURES.flatMap((m) => WINDOWS.map((w) => `${e}.${m}_${w}` as const)));

/** Every feature a rule may test (booleans are 0/1). */
export const FEATURES = [
  'amount',
  ...COUNTER_FEATURES,
  /** Approved payments of the customer before this one. */
  'customer.approved_orders',
  'customer.avg_amount',
  'customer.max_amount',
  /** amount ÷ the customer's average approved amount (0 without history). */
  'amount_to_avg',
  /** 1 when the customer has no approved payment yet. */
  'first_purchase',
  /** 1 when the card has approved deliveries and this región is not one of them. */
  'region_unusual',
  /** 1 when the payer's e-mail domain is on the disposable list. */
  'email_disposable',
] as const;
export type Feature = (typeof FEATURES)[number];
export type Features = Record<Feature, number>;

export type Decision = 'allow' | 'review' | 'block';

export type Condition =
  | { feature: Feature; op: '>' | '>=' | '<' | '<=' | '==' | '!='; value: number }
  | { all: Condition[] }
  | { any: Condition[] };

export interface FraudRule {
  /** Stable id: it is the reason reported and the key of the precision/recall report. */
  id: string;
  description: string;
  enabled: boolean;
  when: Condition;
  /** Points added to the 0-100 score when the rule matches. */
  score: number;
  /**
   * `block` and `allow` stop the evaluation (first match wins, in order); `review` holds the
   * order unless a later rule blocks; none: the rule only adds points.
   */
  action?: Decision | undefined;
}

export interface RuleSet {
  rules: FraudRule[];
  /** Score thresholds applied after the rules: score ≥ blockAt blocks, ≥ reviewAt reviews. */
  reviewAt: number;
  blockAt: number;
  /** A decline at or below this amount (CLP) counts as a small decline (card testing). */
  smallAmount: number;
  /** E-mail domains of throwaway mailboxes. */
  disposableDomains: string[];
  /** Addresses that are not a shopper (the shop's own proxies, loopback): no IP counters. */
  ignoredIps: string[];
}

const FeatureSchema = z.enum(FEATURES);
const ConditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    z.object({ feature: FeatureSchema, op: z.enum(['>', '>=', '<', '<=', '==', '!=']), value: z.number().finite() }).strict(),
    z.object({ all: z.array(ConditionSchema).min(1).max(20) }).strict(),
    z.object({ any: z.array(ConditionSchema).min(1).max(20) }).strict(),
  ]),
);

export const RuleSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9_.-]{1,64}$/, 'lowercase letters, digits, _ . -'),
    description: z.string().max(300).default(''),
    enabled: z.boolean().default(true),
    when: ConditionSchema,
    score: z.number().int().min(0).max(100),
    action: z.enum(['allow', 'review', 'block']).optional(),
  })
  .strict();

/** A rule set as an admin sends it (defaults filled in). */
export const RuleSetSchema = z
  .object({
    rules: z.array(RuleSchema).max(200).refine((rs) => new Set(rs.map((r) => r.id)).size === rs.length, 'rule ids must be unique'),
    reviewAt: z.number().int().min(1).max(100).default(50),
    blockAt: z.number().int().min(1).max(100).default(90),
    smallAmount: z.number().int().min(0).default(5_000),
    disposableDomains: z.array(z.string().toLowerCase().regex(/^[a-z0-9.-]{1,253}$/)).max(5_000).default([]),
    ignoredIps: z.array(z.string().max(64)).max(1_000).default([]),
  })
  .strict()
  .refine((s) => s.reviewAt <= s.blockAt, 'reviewAt must not exceed blockAt');

const f = (feature: Feature, op: '>' | '>=' | '<' | '<=' | '==' | '!=', value: number): Condition => ({ feature, op, value });

/** The rule set installed as version 1 when none exists. */
export const DEFAULT_RULE_SET: RuleSet = {
  reviewAt: 50,
  blockAt: 90,
  smallAmount: 5_000,
  disposableDomains: [
    'mailinator.com', 'guerrillamail.com', 'guerrillamail.net', 'sharklasers.com', '10minutemail.com', 'yopmail.com',
    'tempmail.com', 'temp-mail.org', 'trashmail.com', 'getnada.com', 'maildrop.cc', 'dispostable.com', 'throwawaymail.com',
    'fakeinbox.com', 'mintemail.com', 'emailondeck.com', 'mohmal.com', 'tempail.com',
  ],
  ignoredIps: ['127.0.0.1', '::1', '::ffff:127.0.0.1'],
  rules: [
    { id: 'card_testing_ip', description: 'Many small declined attempts from one IP within an hour', enabled: true,
      when: f('ip.small_declines_1h', '>=', 3), score: 95, action: 'block' },
    { id: 'card_testing_device', description: 'Many small declined attempts from one device within an hour', enabled: true,
      when: f('device.small_declines_1h', '>=', 3), score: 95, action: 'block' },
    { id: 'card_testing_customer', description: 'Many small declined attempts by one customer within an hour', enabled: true,
      when: f('customer.small_declines_1h', '>=', 3), score: 95, action: 'block' },
    { id: 'card_declines_1h', description: 'The card was declined 3+ times within an hour', enabled: true,
      when: f('card.declines_1h', '>=', 3), score: 90, action: 'block' },
    { id: 'ip_declines_24h', description: '10+ declines from one IP in a day', enabled: true,
      when: f('ip.declines_24h', '>=', 10), score: 60, action: 'review' },
    { id: 'velocity_card_1h', description: '6+ attempts with one card within an hour', enabled: true,
      when: f('card.attempts_1h', '>=', 6), score: 40 },
    { id: 'velocity_customer_1h', description: '8+ attempts by one customer within an hour', enabled: true,
      when: f('customer.attempts_1h', '>=', 8), score: 40 },
    { id: 'velocity_ip_1h', description: '20+ attempts from one IP within an hour', enabled: true,
      when: f('ip.attempts_1h', '>=', 20), score: 40 },
    { id: 'velocity_device_1h', description: '10+ attempts from one device within an hour', enabled: true,
      when: f('device.attempts_1h', '>=', 10), score: 40 },
    { id: 'amount_velocity_customer_24h', description: 'More than 3,000,000 CLP asked by one customer in a day', enabled: true,
      when: f('customer.amount_24h', '>', 3_000_000), score: 50, action: 'review' },
    { id: 'amount_far_above_history', description: 'Amount 5× the customer\'s average approved payment (3+ payments)', enabled: true,
      when: { all: [f('customer.approved_orders', '>=', 3), f('amount_to_avg', '>=', 5)] }, score: 50, action: 'review' },
    { id: 'first_purchase_high_ticket', description: 'First purchase of 500,000 CLP or more', enabled: true,
      when: { all: [f('first_purchase', '==', 1), f('amount', '>=', 500_000)] }, score: 50, action: 'review' },
    { id: 'region_unusual_for_card', description: 'Delivery región never used with this card', enabled: true,
      when: f('region_unusual', '==', 1), score: 25 },
    { id: 'disposable_email', description: 'Payer e-mail on a disposable domain', enabled: true,
      when: f('email_disposable', '==', 1), score: 30 },
  ],
};

/** Parses and completes a rule set an admin sent; throws the zod error on bad input. */
export function parseRuleSet(input: unknown): RuleSet {
  return RuleSetSchema.parse(input);
}

function holds(c: Condition, x: Features): boolean {
  if ('all' in c) return c.all.every((k) => holds(k, x));
  if ('any' in c) return c.any.some((k) => holds(k, x));
  const v = x[c.feature] ?? 0;
  switch (c.op) {
    case '>': return v > c.value;
    case '>=': return v >= c.value;
    case '<': return v < c.value;
    case '<=': return v <= c.value;
    case '==': return v === c.value;
    case '!=': return v !== c.value;
  }
}

export interface Verdict {
  decision: Decision;
  /** 0-100. */
  score: number;
  /** Ids of the rules that matched, in evaluation order. */
  reasons: string[];
}

const SEVERITY: Record<Decision, number> = { allow: 0, review: 1, block: 2 };

/**
 * Evaluates the enabled rules in order. Each match adds its points (score capped at 100) and
 * its id to the reasons; a matching `block` or `allow` rule ends the evaluation with that
 * outcome; `review` raises the outcome to at least review. Then the thresholds apply unless
 * an `allow` rule ended it.
 *
 * @example
 * evaluate(DEFAULT_RULE_SET, { ...zeroFeatures(), 'ip.small_declines_1h': 4 })
 * // → { decision: 'block', score: 95, reasons: ['card_testing_ip'] }
 */
export function evaluate(set: RuleSet, x: Features): Verdict {
  let score = 0;
  let decision: Decision = 'allow';
  const reasons: string[] = [];
  for (const rule of set.rules) {
    if (!rule.enabled || !holds(rule.when, x)) continue;
    score = Math.min(100, score + rule.score);
    reasons.push(rule.id);
    if (rule.action === 'allow') return { decision: 'allow', score, reasons };
    if (rule.action === 'block') return { decision: 'block', score, reasons };
    if (rule.action === 'review') decision = 'review';
  }
  const byScore: Decision = score >= set.blockAt ? 'block' : score >= set.reviewAt ? 'review' : 'allow';
  return { decision: SEVERITY[byScore] > SEVERITY[decision] ? byScore : decision, score, reasons };
}

/** Every feature at 0. */
export function zeroFeatures(): Features {
  return Object.fromEntries(FEATURES.map((k) => [k, 0])) as Features;
}

/** The domain of an e-mail address, lower case ('' when there is none). */
export function emailDomain(email: string | undefined): string {
  const at = email?.lastIndexOf('@') ?? -1;
  return at >= 0 && email ? email.slice(at + 1).trim().toLowerCase() : '';
}
