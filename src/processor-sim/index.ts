import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { systemClock, type Clock } from '../platform/clock.js';
import type { Database } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { DEFAULT_SETTINGS, type SimContext, type SimSettings } from './context.js';
import { createFaults, type Faults } from './faults.js';
import { buildSimApp } from './server.js';
import { memoryStore, pgStore } from './store.js';

export type { SimSettings } from './context.js';
export type { FaultKind, FaultRule, WebhookFaults } from './faults.js';

export interface ProcessorSimOptions {
  port: number;
  host?: string;
  /** Durable state (tables sim_*); without it the simulator keeps everything in memory. */
  db?: Database;
  clock?: Clock;
  logger?: Logger;
  /** The access token Mercado Pago clients must send as `Authorization: Bearer ...`. */
  mpAccessToken: string;
  /** The secret Mercado Pago webhooks are signed with. */
  mpWebhookSecret: string;
  /** The URL browsers and SDKs use (default http://host:port). */
  publicUrl?: string;
  settings?: Partial<SimSettings>;
  /** Background loop period for webhooks and timers (ms); 0 disables it (tests call tick()). */
  tickMs?: number;
}

export interface ProcessorSim {
  url: string;
  /** The HTTP app, for `inject()` in tests. */
  app: FastifyInstance;
  faults: Faults;
  /** Runs due timers and webhook deliveries now (tests with a manual clock call it). */
  tick(): Promise<void>;
  close(): Promise<void>;
}

/** Random test credentials, made at start in the composition root. */
export function generateMpCredentials(): { accessToken: string; webhookSecret: string } {
  return {
    accessToken: `TEST-${randomBytes(8).toString('hex')}-${randomBytes(16).toString('hex')}`,
    webhookSecret: randomBytes(32).toString('hex'),
  };
}

/**
 * Starts the processor simulator: Transbank (Webpay Plus, Webpay Plus Mall, Oneclick Mall
 * REST v1.2) and Mercado Pago (payments, card tokens, refunds, signed webhooks) on their real
 * paths, plus the /sim control API.
 *
 * @example
 * const sim = await startProcessorSim({ port: 3100, db, mpAccessToken, mpWebhookSecret });
 * const tx = new WebpayPlus.Transaction(new Options('597055555532', IntegrationApiKeys.WEBPAY, sim.url));
 */
export async function startProcessorSim(options: ProcessorSimOptions): Promise<ProcessorSim> {
  const host = options.host ?? '127.0.0.1';
  let baseUrl = options.publicUrl ?? `http://${host}:${options.port}`;
  const ctx: SimContext = {
    store: options.db ? pgStore(options.db) : memoryStore(),
    clock: options.clock ?? systemClock,
    logger: options.logger,
    settings: { ...DEFAULT_SETTINGS, ...options.settings },
    faults: createFaults(),
    baseUrl: () => baseUrl,
    mp: { accessToken: options.mpAccessToken, webhookSecret: options.mpWebhookSecret, userId: 123_456_789 },
    wake: () => undefined,
  };
  const app = await buildSimApp(ctx);
  await app.listen({ port: options.port, host });
  const address = app.server.address();
  if (!options.publicUrl && address && typeof address === 'object') baseUrl = `http://${host}:${address.port}`;
  return {
    url: baseUrl,
    app,
    faults: ctx.faults,
    tick: async () => undefined,
    close: async () => {
      await app.close();
    },
  };
}
