import { parseArgs } from 'node:util';
import { createAnalytics } from '../analytics/index.js';
import { createEventBus } from '../events/index.js';
import type { Config } from '../platform/config.js';
import { systemClock } from '../platform/clock.js';
import { openDatabase } from '../platform/database-server.js';
import { createLogger } from '../platform/log.js';
import { createMetrics } from '../platform/metrics.js';
import { migrate } from '../platform/migrations.js';

const USAGE = `Usage: embudo etl <subcommand>
  run                                 land new events (analytics.etl consumer) and load them past the high-water mark
  backfill --from YYYY-MM-DD --to YYYY-MM-DD   reload landed events of [from, to) (idempotent), rewrite the lake
Both rebuild the market-research silo. Stop the analytics role first: one process holds the DuckDB file.`;

/** `embudo etl run|backfill`. */
export async function etlCommand(args: string[], config: Config): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'run' && sub !== 'backfill') {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let from: Date | undefined;
  let to: Date | undefined;
  if (sub === 'backfill') {
    const { values } = parseArgs({ args: rest, options: { from: { type: 'string' }, to: { type: 'string' } }, strict: true });
    from = values.from ? new Date(`${values.from}T00:00:00Z`) : undefined;
    to = values.to ? new Date(`${values.to}T00:00:00Z`) : undefined;
    if (!from || !to || Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) {
      process.stderr.write(`backfill needs --from and --to dates, from < to\n${USAGE}\n`);
      return 2;
    }
  }
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const server = await openDatabase(config, logger, 'embudo-etl');
  const metrics = createMetrics();
  const events = createEventBus({ db: server.db, logger, metrics, clock: systemClock, natsUrl: config.natsUrl });
  const analytics = createAnalytics({ db: server.db, logger, metrics, clock: systemClock, dataDir: config.dataDir, events });
  try {
    await migrate(server.db);
    if (sub === 'run') {
      // Drain the durable consumer into the landing table (up to the outbox's head when the
      // drain began: a landing count that stood still for a moment only meant a batch was
      // still running), then load.
      const consumer = analytics.workers.find((w) => w.name.includes('analytics.etl'));
      if (!consumer) throw new Error('the analytics.etl consumer is missing');
      consumer.start();
      try {
        await events.drained('analytics.etl');
      } finally {
        await consumer.stop();
      }
      const r = await analytics.runEtl();
      await analytics.exportLake();
      process.stdout.write(`loaded ${r.loaded} event(s); high-water mark ${r.highWaterMark}\n`);
    } else if (from && to) {
      const r = await analytics.backfill(from, to);
      process.stdout.write(`backfill ${from.toISOString().slice(0, 10)}..${to.toISOString().slice(0, 10)}: ${r.events} event(s), ${r.inserted} new\n`);
    }
    const silo = await analytics.refreshSilo();
    process.stdout.write(`market-research silo: ${silo} row(s)\n`);
    return 0;
  } finally {
    await analytics.close();
    await events.close();
    await server.close();
  }
}
