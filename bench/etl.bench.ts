// The warehouse ETL's speed: a generated backfill through the full pipeline (staging with
// dedupe → star schema → quality checks → commit) against DuckDB loading the same rows from a
// Parquet file in the same run, and commit-to-visible freshness under a steady 1,000 orders/s
// (outbox → analytics.etl consumer → landing → streaming worker → fact_order_line).
// Needs PostgreSQL at BENCH_DATABASE_URL (a scratch database is created and dropped).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { DuckDBInstance } from '@duckdb/node-api';
import { createAnalytics } from '../src/analytics/index.js';
import { appendEvents, createEventBus, type EventEnvelope } from '../src/events/index.js';
import { systemClock } from '../src/platform/clock.js';
import { createDatabase, type Db } from '../src/platform/db.js';
import { withDatabase } from '../src/platform/embedded-postgres.js';
import { createLogger } from '../src/platform/log.js';
import { createMetrics } from '../src/platform/metrics.js';
import { migrate } from '../src/platform/migrations.js';
import { generateMonth } from '../test/analytics/generate.js';
import { cpuSnapshot, postgresCpuSeconds } from './checkout/cpu.js';
import type { FigureTarget } from './run.js';

const BACKFILL_ORDERS = Number(process.env.BENCH_ETL_ORDERS ?? 40_000);
const RATE = 1000;
const SECONDS = Number(process.env.BENCH_ETL_SECONDS ?? 8);
const PER_TICK = 50;

