import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../platform/config.js';
import { openDatabase } from '../platform/database-server.js';
import { createLogger } from '../platform/log.js';
import { migrate } from '../platform/migrations.js';
import { ROLES, type Role } from './contexts.js';
import { startPlatform, type RunningPlatform } from './platform.js';

const HELP = `embudo — retail commerce data platform

Usage: embudo <command> [options]

Commands:
  start                  everything in one process (embedded PostgreSQL unless DATABASE_URL is set)
  serve --role <role>    one context per process: ${ROLES.join(', ')}
  migrate                apply pending database migrations and exit
  seed                   load the demo catalog and history
  bench [name]           run one benchmark, or all (same as npm run bench)
  ha-lab                 a primary + synchronous standby on loopback to try failover (see README)
  help                   this text

Environment: PORT (3000), HOST (127.0.0.1), EMBUDO_DATA_DIR (./data), DATABASE_URL, NATS_URL,
SIM_PORT (3100), LOG_LEVEL (info). See README.md.`;

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
  seed: async (_args, config) => {
    const platform = await startPlatform({ ...config, seed: true }, { role: 'all', listen: false });
    await platform.stop();
    process.stdout.write('seeded\n');
    return 0;
  },
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

async function runUntilSignal(config: Config, role: Role | 'all'): Promise<number> {
  const platform = await startPlatform(config, { role });
  return new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        platform.logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      signalled = true;
      platform.logger.info({ signal }, 'shutting down: draining requests');
      const force = setTimeout(() => {
        platform.logger.error('shutdown grace period elapsed: exiting');
        process.exit(1);
      }, config.shutdownGraceMs);
      force.unref();
      platform.stop().then(
        () => resolve(0),
        (err: unknown) => {
          platform.logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // Only now: whoever waits for "ready" may signal at once, and must find the handlers.
    printReady(platform, role);
  });
}

function printReady(platform: RunningPlatform, role: Role | 'all'): void {
  const width = Math.max(...Object.keys(platform.urls).map((k) => k.length));
  const lines = Object.entries(platform.urls).map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  process.stdout.write(`\nEmbudo (${role}) ready in ${platform.readyMs} ms\n${lines.join('\n')}\n\n`);
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
