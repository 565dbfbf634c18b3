import { spawn } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { ConfigError, loadConfig, type Config } from '../platform/config.js';
import { ROLES, type Role } from './roles.js';
import type { RunningPlatform } from './platform.js';
import type { Logger } from '../platform/log.js';

// Commands load their code when run: `embudo help` stays instant, and `start` loads the
// platform while its embedded PostgreSQL starts (see runUntilSignal).

const HELP = `embudo — retail commerce data platform

Usage: embudo <command> [options]

Commands:
  start                  everything in one process (embedded PostgreSQL unless DATABASE_URL is set)
  serve --role <role>    one context per process: ${ROLES.join(', ')}
  migrate                apply pending database migrations and exit
  pg-template            build the embedded cluster template first starts copy (start does it when missing)
  seed                   load the demo catalog and history
  payments rotate-kek    re-wrap saved-card data keys under the current key-encryption key
  events <sub>           event backbone: dead-letters, replay <id>, rebuild <consumer>, catalog, archive
  processor-sim          the Transbank / Mercado Pago simulator alone (SIM_PORT)
  inventory-check        verify stock levels against the movement ledger; exit 1 on drift
  etl run | backfill --from D --to D   load the warehouse (incremental / a date window)
  simulate history|live  realistic traffic: months of past orders through the services, or live HTTP load
  bench [name]           run one benchmark, or all (same as npm run bench)
  ha-lab                 a primary + synchronous standby on loopback to try failover (see README)
  help                   this text

Environment: PORT (3000), HOST (127.0.0.1), EMBUDO_DATA_DIR (./data), DATABASE_URL, NATS_URL,
SIM_PORT (3100), LOG_LEVEL (info). Payments: TBK_BASE_URL, TBK_COMMERCE_CODE, TBK_API_KEY,
TBK_MALL_CHILD_CODE, TBK_ONECLICK_COMMERCE_CODE, TBK_ONECLICK_CHILD_CODE, MP_BASE_URL, MP_ACCESS_TOKEN,
MP_WEBHOOK_SECRET, EMBUDO_KEK, EMBUDO_KEK_PREVIOUS, PROCESSOR_TIMEOUT_MS (unset: the simulator). See README.md.`;

/** A subcommand: receives the remaining arguments and the validated config. */
export type Command = (args: string[], config: Config) => Promise<number>;

const commands: Record<string, Command> = {
  start: async (_args, config) => runUntilSignal(config, 'all'),
  serve: async (args, config) => {
    const { values } = parseArgs({ args, options: { role: { type: 'string' } }, strict: true });
    const role = values.role;
    if (!role || !(ROLES as readonly string[]).includes(role)) {
      process.stderr.write(`serve needs --role, one of: ${ROLES.join(', ')}\n`);
      return 2;
    }
    return runUntilSignal(config, role as Role);
  },
  migrate: async (_args, config) => {
    const [{ createLogger }, { openDatabase }, { migrate }] = await Promise.all([
      import('../platform/log.js'), import('../platform/database-server.js'), import('../platform/migrations.js'),
    ]);
    const logger = createLogger(config.logLevel);
    const server = await openDatabase(config, logger, 'embudo-migrate');
    try {
      const { applied, skipped } = await migrate(server.db);
      process.stdout.write(`applied ${applied.length} migration(s), ${skipped} already applied\n`);
      for (const id of applied) process.stdout.write(`  ${id}\n`);
      return 0;
    } finally {
      await server.close();
    }
  },
  'pg-template': async (_args, config) => {
    const [{ createLogger }, { buildTemplate }] = await Promise.all([import('../platform/log.js'), import('../platform/database-server.js')]);
    const built = await buildTemplate(config, createLogger(config.logLevel));
    process.stdout.write(built ? 'built the cluster template\n' : 'cluster template present, being built, or disabled\n');
    return 0;
  },
  seed: async (_args, config) => {
    const { startPlatform } = await import('./platform.js');
    const platform = await startPlatform({ ...config, seed: true }, { role: 'all', listen: false });
    await platform.stop();
    process.stdout.write('seeded\n');
    return 0;
  },
  payments: async (args, config) => {
    if (args[0] !== 'rotate-kek') {
      process.stderr.write('usage: embudo payments rotate-kek\n');
      return 2;
    }
    const [{ createLogger }, { openDatabase }, { migrate }, { createPayments }, { createMetrics }, { systemClock }] = await Promise.all([
      import('../platform/log.js'), import('../platform/database-server.js'), import('../platform/migrations.js'),
      import('../payments/index.js'), import('../platform/metrics.js'), import('../platform/clock.js'),
    ]);
    const logger = createLogger(config.logLevel);
    const server = await openDatabase(config, logger, 'embudo-rotate-kek');
    try {
      await migrate(server.db);
      const payments = createPayments({ config, db: server.db, logger, metrics: createMetrics(), clock: systemClock });
      const r = await payments.rotateKek();
      process.stdout.write(`current key ${r.newKeyId}: rewrapped ${r.rewrapped} saved card key(s)\n`);
      return 0;
    } finally {
      await server.close();
    }
  },
  'inventory-check': async (_args, config) => {
    const [{ createLogger }, { openDatabase }, { createInventory }, { createMetrics }, { systemClock }] = await Promise.all([
      import('../platform/log.js'), import('../platform/database-server.js'), import('../inventory/index.js'),
      import('../platform/metrics.js'), import('../platform/clock.js'),
    ]);
    const logger = createLogger(config.logLevel);
    const server = await openDatabase(config, logger, 'embudo-inventory-check');
    try {
      const inventory = createInventory({ db: server.db, logger, metrics: createMetrics(), clock: systemClock });
      const report = await inventory.checkInvariants();
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return report.ok ? 0 : 1;
    } finally {
      await server.close();
    }
  },
  events: async (args, config) => (await import('./events-cli.js')).eventsCommand(args, config),
  bench: async (args) => {
    const { runBenchmarks } = await import('../../bench/run.js');
    return runBenchmarks(args);
  },
  'ha-lab': async (args, config) => {
    const { haLab } = await import('./ha-lab.js');
    return haLab(args, config);
  },
  help: async () => {
    process.stdout.write(`${HELP}\n`);
    return 0;
  },
};

