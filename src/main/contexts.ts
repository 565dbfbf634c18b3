import type { Config } from '../platform/config.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db.js';
import type { HttpModule, ReadinessCheck } from '../platform/http.js';
import type { Logger } from '../platform/log.js';
import type { Metrics } from '../platform/metrics.js';
import type { Worker } from '../platform/worker.js';
import { createPayments } from '../payments/index.js';

/** What every context factory receives: one typed deps object, no container. */
export interface PlatformDeps {
  config: Config;
  db: Database;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  /**
   * The processor simulator this process started (embedded role 'all'), with the Mercado Pago
   * credentials it was given, so payments can default to it. Absent when none runs here.
   */
  simulator?: { url: string; mpAccessToken: string; mpWebhookSecret: string };
}

/** The roles `embudo serve --role` accepts; `all` is the embedded single process. */
export const ROLES = ['api', 'catalog', 'inventory', 'checkout', 'payments', 'events', 'analytics', 'bi', 'storefront'] as const;
export type Role = (typeof ROLES)[number];

/** One context as the composition root sees it. */
export interface ContextRuntime {
  name: string;
  /** The roles that serve this context; every context is served by `all`. */
  roles: Role[];
  routes?: HttpModule[];
  workers?: Worker[];
  readiness?: Record<string, ReadinessCheck>;
  /** Runs once after migrations (e.g. demo seed on first start). */
  seed?: () => Promise<void>;
  close?: () => Promise<void>;
}

/**
 * Builds every context with plain factories, wiring each to the interfaces of the others.
 * Each context adds itself here.
 */
export async function buildContexts(deps: PlatformDeps): Promise<ContextRuntime[]> {
  const payments = createPayments(deps);
  return [
    { name: 'payments', roles: ['api', 'payments'], routes: [payments.routes], workers: payments.workers, close: () => payments.settle() },
  ];
}
