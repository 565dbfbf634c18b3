import type { Clock } from '../platform/clock.js';
import type { Db } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { gauge, type Metrics } from '../platform/metrics.js';
import { intervalWorker, type Worker } from '../platform/worker.js';
import { biError } from './errors.js';
import type { BiPorts } from './ports.js';

/** The KPIs a rule can watch; each is computed from another context's interface or the warehouse. */
export const KPIS = ['payments_pending_over_1h', 'etl_lag_seconds', 'approval_rate_24h', 'stockouts', 'dq_failing_checks', 'open_fraud_reviews'] as const;
export type Kpi = (typeof KPIS)[number];
export type Op = '>' | '>=' | '<' | '<=';

export interface AlertRule {
  id: string; kpi: Kpi; op: Op; threshold: number; description: string; enabled: boolean;
  value: number | null; firing: boolean; since: string | null; evaluatedAt: string | null;
}

export function breaches(value: number, op: Op, threshold: number): boolean {
  switch (op) {
    case '>': return value > threshold;
    case '>=': return value >= threshold;
    case '<': return value < threshold;
    case '<=': return value <= threshold;
  }
}

/** Thresholds on KPIs stored as rows, evaluated by a worker; firing state is kept and exported as metrics. */
export function createAlerts(deps: { db: Db; clock: Clock; logger: Logger; metrics: Metrics; ports: BiPorts; intervalMs?: number }) {
  const firingGauge = gauge(deps.metrics.registry, 'embudo_bi_alert_firing', 'BI alert rules currently firing (1) or not (0)', ['rule', 'kpi']);
  const valueGauge = gauge(deps.metrics.registry, 'embudo_bi_alert_value', 'Last value of the KPI a BI alert rule watches', ['rule', 'kpi']);

  /** Current value of a KPI, or null when it cannot be known here (a port absent, no data). */
  async function kpi(name: Kpi): Promise<number | null> {
    const wh = deps.ports.warehouse;
    switch (name) {
      case 'payments_pending_over_1h': {
        if (!deps.ports.paymentsOperations) return null;
        const ops = await deps.ports.paymentsOperations();
        return ops.pendingByAge.filter((b) => b.bucket === '1h-24h' || b.bucket === '>24h').reduce((n, b) => n + b.count, 0);
      }
      case 'etl_lag_seconds':
        return Math.round((await wh.lagMs()) / 1000);
      case 'approval_rate_24h': {
        const [r] = await wh.query(`SELECT count(*) FILTER (WHERE status = 'approved') AS ok, count(*) FILTER (WHERE status IN ('approved','rejected')) AS n
          FROM fact_payment_attempt WHERE occurred_at > $1::TIMESTAMPTZ - INTERVAL 24 HOUR`, { params: [deps.clock.now().toISOString()] });
        const n = Number(r?.n ?? 0);
        return n === 0 ? null : Number(r?.ok ?? 0) / n;
      }
      case 'stockouts': {
        const [r] = await wh.query(`SELECT count(*) AS n FROM stock_on_hand WHERE available <= 0`);
        return Number(r?.n ?? 0);
      }
      case 'dq_failing_checks': {
        const [r] = await wh.query(`SELECT count(*) FILTER (WHERE NOT passed) AS n FROM dq_result WHERE run_at = (SELECT max(run_at) FROM dq_result)`);
        return Number(r?.n ?? 0);
      }
      case 'open_fraud_reviews':
        return deps.ports.fraudReviews ? (await deps.ports.fraudReviews.list({ status: 'open', limit: 10_000 })).length : null;
    }
  }

  async function list(): Promise<AlertRule[]> {
    const res = await deps.db.query<{ id: string; kpi: Kpi; op: Op; threshold: number; description: string; enabled: boolean; value: number | null; firing: boolean | null; since: Date | null; evaluated_at: Date | null }>(
      `SELECT r.*, s.value, s.firing, s.since, s.evaluated_at FROM bi_alert_rules r LEFT JOIN bi_alert_state s ON s.rule_id = r.id ORDER BY r.id`);
    return res.rows.map((r) => ({ id: r.id, kpi: r.kpi, op: r.op, threshold: r.threshold, description: r.description, enabled: r.enabled,
      value: r.value, firing: r.firing ?? false, since: r.since?.toISOString() ?? null, evaluatedAt: r.evaluated_at?.toISOString() ?? null }));
  }

  /** Evaluates every enabled rule once; returns the rules with their new state. */
  async function evaluate(): Promise<AlertRule[]> {
    const rules = await list();
    const values = new Map<Kpi, number | null>();
    const now = deps.clock.now();
    for (const r of rules) {
      if (!r.enabled) continue;
      if (!values.has(r.kpi)) values.set(r.kpi, await kpi(r.kpi).catch((err: unknown) => {
        deps.logger.warn({ err, kpi: r.kpi }, 'alert KPI could not be computed');
        return null;
      }));
      const value = values.get(r.kpi) ?? null;
      const firing = value !== null && breaches(value, r.op, r.threshold);
      await deps.db.query(
        `INSERT INTO bi_alert_state (rule_id, value, firing, since, evaluated_at) VALUES ($1, $2, $3, CASE WHEN $3 THEN $4::timestamptz END, $4)
         ON CONFLICT (rule_id) DO UPDATE SET value = EXCLUDED.value, firing = EXCLUDED.firing, evaluated_at = EXCLUDED.evaluated_at,
           since = CASE WHEN NOT EXCLUDED.firing THEN NULL WHEN bi_alert_state.firing THEN bi_alert_state.since ELSE EXCLUDED.since END`,
        [r.id, value, firing, now]);
      firingGauge.set({ rule: r.id, kpi: r.kpi }, firing ? 1 : 0);
      if (value !== null) valueGauge.set({ rule: r.id, kpi: r.kpi }, value);
    }
    return list();
  }

  async function upsert(input: { id: string; kpi: string; op: string; threshold: number; description: string; enabled?: boolean }): Promise<AlertRule> {
    if (!(KPIS as readonly string[]).includes(input.kpi)) throw biError('invalid_filters', `kpi must be one of ${KPIS.join(', ')}`);
    await deps.db.query(
      `INSERT INTO bi_alert_rules (id, kpi, op, threshold, description, enabled) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET kpi = EXCLUDED.kpi, op = EXCLUDED.op, threshold = EXCLUDED.threshold,
         description = EXCLUDED.description, enabled = EXCLUDED.enabled`,
      [input.id, input.kpi, input.op, input.threshold, input.description, input.enabled ?? true]);
    await deps.db.query(`DELETE FROM bi_alert_state WHERE rule_id = $1`, [input.id]);
    const rule = (await list()).find((r) => r.id === input.id);
    if (!rule) throw biError('unknown_panel', `rule ${input.id} vanished`);
    return rule;
  }

  const worker: Worker = intervalWorker('bi-alerts', deps.intervalMs ?? 60_000, deps.logger, async () => {
    await evaluate();
  });

  return { list, evaluate, upsert, kpi, worker, firing: async () => (await list()).filter((r) => r.firing) };
}
export type Alerts = ReturnType<typeof createAlerts>;