/** Registers another subcommand (simulate, etl, processor-sim, ...). */
export function registerCommand(name: string, command: Command): void {
  commands[name] = command;
}

registerCommand('processor-sim', async (args, config) => (await import('./processor-sim.js')).processorSimCommand(args, config));
registerCommand('etl', async (args, config) => (await import('./etl-cli.js')).etlCommand(args, config));
registerCommand('simulate', async (args, config) => (await import('./simulate-cli.js')).simulateCommand(args, config));

async function runUntilSignal(config: Config, role: Role | 'all'): Promise<number> {
  // A fixed heap growing factor instead of V8's dynamic one (up to 4× the live heap after a
  // busy spell): under load the process kept ~200 MB of garbage, and the embedded mode's
  // 400 MB resident target was passed. Read by V8 at every full collection, so setting it
  // here, with the heap still small, is enough.
  if (config.heapGrowingPercent > 0) v8.setFlagsFromString(`--heap-growing-percent=${config.heapGrowingPercent}`);
  // Signals are handled from the first moment: one arriving during start-up stops the
  // platform as soon as it is up, instead of killing it half-started.
  let signalled: NodeJS.Signals | undefined;
  let onStop: (() => void) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      process.stderr.write(`second ${signal}: exiting now\n`);
      process.exit(1);
    }
    signalled = signal;
    const force = setTimeout(() => {
      process.stderr.write('shutdown grace period elapsed: exiting\n');
      process.exit(1);
    }, config.shutdownGraceMs);
    force.unref();
    onStop?.();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  // The embedded server's start-up (initdb on a first start) runs in its own processes while
  // this one loads the platform's code.
  // Each stage's end, ms since the process started: logged once ready.
  const stages: Record<string, number> = {};
  const mark = (stage: string) => void (stages[stage] = Math.round(performance.now()));
  const [{ createLogger }, { startEmbedded }] = await Promise.all([import('../platform/log.js'), import('../platform/database-server.js')]);
  const logger = createLogger(config.logLevel);
  mark('boot');
  let initdbRunning: () => void = () => undefined;
  const launched = new Promise<void>((resolve) => (initdbRunning = resolve));
  const embedded = config.databaseUrl ? undefined : startEmbedded(config, logger, { mark, onInitdbRunning: initdbRunning });
  embedded?.catch(() => undefined); // awaited (and reported) by startPlatform
  // Loading the platform's code keeps this thread busy for most of a second: launch initdb
  // (a first start's longest step, in processes of its own) before that, not after.
  if (embedded) await Promise.race([launched, embedded.then(() => undefined, () => undefined)]);
  let platform: RunningPlatform;
  try {
    const { startPlatform } = await import('./platform.js');
    mark('code');
    platform = await startPlatform(config, { role, logger, mark, ...(embedded ? { embedded } : {}) });
  } catch (err) {
    await embedded?.then((e) => e.stop()).catch(() => undefined);
    throw err;
  }
  printReady(platform, role);
  logger.info({ stages }, 'start-up stages (ms since the process started)');
  if (platform.database.embedded?.templateMissing) buildTemplateInBackground(logger);
  await new Promise<void>((resolve) => {
    onStop = resolve;
    if (signalled) resolve();
  });
  platform.logger.info({ signal: signalled }, 'shutting down: draining requests');
  try {
    await platform.stop();
    return 0;
  } catch (err) {
    platform.logger.error({ err }, 'shutdown failed');
    return 1;
  }
}

/**
 * This first start ran initdb: the next ones copy a template, built now by a process of its
 * own at the lowest priority (it outlives this one if stopped first; its PostgreSQL children
 * inherit the priority).
 */
function buildTemplateInBackground(logger: Logger): void {
  const script = process.argv[1];
  if (!script) return;
  try {
    const child = spawn(process.execPath, [...process.execArgv, script, 'pg-template'], { detached: true, stdio: 'ignore' });
    child.on('error', (err) => logger.warn({ err }, 'could not build the cluster template'));
    if (child.pid) os.setPriority(child.pid, 19);
    child.unref();
    logger.info({ pid: child.pid }, 'building the cluster template in the background (first starts will copy it)');
  } catch (err) {
    logger.warn({ err }, 'could not build the cluster template');
  }
}

function printReady(platform: RunningPlatform, role: Role | 'all'): void {
  const width = Math.max(...Object.keys(platform.urls).map((k) => k.length));
  const lines = Object.entries(platform.urls).map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  process.stdout.write(`\nEmbudo (${role}) ready in ${Math.round(performance.now())} ms\n${lines.join('\n')}\n\n`);
}

/** The `embudo` entry point. */
export async function main(argv: string[]): Promise<number> {
  const [name = 'help', ...rest] = argv;
  const command = commands[name === '--help' || name === '-h' ? 'help' : name];
  if (!command) {
    process.stderr.write(`unknown command "${name}"\n\n${HELP}\n`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  return command(rest, config);
}
