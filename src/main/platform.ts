import type { Config } from '../platform/config.js';
import { systemClock, type Clock } from '../platform/clock.js';
import { openDatabase, type DatabaseServer } from '../platform/database-server.js';
import type { EmbeddedServer } from '../platform/embedded-postgres.js';
import { createHttpApp, type HttpApp, type HttpModule, type ReadinessCheck } from '../platform/http.js';
import { createLogger, type Logger } from '../platform/log.js';
import { createMetrics } from '../platform/metrics.js';
import { migrate, migrationsDone } from '../platform/migrations.js';
import { buildContexts, type ContextRuntime, type Role } from './contexts.js';
import { startSimulator } from './processor-sim.js';

export interface RunningPlatform {
  app: HttpApp;
  database: DatabaseServer;
  contexts: ContextRuntime[];
  logger: Logger;
  /** Printed at start: everything that listens, by name. */
  urls: Record<string, string>;
  readyMs: number;
  /** The processor simulator started with this process (role 'all'), and its MP credentials. */
  simulator?: { url: string; mpAccessToken: string; mpWebhookSecret: string };
  stop(): Promise<void>;
}

export interface StartOptions {
  role: Role | 'all';
  clock?: Clock;
  logger?: Logger;
  /** Listen on the configured port (false: build only, for tests using inject). */
  listen?: boolean;
  /** Extra routes (tests, tools) registered beside the contexts'. */
  modules?: HttpModule[];
  /** The embedded PostgreSQL, already starting (the CLI starts it while the code loads). */
  embedded?: Promise<EmbeddedServer>;
  /** Called at each start-up stage, for the ready line's timings. */
  mark?: (stage: string) => void;
}

/**
 * Starts the platform: database (embedded or `DATABASE_URL`), migrations, every context the
 * role serves, HTTP, and background workers. `stop()` drains in-flight requests first.
 */
