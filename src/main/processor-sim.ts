import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Clock } from '../platform/clock.js';
import type { Config } from '../platform/config.js';
import { openDatabase } from '../platform/database-server.js';
import type { Database } from '../platform/db.js';
import { createLogger, type Logger } from '../platform/log.js';
import { migrate } from '../platform/migrations.js';
import { generateMpCredentials, startProcessorSim, type ProcessorSim } from '../processor-sim/index.js';

/** What the rest of the platform needs to talk to the simulator it started. */
export interface SimulatorHandle {
  url: string;
  /** Bearer token Mercado Pago calls must carry (generated at start, never a constant). */
  mpAccessToken: string;
  /** Secret the simulator signs Mercado Pago webhooks with. */
  mpWebhookSecret: string;
  sim: ProcessorSim;
}

/**
 * Starts the simulator on SIM_PORT over the platform's database, with Mercado Pago test
 * credentials made now (crypto.randomBytes) unless given.
 */
export async function startSimulator(
  config: Config,
  deps: { db: Database; logger: Logger; clock?: Clock; credentials?: { accessToken: string; webhookSecret: string } },
): Promise<SimulatorHandle> {
  const credentials = deps.credentials ?? generateMpCredentials();
  const sim = await startProcessorSim({
    port: config.simPort,
    host: config.host,
    db: deps.db,
    logger: deps.logger.child({ component: 'processor-sim' }),
    ...(deps.clock ? { clock: deps.clock } : {}),
    mpAccessToken: credentials.accessToken,
    mpWebhookSecret: credentials.webhookSecret,
  });
  return { url: sim.url, mpAccessToken: credentials.accessToken, mpWebhookSecret: credentials.webhookSecret, sim };
}

/**
 * `embudo processor-sim`: the simulator alone (its own database connection, migrations applied).
 * Mercado Pago credentials come from --mp-access-token/--mp-webhook-secret or the
 * MP_ACCESS_TOKEN/MP_WEBHOOK_SECRET environment, else they are generated and printed.
 * `--scenario file.json` applies a scenario (settings, faults, webhook steering) at start;
 * `--memory` keeps state in memory instead of PostgreSQL.
 */
export async function processorSimCommand(args: string[], config: Config): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'mp-access-token': { type: 'string' },
      'mp-webhook-secret': { type: 'string' },
      memory: { type: 'boolean' },
      scenario: { type: 'string' },
    },
    strict: true,
  });
  const logger = createLogger(config.logLevel);
  const generated = generateMpCredentials();
  const credentials = {
    accessToken: values['mp-access-token'] ?? process.env.MP_ACCESS_TOKEN ?? generated.accessToken,
    webhookSecret: values['mp-webhook-secret'] ?? process.env.MP_WEBHOOK_SECRET ?? generated.webhookSecret,
  };
  const server = values.memory ? undefined : await openDatabase(config, logger, 'embudo-processor-sim');
  if (server) await migrate(server.db);
  const sim = await startProcessorSim({
    port: config.simPort,
    host: config.host,
    ...(server ? { db: server.db } : {}),
    logger,
    mpAccessToken: credentials.accessToken,
    mpWebhookSecret: credentials.webhookSecret,
  });
  if (values.scenario) {
    const res = await sim.app.inject({ method: 'POST', url: '/sim/scenario', payload: JSON.parse(readFileSync(values.scenario, 'utf8')) as Record<string, unknown> });
    if (res.statusCode !== 200) {
      process.stderr.write(`scenario ${values.scenario} refused: ${res.body}\n`);
      await sim.close();
      await server?.close();
      return 2;
    }
  }
  process.stdout.write(
    `\nProcessor simulator ready (${server ? 'durable' : 'in memory'})\n` +
      `  transbank     ${sim.url}/rswebpaytransaction/api/webpay/v1.2 (integration commerce codes and API key)\n` +
      `  mercadopago   ${sim.url}/v1/payments\n` +
      `  control       ${sim.url}/sim\n` +
      `  MP_ACCESS_TOKEN=${credentials.accessToken}\n  MP_WEBHOOK_SECRET=${credentials.webhookSecret}\n\n`,
  );
  return new Promise<number>((resolve) => {
    const stop = () => {
      void sim
        .close()
        .then(() => server?.close())
        .then(
          () => resolve(0),
          () => resolve(1),
        );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
