import type { Metrics } from '../../src/platform/metrics.js';
import { DEFAULT_FRAUD_RULES, type Payments } from '../../src/payments/index.js';

/**
 * The bench's shoppers buy hundreds of times a minute each: exactly what the velocity rules
 * exist to hold for review. Keep every other default rule (the decision reads the same
 * counters and history either way), so orders are paid, not held.
 */
export async function benchFraudRules(payments: Payments): Promise<void> {
  // Amount velocity too: each shopper asks for millions of pesos a day here, and the held
  // orders would never be paid (they were, as on_hold, neither paid nor unconfirmed).
  const rules = DEFAULT_FRAUD_RULES.rules.filter((r) => !/(^|_)velocity_/.test(r.id));
  await payments.fraudRules.update({ ...DEFAULT_FRAUD_RULES, rules }, 'bench', 'velocity rules off for synthetic load');
}

/**
 * p99 (ms) of what the fraud decision adds before each authorization, from
 * `embudo_fraud_decision_seconds`: the wait for its features read (made ahead) beyond its
 * batch's own locks and reads, plus its rules evaluated. With
 * `metric = 'embudo_fraud_features_read_seconds'`: each features read (rule set + one query),
 * overlapped or not. Linear within the histogram bucket.
 */
export async function fraudDecisionP99Ms(metrics: Metrics, metric = 'embudo_fraud_decision_seconds'): Promise<number | null> {
  const values = ((await metrics.registry.getSingleMetric(metric)?.get())?.values ?? []) as
    { metricName?: string; labels: Record<string, string | number>; value: number }[];
  // Buckets are per decision label: add them up per bound.
  const byBound = new Map<number, number>();
  for (const v of values) {
    if (!v.metricName?.endsWith('_bucket')) continue;
    const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
    byBound.set(le, (byBound.get(le) ?? 0) + v.value);
  }
  const bounds = [...byBound.entries()].sort((a, b) => a[0] - b[0]);
  const total = bounds.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const target = 0.99 * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of bounds) {
    if (count >= target) {
      if (le === Infinity) return Number((prevLe * 1000).toFixed(3));
      const within = count > prevCount ? (target - prevCount) / (count - prevCount) : 1;
      return Number(((prevLe + (le - prevLe) * within) * 1000).toFixed(3));
    }
    prevLe = le;
    prevCount = count;
  }
  return null;
}
