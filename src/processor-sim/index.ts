import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { systemClock, type Clock } from '../platform/clock.js';
import type { Database } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { DEFAULT_SETTINGS, type SimContext, type SimSettings } from './context.js';
import { createFaults, type Faults } from './faults.js';
import { controlRoutes } from './control-http.js';
import { mpRoutes } from './mp-http.js';
import { buildSimApp } from './server.js';
import { memoryStore, pgStore } from './store.js';
import { tick } from './timers.js';

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
  /** Moves the simulator's clock forward (on top of the clock it was given). */
  advanceClock(ms: number): void;
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
  // The simulator's clock: the given one plus an offset the control API can move forward.
  const source = options.clock ?? systemClock;
  let offsetMs = 0;
  const clock: Clock = { now: () => new Date(source.now().getTime() + offsetMs) };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let closed = false;
  const ctx: SimContext = {
    store: options.db ? pgStore(options.db) : memoryStore(),
    clock,
    logger: options.logger,
    settings: { ...DEFAULT_SETTINGS, ...options.settings },
    faults: createFaults(),
    baseUrl: () => baseUrl,
    mp: { accessToken: options.mpAccessToken, webhookSecret: options.mpWebhookSecret, userId: 123_456_789 },
    wake: () => {
      if (tickMs > 0 && !closed) setImmediate(() => void runTick());
    },
  };
  const tickMs = options.tickMs ?? 500;
  // One pass at a time; a caller arriving mid-pass waits for it and then runs its own.
  const runTick = async (): Promise<void> => {
    while (running) await running;
    running = tick(ctx)
      .catch((err: unknown) => options.logger?.error({ err }, 'processor simulator tick failed'))
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const app = await buildSimApp(ctx, [
    mpRoutes(ctx),
    controlRoutes(ctx, {
      tick: runTick,
      advanceClock: (ms) => {
        offsetMs += ms;
      },
    }),
  ]);
  await app.listen({ port: options.port, host });
  const address = app.server.address();
  if (!options.publicUrl && address && typeof address === 'object') baseUrl = `http://${host}:${address.port}`;
  if (tickMs > 0) {
    timer = setInterval(() => void runTick(), tickMs);
    timer.unref();
  }
  options.logger?.info({ url: baseUrl, durable: options.db !== undefined }, 'processor simulator listening');
  return {
    url: baseUrl,
    app,
    faults: ctx.faults,
    tick: runTick,
    advanceClock: (ms: number) => {
      offsetMs += ms;
    },
    close: async () => {
      closed = true;
      clearInterval(timer);
      await app.close();
      while (running) await running;
      await ctx.store.flush();
    },
  };
}