/** Issue 8, Speed. */
export const targets: Record<string, FigureTarget> = {
  backfill_events_per_s: { target: 200_000, better: 'higher', unit: 'events/s', baseline: 'duckdb_copy_rows_per_s',
    note: 'events → staging (dedupe) → star schema → quality checks → commit, one DuckDB transaction' },
  duckdb_copy_rows_per_s: { better: 'higher', unit: 'rows/s', note: 'DuckDB loading the same staged rows from a Parquet file (baseline)' },
  ratio: { better: 'higher', note: 'backfill_events_per_s / duckdb_copy_rows_per_s' },
  duckdb_persist_rows_per_s: { better: 'higher', unit: 'rows/s', note: 'the same rows from Parquet into a table of a DuckDB file, checkpointed (second baseline: keeping the staged events alone)' },
  ratio_persist: { better: 'higher', note: 'backfill_events_per_s / duckdb_persist_rows_per_s' },
  'backfill_core_s.etl': { better: 'lower', unit: 'core-s', note: 'CPU of the ETL process (DuckDB threads included) during the backfill' },
  'backfill_core_s.postgres': { better: 'lower', unit: 'core-s', note: 'CPU of the PostgreSQL server during the backfill (landing reads), when it runs on this machine' },
  freshness_p50_ms: { better: 'lower', unit: 'ms', note: 'OLTP commit → visible in fact_order_line' },
  freshness_p99_ms: { target: 2000, better: 'lower', unit: 'ms', note: `OLTP commit → visible in fact_order_line, under a steady ${RATE} orders/s` },
  orders_per_s: { better: 'higher', unit: 'orders/s', note: 'offered load during the freshness run' },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Lands envelopes in analytics_landing the way the analytics.etl consumer does (one statement per batch). */
async function land(db: Db, events: readonly EventEnvelope[]): Promise<void> {
  for (let i = 0; i < events.length; i += 20_000) {
    const batch = events.slice(i, i + 20_000);
    await db.query(`INSERT INTO analytics_landing (event_id, outbox_seq, type, version, aggregate_id, payload, occurred_at)
      SELECT id, seq, type, version, aggregate_id, payload::json, occurred_at
        FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::int[], $5::text[], $6::text[], $7::timestamptz[]) WITH ORDINALITY
             AS e(id, seq, type, version, aggregate_id, payload, occurred_at, n)
       ORDER BY n`,
    [batch.map((e) => e.id), batch.map((e) => e.seq), batch.map((e) => e.type), batch.map((e) => e.version),
      batch.map((e) => e.aggregateId), batch.map((e) => JSON.stringify(e.payload)), batch.map((e) => e.occurredAt)]);
  }
  await db.query('VACUUM ANALYZE analytics_landing');
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'embudo-bench-etl-'));
  const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `embudo_bench_etl_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const db = createDatabase({ connectionString: withDatabase(adminUrl, name), max: 10 });
  const logger = createLogger('warn');
  try {
    await migrate(db);
    // 1. Backfill through the full pipeline, from where the real one reads: the events landed in
    //    PostgreSQL (analytics_landing, as the analytics.etl consumer writes them; outside the
    //    timing), read by the ETL's own incremental run into an empty warehouse.
    const { events } = generateMonth(BACKFILL_ORDERS, 1);
    await land(db, events);
    const a = createAnalytics({ db, logger, metrics: createMetrics(), clock: systemClock, dataDir: path.join(dir, 'backfill') });
    await a.query('SELECT 1'); // open the file and create the schema outside the timing
    const stages: Record<string, number>[] = [];
    const pg0 = cpuSnapshot(undefined, name);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const loaded = await a.runEtl({ onLoad: (r) => stages.push(r.timings) });
    const backfillS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const pgCpuS = postgresCpuSeconds(pg0, cpuSnapshot(undefined, name));
    if (loaded.loaded !== events.length) throw new Error(`backfill loaded ${loaded.loaded} of ${events.length} events`);
    // Where the backfill's time went (stderr: the last stdout line stays the figures).
    process.stderr.write(`etl backfill stages (ms): ${JSON.stringify(stages)}\n`);
    await a.close();

    // 2. Baseline: DuckDB loading the same rows from Parquet.
    const parquet = path.join(dir, 'events.parquet');
    const inst = await DuckDBInstance.create(':memory:');
    const conn = await inst.connect();
    await conn.run(`ATTACH '${path.join(dir, 'backfill', 'warehouse.duckdb')}' AS wh (READ_ONLY)`);
    await conn.run(`COPY (SELECT * FROM wh.stg_events) TO '${parquet}' (FORMAT parquet)`);
    const t1 = performance.now();
    await conn.run(`CREATE TABLE copy AS SELECT * FROM read_parquet('${parquet}')`);
    const copyS = (performance.now() - t1) / 1000;
    // The same rows into a table of a database file, checkpointed: what only keeping the staged
    // events durably costs (the warehouse is a file; the baseline above stays in memory).
    await conn.run(`ATTACH '${path.join(dir, 'persist.duckdb')}' AS p`);
    const t2 = performance.now();
    await conn.run(`CREATE TABLE p.copy AS SELECT * FROM read_parquet('${parquet}')`);
    await conn.run('CHECKPOINT p');
    const persistS = (performance.now() - t2) / 1000;
    conn.closeSync();
    inst.closeSync();

    // 3. Freshness under steady load (from an empty landing: the backfill's events are not the live ones).
    await db.query('TRUNCATE analytics_landing');
    const bus = createEventBus({ db, logger, metrics: createMetrics(), clock: systemClock });
    const live = createAnalytics({ db, logger, metrics: createMetrics(), clock: systemClock, dataDir: path.join(dir, 'live'), events: bus, streamIntervalMs: 50 });
    await live.query('SELECT 1');
    for (const w of live.workers) w.start();
    const ticks = (RATE / PER_TICK) * SECONDS;
    const commitAt: number[] = [];
    const visibleAt: number[] = [];
    let producing = true;
    const poller = (async () => {
      while (producing || visibleAt.length < commitAt.length) {
        const [r] = await live.query('SELECT count(DISTINCT order_id) AS n FROM fact_order_line');
        const n = Math.floor(Number(r?.n ?? 0) / PER_TICK);
        const now = performance.now();
        while (visibleAt.length < n) visibleAt.push(now);
        await sleep(20);
      }
    })();
    const start = performance.now();
    for (let t = 0; t < ticks; t++) {
      const wait = start + (t * 1000 * PER_TICK) / RATE - performance.now();
      if (wait > 0) await sleep(wait);
      await db.transaction((tx) => appendEvents(tx, Array.from({ length: PER_TICK }, (_, i) => {
        const orderId = `o${t}-${i}`;
        return { type: 'checkout.order_placed', version: 1, aggregateType: 'order', aggregateId: orderId,
          payload: { orderId, customerId: `c${i}`, lines: [{ sku: `SKU-${i % 20}`, quantity: 1, unitPrice: 1990 }], delivery: { comuna: 'Ñuñoa', region: 'Metropolitana' } } };
      })));
      commitAt.push(performance.now());
    }
    producing = false;
    await Promise.race([poller, sleep(30_000)]);
    for (const w of live.workers) await w.stop();
    await live.close();
    await bus.close();
    const lat = commitAt.map((c, i) => (visibleAt[i] ?? Number.POSITIVE_INFINITY) - c);

    const backfill = Math.round(events.length / backfillS);
    const copy = Math.round(events.length / copyS);
    const persist = Math.round(events.length / persistS);
    return {
      events: events.length,
      backfill_events_per_s: backfill,
      duckdb_copy_rows_per_s: copy,
      ratio: Number((backfill / copy).toFixed(3)),
      duckdb_persist_rows_per_s: persist,
      ratio_persist: Number((backfill / persist).toFixed(3)),
      backfill_core_s: {
        etl: Math.round((cpu.user + cpu.system) / 10_000) / 100,
        postgres: pgCpuS === null ? null : Math.round(pgCpuS * 100) / 100,
      },
      freshness_p50_ms: Math.round(percentile(lat, 50)),
      freshness_p99_ms: Math.round(percentile(lat, 99)),
      orders_per_s: RATE,
    };
  } finally {
    await db.close();
    if (process.env.BENCH_KEEP_DB !== '1') await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}
