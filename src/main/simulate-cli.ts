import { parseArgs } from 'node:util';
import type { Config } from '../platform/config.js';
import { openDatabase } from '../platform/database-server.js';
import type { Database } from '../platform/db.js';
import { createLogger, type Logger } from '../platform/log.js';
import { migrate } from '../platform/migrations.js';
import { generatePlan, planSummary, runLive, simulateHistory, type HistoryResult } from '../simulate/index.js';
import { buildServices } from './contexts.js';

const USAGE = `Usage: embudo simulate <mode> [options]
  history   write past traffic through the services (manual clock in the past), then exit
            --days N (90) or --from YYYY-MM-DD --to YYYY-MM-DD, --orders-per-day N (40),
            --skus N (3000), --customers N (2000), --seed S (1), --concurrency N (8), --plan-only
            Run it while the platform is stopped (embedded mode: one process owns ./data/pg).
  live      drive the running platform over HTTP: --url (http://HOST:PORT), --sim-url
            (http://HOST:SIM_PORT), --rate orders/s (5), --duration seconds (60),
            --day-seconds N (60: one simulated day per minute, peaks included), --start
            YYYY-MM-DD (eve of the next CyberDay), --flat (no calendar), --seed S
Same seed, same traffic.`;

/** `embudo simulate history|live`. */
export async function simulateCommand(args: string[], config: Config): Promise<number> {
  const [mode, ...rest] = args;
  if (mode === 'history') return history(rest, config);
  if (mode === 'live') return live(rest, config);
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

function int(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer`);
  return n;
}

function day(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) throw new UsageError(`--${name} must be a date YYYY-MM-DD`);
  return d;
}

class UsageError extends Error {}

async function history(args: string[], config: Config): Promise<number> {
  let plan;
  let concurrency: number;
  try {
    const { values } = parseArgs({
      args,
      options: {
        days: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, 'orders-per-day': { type: 'string' },
        skus: { type: 'string' }, customers: { type: 'string' }, seed: { type: 'string' }, concurrency: { type: 'string' },
        'plan-only': { type: 'boolean' },
      },
      strict: true,
    });
    const today = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000);
    const to = day(values.to, 'to') ?? today;
    const from = day(values.from, 'from') ?? new Date(to.getTime() - int(values.days, 90, 'days') * 86_400_000);
    if (from >= to) throw new UsageError('--from must be before --to');
    concurrency = Math.max(1, int(values.concurrency, 8, 'concurrency'));
    plan = generatePlan({
      seed: values.seed ?? '1', from, to,
      ordersPerDay: int(values['orders-per-day'], 40, 'orders-per-day'),
      skuCount: int(values.skus, 3000, 'skus'),
      customerCount: int(values.customers, 2000, 'customers'),
    });
    process.stdout.write(`plan ${JSON.stringify({ from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10), ...planSummary(plan) })}\n`);
    if (values['plan-only']) return 0;
  } catch (err) {
    if (err instanceof UsageError || (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const server = await openDatabase(config, logger, 'embudo-simulate');
  try {
    await migrate(server.db);
    let shown = 0;
    const result = await simulateHistory({
      config, db: server.db, logger, buildServices, plan, concurrency,
      onProgress: (done, total) => {
        const pct = Math.floor((done / total) * 100);
        if (pct >= shown + 10) {
          shown = pct - (pct % 10);
          process.stdout.write(`  ${shown}% (${done}/${total} sessions)\n`);
        }
      },
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return result && Object.keys(result.errors).length === 0 ? 0 : 1;
  } finally {
    await server.close();
  }
}

async function live(args: string[], config: Config): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' }, 'sim-url': { type: 'string' }, rate: { type: 'string' }, duration: { type: 'string' },
      'day-seconds': { type: 'string' }, start: { type: 'string' }, flat: { type: 'boolean' }, seed: { type: 'string' },
    },
    strict: true,
  });
  const rate = Number(values.rate ?? 5);
  const duration = Number(values.duration ?? 60);
  const daySeconds = Number(values['day-seconds'] ?? 60);
  if (!(rate > 0) || !(duration > 0) || !(daySeconds > 0)) {
    process.stderr.write(`--rate, --duration and --day-seconds must be positive numbers\n${USAGE}\n`);
    return 2;
  }
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const start = values.start ? new Date(`${values.start}T00:00:00Z`) : undefined;
  const result = await runLive({
    baseUrl: values.url ?? `http://${config.host}:${config.port}`,
    simUrl: values['sim-url'] ?? config.processorBaseUrl ?? `http://${config.host}:${config.simPort}`,
    seed: values.seed ?? '1', rate, durationMs: duration * 1000, daySeconds,
    ...(start && !Number.isNaN(start.getTime()) ? { start } : {}),
    ...(values.flat ? { flat: true } : {}),
    signal: controller.signal,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}

/**
 * The first start's demo history (EMBUDO_SEED_HISTORY_DAYS, default 10): a small catalogue and
 * a few weeks of orders so the warehouse and BI have something real to show. Skipped when any
 * order exists. Runs before the platform's workers start, so its own payment consumer is the
 * only one; stops early (between windows) when `signal` aborts.
 */
export async function seedDemoHistory(deps: { config: Config; db: Database; logger: Logger }, signal?: AbortSignal): Promise<HistoryResult | undefined> {
  const days = deps.config.seedHistoryDays;
  if (days === 0) return undefined;
  const to = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
  const plan = generatePlan({
    seed: 'demo', from: new Date(to.getTime() - days * 86_400_000), to,
    ordersPerDay: 3, skuCount: 120, customerCount: 60, fraudEveryDays: 20,
  });
  const result = await simulateHistory({ ...deps, buildServices, plan, concurrency: 8, onlyIfNoOrders: true, ...(signal ? { signal } : {}) });
  if (!result) return undefined;
  deps.logger.info({ days, orders: result.orders, approved: result.approved, ms: result.ms, errors: result.errors }, 'demo history seeded');
  return result;
}
