import { parseArgs } from 'node:util';
import { archiveOutbox, createEventBus, listDeadLetters, rebuildConsumer, requestReplay } from '../events/index.js';
import type { Config } from '../platform/config.js';
import { systemClock } from '../platform/clock.js';
import { openDatabase } from '../platform/database-server.js';
import { createLogger } from '../platform/log.js';
import { createMetrics } from '../platform/metrics.js';
import { migrate } from '../platform/migrations.js';
import { buildContexts } from './contexts.js';

const USAGE = `Usage: embudo events <subcommand>
  dead-letters                 list dead-lettered events
  replay <dead-letter-id>      ask the consumer to run a dead-lettered event again
  rebuild <consumer>           reset a consumer's position and inbox: it re-reads the outbox from the start
  catalog                      print the event catalogue (Markdown) from the registered schemas
  archive [--retention-days N] archive published events older than N days (default 7) to the lake`;

/** `embudo events ...`: operator commands for the event backbone. */
export async function eventsCommand(args: string[], config: Config): Promise<number> {
  const [sub, ...rest] = args;
  const out = (s: string) => process.stdout.write(`${s}\n`);
  if (!sub || !['dead-letters', 'replay', 'rebuild', 'catalog', 'archive'].includes(sub)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const server = await openDatabase(config, logger, 'embudo-events-cli');
  const db = server.db;
  try {
    await migrate(db);
    switch (sub) {
      case 'dead-letters': {
        const rows = await listDeadLetters(db);
        if (rows.length === 0) out('no dead letters');
        for (const r of rows) {
          out(`${r.id}\t${r.status}\t${r.consumer}\t${r.type}\t${r.eventId}\tattempts=${r.attempts}\t${r.error}`);
        }
        return 0;
      }
      case 'replay': {
        const id = Number(rest[0]);
        if (!Number.isInteger(id) || id <= 0) {
          process.stderr.write('replay needs a dead letter id (see `embudo events dead-letters`)\n');
          return 2;
        }
        if (!(await requestReplay(db, id))) {
          process.stderr.write(`no dead letter ${id} waiting for replay\n`);
          return 1;
        }
        out(`dead letter ${id}: replay requested; its consumer runs it on its next iteration`);
        return 0;
      }
      case 'rebuild': {
        const consumer = rest[0];
        if (!consumer) {
          process.stderr.write('rebuild needs a consumer name\n');
          return 2;
        }
        const bus = config.natsUrl ? createEventBus({ db, logger, metrics: createMetrics(), natsUrl: config.natsUrl }) : undefined;
        try {
          const removed = await rebuildConsumer(db, consumer, bus ? await bus.nats() : undefined);
          out(`consumer ${consumer}: position reset, ${removed} inbox row(s) removed; it re-reads from the start`);
        } finally {
          await bus?.close();
        }
        return 0;
      }
      case 'catalog': {
        const metrics = createMetrics();
        const events = createEventBus({ db, logger, metrics });
        const contexts = await buildContexts({ config, db, logger, metrics, clock: systemClock, events });
        out(events.catalog());
        for (const c of contexts) await c.close?.();
        return 0;
      }
      case 'archive': {
        const { values } = parseArgs({ args: rest, options: { 'retention-days': { type: 'string' } }, strict: true });
        const days = Number(values['retention-days'] ?? 7);
        if (!Number.isFinite(days) || days < 0) {
          process.stderr.write('--retention-days must be a number ≥ 0\n');
          return 2;
        }
        const r = await archiveOutbox(db, { dataDir: config.dataDir, retentionMs: days * 86_400_000, now: new Date(), natsMode: Boolean(config.natsUrl) });
        out(`archived ${r.archived} event(s) into ${r.files.length} file(s)`);
        for (const f of r.files) out(`  ${f}`);
        return 0;
      }
      default:
        return 2;
    }
  } finally {
    await server.close();
  }
}