export async function startPlatform(config: Config, options: StartOptions): Promise<RunningPlatform> {
  const started = performance.now();
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = createMetrics();
  const mark = options.mark ?? (() => undefined);
  const database = await openDatabase(config, logger, `embudo-${options.role}`, metrics.registry, options.embedded);
  mark('connected');
  const stack: (() => Promise<void>)[] = [() => database.close()];
  const unwind = async () => {
    for (const fn of stack.reverse()) await fn().catch((err: unknown) => logger.error({ err }, 'shutdown step failed'));
  };
  try {
    const { applied } = await migrate(database.db);
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    mark('migrations');

    // The simulator starts first so payments can be handed its URL and the same MP credentials.
    let simulator: RunningPlatform['simulator'];
    if (options.role === 'all' && config.startSimulator && options.listen !== false) {
      const started = await startSimulator(config, { db: database.db, logger, ...(options.clock ? { clock: options.clock } : {}) });
      stack.push(() => started.sim.close());
      simulator = { url: started.url, mpAccessToken: started.mpAccessToken, mpWebhookSecret: started.mpWebhookSecret };
      mark('simulator');
    }

    const all = await buildContexts({
      config,
      db: database.db,
      logger,
      metrics,
      clock: options.clock ?? systemClock,
      ...(simulator ? { simulator } : {}),
    });
    const contexts = options.role === 'all' ? all : all.filter((c) => c.roles.includes(options.role as Role));
    mark('contexts');
    stack.push(async () => {
      for (const c of contexts) await c.close?.();
    });
    // A first start: the migrations ran here, or came with the embedded cluster's template.
    const seeding = applied.length > 0 || config.seed || database.embedded?.created === true;
    // A first start's seeds (catalogue, stock, BI admin) wait on the database; the HTTP app is
    // built on this thread meanwhile.
    const seeded = seeding ? seedAll(contexts, mark) : Promise.resolve();
    seeded.catch(() => undefined); // awaited below
    const backgroundSeeds = seeding ? contexts.flatMap((c) => (c.seedInBackground ? [c.seedInBackground] : [])) : [];

    let app: HttpApp;
    try {
      app = await createHttpApp({
        logger,
        metrics,
        readiness: {
          database: async () => ((await database.db.ping()) ? undefined : 'database unreachable'),
          migrations: async () => ((await migrationsDone(database.db)) ? undefined : 'migrations pending'),
          ...contexts.reduce<Record<string, ReadinessCheck>>((acc, c) => ({ ...acc, ...c.readiness }), {}),
        },
        modules: [...contexts.flatMap((c) => c.routes ?? []), ...(options.modules ?? [])],
        admin: { token: config.adminToken },
        ...(config.httpMaxInFlight !== undefined ? { maxInFlight: config.httpMaxInFlight } : {}),
      });
    } catch (err) {
      await seeded.catch(() => undefined);
      throw err;
    }
    stack.push(() => app.close());
    mark('http');
    await seeded;
    if (seeding) mark('seed');
    if (options.listen === false) {
      for (const s of backgroundSeeds) await s(new AbortController().signal);
      backgroundSeeds.length = 0;
    }

    const urls: Record<string, string> = {};
    if (options.listen !== false) {
      await app.listen({ port: config.port, host: config.host });
      const address = app.server.address();
      const port = address && typeof address === 'object' ? address.port : config.port;
      const base = config.publicBaseUrl ?? `http://${config.host}:${port}`;
      urls.api = base;
      if (options.role === 'all' || options.role === 'storefront') urls.shop = `${base}/`;
      if (options.role === 'all' || options.role === 'bi') urls.bi = `${base}/bi`;
      urls.docs = `${base}/docs`;
      urls.metrics = `${base}/metrics`;
      mark('listen');
    }
    if (simulator) urls.processorSim = `${simulator.url}/sim`;
    urls.database = database.embedded
      ? `postgres://127.0.0.1:${database.embedded.port}/embudo (embedded, data in ${config.dataDir}/pg)`
      : redactUrl(database.url);
    if (config.replicaUrls.length > 0) urls.replicas = config.replicaUrls.map(redactUrl).join(' ');

    const workers = contexts.flatMap((c) => c.workers ?? []);
    // A first start's slow seeds run while requests are served; the workers start once they
    // are done (the history's own payment consumer is then the only one applying its
    // outcomes, on its own clock). Work that arrives meanwhile waits in the outbox.
    const seedsStop = new AbortController();
    const background = (async () => {
      for (const s of backgroundSeeds) {
        const t0 = performance.now();
        await s(seedsStop.signal).catch((err: unknown) => logger.error({ err }, 'background seed failed'));
        logger.info({ ms: Math.round(performance.now() - t0), stopped: seedsStop.signal.aborted }, 'background seed done');
      }
      if (!seedsStop.signal.aborted) for (const w of workers) w.start();
    })();
    stack.push(async () => {
      seedsStop.abort();
      await background;
      await Promise.all(workers.map((w) => w.stop()));
    });

    let stopping: Promise<void> | undefined;
    return {
      app,
      database,
      contexts,
      logger,
      urls,
      readyMs: Math.round(performance.now() - started),
      ...(simulator ? { simulator } : {}),
      stop: () => (stopping ??= unwind()),
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/**
 * Runs the contexts' seeds at once, each after the seeds named in its `seedAfter` (when they
 * run here); fails with the first failure once every seed has settled.
 */
async function seedAll(contexts: ContextRuntime[], mark: (stage: string) => void): Promise<void> {
  const seeds = new Map<string, Promise<void>>();
  for (const c of contexts) {
    const seed = c.seed;
    if (!seed) continue;
    const before = (c.seedAfter ?? []).flatMap((name) => seeds.get(name) ?? []);
    seeds.set(c.name, Promise.all(before).then(async () => {
      await seed();
      mark(`seed:${c.name}`);
    }));
  }
  const results = await Promise.allSettled(seeds.values());
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function redactUrl(url: string): string {
  // Multi-host URLs (h1:p1,h2:p2) are not WHATWG URLs: redact the password by hand.
  return url.replace(/^(postgres(?:ql)?:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}
