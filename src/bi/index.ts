import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db.js';
import type { HttpModule } from '../platform/http.js';
import type { Logger } from '../platform/log.js';
import type { Metrics } from '../platform/metrics.js';
import type { Worker } from '../platform/worker.js';
import { createAlerts, type Alerts } from './alerts.js';
import { createAudit, type Audit } from './audit.js';
import { createAuth, type Auth } from './auth.js';
import { biRoutes } from './http.js';
import type { BiPorts } from './ports.js';
import { createDashboardService, type DashboardService } from './service.js';

export type { BiPorts, FraudReview, FraudReviewQueue, FraudRuleReport, ReorderSuggestion, WarehouseReader, OpenPurchaseOrder } from './ports.js';
export type { BiRole, DashboardId } from './domain/roles.js';
export { accessOf, ROLES as BI_ROLES, DASHBOARDS } from './domain/roles.js';
export { COOKIE as BI_COOKIE } from './http.js';

export interface BiDeps {
  db: Database;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  ports: BiPorts;
  /** Set the cookie's Secure flag (when served over HTTPS). */
  secureCookies?: boolean;
  /** Alert evaluation interval (default 60 s). */
  alertIntervalMs?: number;
  /** Dashboard panel query timeout (default 10 s). */
  panelTimeoutMs?: number;
  explorer?: { rowLimit?: number; timeoutMs?: number };
}

export interface Bi {
  auth: Auth;
  audit: Audit;
  dashboards: DashboardService;
  alerts: Alerts;
  routes: HttpModule[];
  workers: Worker[];
  /**
   * First run: creates `admin` with a generated password and prints it once (log line and
   * stderr). Returns the credentials when it did.
   */
  ensureAdmin(): Promise<{ username: string; password: string } | undefined>;
}

/**
 * The BI and governance context: dashboards over the warehouse, the SQL explorer, users and
 * roles, the access audit, alerts, the fraud review queue; served at `/bi`.
 *
 * @example
 * const bi = createBi({ db, logger, metrics, clock, ports: { warehouse: analytics } });
 * await bi.ensureAdmin(); // prints the first-run admin password once
 */
export function createBi(deps: BiDeps): Bi {
  const auth = createAuth(deps.db, deps.clock);
  const audit = createAudit(deps.db);
  const alerts = createAlerts({ db: deps.db, clock: deps.clock, logger: deps.logger, metrics: deps.metrics, ports: deps.ports, ...(deps.alertIntervalMs ? { intervalMs: deps.alertIntervalMs } : {}) });
  const dashboards = createDashboardService(deps.ports, {
    timeoutMs: deps.panelTimeoutMs ?? 10_000,
    rowLimit: 5000,
    local: {
      alerts: async () => (await alerts.firing()).map((r) => ({ rule: r.id, description: r.description, kpi: r.kpi, value: r.value, threshold: `${r.op} ${r.threshold}`, since: r.since })),
      errorRates: () => errorRates(deps.metrics),
    },
  });
  const explorer = { rowLimit: deps.explorer?.rowLimit ?? 10_000, timeoutMs: deps.explorer?.timeoutMs ?? 5_000 };
  return {
    auth,
    audit,
    dashboards,
    alerts,
    routes: [biRoutes({ auth, audit, dashboards, alerts, ports: deps.ports, secureCookies: deps.secureCookies ?? false, explorer })],
    workers: [alerts.worker],
    async ensureAdmin() {
      const created = await auth.ensureAdmin();
      if (created) {
        deps.logger.warn({ username: created.username }, 'BI first run: admin user created; its generated password is printed once on stderr');
        process.stderr.write(`\nBI first-run admin credentials (shown once, change them): username=${created.username} password=${created.password}\n\n`);
      }
      return created;
    },
  };
}

/** HTTP requests and error shares per route, from this process's Prometheus counters. */
async function errorRates(metrics: Metrics): Promise<Record<string, unknown>[]> {
  const byRoute = new Map<string, { total: number; e4: number; e5: number }>();
  for (const v of (await metrics.httpRequests.get()).values) {
    const route = `${v.labels.method ?? ''} ${v.labels.route ?? ''}`;
    const e = byRoute.get(route) ?? { total: 0, e4: 0, e5: 0 };
    e.total += v.value;
    const status = Number(v.labels.status);
    if (status >= 500) e.e5 += v.value;
    else if (status >= 400) e.e4 += v.value;
    byRoute.set(route, e);
  }
  return [...byRoute].map(([route, e]) => ({ route, requests: e.total, '4xx': e.e4, '5xx': e.e5, error_rate: e.total ? Math.round((e.e5 / e.total) * 10_000) / 10_000 : 0 }))
    .sort((a, b) => b['5xx'] - a['5xx'] || b.requests - a.requests).slice(0, 20);
}
