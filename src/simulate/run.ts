import type { Config } from '../platform/config.js';
import { manualClock } from '../platform/clock.js';
import type { Database } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { createMetrics } from '../platform/metrics.js';
import { createEventBus } from '../events/index.js';
import { generateMpCredentials, startProcessorSim } from '../processor-sim/index.js';
import type { PlatformDeps, Services } from '../main/contexts.js';
import { runHistory, type HistoryResult } from './history.js';
import type { Plan } from './plan.js';

export interface SimulateHistoryInput {
  config: Config;
  db: Database;
  logger: Logger;
  /** The composition root's factory (src/main/contexts.ts buildServices). */
  buildServices: (deps: PlatformDeps) => Services;
  plan: Plan;
  concurrency?: number;
  /** Do nothing when the shop already has orders (the first start's demo seed). */
  onlyIfNoOrders?: boolean;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * Writes a plan's past traffic through the real services: a manual clock set at the plan's
 * start, a processor simulator of its own on the same database (state in sim_* tables, so the
 * platform's janitor can still ask about these payments later) and the checkout's payment
 * consumer running, so each outcome moves its order exactly as in production.
 */
export async function simulateHistory(input: SimulateHistoryInput): Promise<HistoryResult | undefined> {
  const { config, db, logger, plan } = input;
  const startAt = plan.sessions[0]?.at ?? new Date();
  const clock = manualClock(new Date(startAt.getTime() - 86_400_000));
  const credentials = generateMpCredentials();
  // tickMs 0: no background webhook deliveries; history settles cash payments through the janitor.
  const sim = await startProcessorSim({
    port: 0, host: '127.0.0.1', db, clock, mpAccessToken: credentials.accessToken, mpWebhookSecret: credentials.webhookSecret, tickMs: 0,
  });
  const metrics = createMetrics();
  // In-process delivery (even when NATS is configured): the consumer's inbox keeps a later NATS
  // delivery of the same events from applying them twice.
  const events = createEventBus({ db, logger, metrics, clock, pollMs: 100 });
  const services = input.buildServices({
    // Its own simulator answers every step directly, so no notification is needed; a refused
    // port keeps its webhooks away from a platform that may already be listening (the first
    // start seeds in the background), which would reject their signatures.
    config: { ...config, natsUrl: undefined, publicBaseUrl: 'http://127.0.0.1:9', payments: { ...config.payments, tbkDefaulted: true, mpDefaulted: true } },
    db, logger, metrics, clock, events,
    simulator: { url: sim.url, mpAccessToken: credentials.accessToken, mpWebhookSecret: credentials.webhookSecret },
  });
  if (input.onlyIfNoOrders && (await services.checkout.queries.listOrders({ limit: 1 })).orders.length > 0) {
    await services.inventory.close();
    await events.close();
    await sim.close();
    return undefined;
  }
  const consumers = services.checkout.workers.filter((w) => w.name.includes('checkout.payments'));
  for (const w of consumers) w.start();
  try {
    return await runHistory(plan, {
      services, clock, simUrl: sim.url, logger,
      ...(input.concurrency !== undefined ? { concurrency: input.concurrency } : {}),
      ...(input.onProgress ? { onProgress: input.onProgress } : {}),
      ...(input.signal ? { signal: input.signal } : {}),
    });
  } finally {
    await Promise.all(consumers.map((w) => w.stop()));
    await services.payments.settle();
    await services.inventory.close();
    await events.close();
    await sim.close();
  }
}
