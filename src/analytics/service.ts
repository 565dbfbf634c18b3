import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { gauge, type Metrics } from '../platform/metrics.js';
import { intervalWorker, type Worker } from '../platform/worker.js';
import type { EventBus, EventEnvelope } from '../events/index.js';
import { markSettlement } from './aggregates-upkeep.js';
import { copyOut, type CopyOutResult } from './copy-out.js';
import { ensureSchema, envelopePages, exportLake, LANDING_COPY, load, PAGE, type CsvPage, type LoadResult } from './etl.js';
import { demandSql, fillSeries, firstDaySql, type DemandSeries } from './demand.js';
import { CONSUMED_TYPES } from './mapping.js';
import { buildSilo, siloKey } from './silo.js';
import { openWarehouse, rows, type Warehouse } from './warehouse.js';

export interface AnalyticsDeps {
  db: Database;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  dataDir: string;
  events?: EventBus;
  /** Default `<dataDir>/warehouse.duckdb`. */
  warehouseFile?: string;
  /** Streaming ETL poll (default 250 ms). */
  streamIntervalMs?: number;
  /** Readiness fails when the warehouse lags the landed events by more than this (default 60 s). */
  maxLagMs?: number;
  /** Landed events per page read from PostgreSQL (default one staging page, PAGE; tests use small pages). */
  landingPage?: number;
  /** While streaming, how often the Parquet lake and the silo are rewritten when new events arrived (default 60 s). */
  lakeIntervalMs?: number;
}

export interface QueryOptions {
  timeoutMs?: number;
  rowLimit?: number;
  /** Values for `$1`, `$2`, ... in the SQL (never concatenate user input). */
  params?: DuckDBValue[];
}

/** Raised when a read query ran past its timeout and was interrupted. */
export class QueryTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`the query ran longer than ${timeoutMs} ms and was stopped`);
    this.name = 'QueryTimeoutError';
  }
}

const READERS = 2;

/** Landed events per page read from PostgreSQL: one staging page (see PAGE). */
const BATCH = PAGE;
/** Most events one incremental load takes (pages of BATCH, one transaction). */
const MAX_PER_LOAD = 1_000_000;

/**
 * The analytics context. The DuckDB file is opened on first use (one writer process holds it:
 * run the analytics role in one process), so building the context costs nothing.
 */
export function createAnalyticsService(deps: AnalyticsDeps) {
  const warehouseFile = deps.warehouseFile ?? path.join(deps.dataDir, 'warehouse.duckdb');
  const lakeDir = path.join(deps.dataDir, 'lake');
  /** Where CSV pages are written while a load stages them (beside the warehouse file). */
  const stagingDir = path.join(path.dirname(warehouseFile), '.staging');
  let opened: Promise<Warehouse & { readers: DuckDBConnection[] }> | undefined;
  const warehouse = () => {
    opened ??= (async () => {
      const w = await openWarehouse(warehouseFile);
      // This process holds the warehouse now: copy files left there were a killed load's.
      rmSync(stagingDir, { recursive: true, force: true });
      await ensureSchema(w.conn);
      const [h] = await rows(w.conn, `SELECT high_water_mark FROM etl_state WHERE name = 'analytics.etl'`);
      knownHwm = Number(h?.high_water_mark ?? 0);
      const readers: DuckDBConnection[] = [];
      for (let i = 0; i < READERS; i++) readers.push(await w.instance.connect());
      idle.push(...readers);
      return { ...w, readers };
    })().catch((err: unknown) => {
      opened = undefined;
      throw err;
    });
    return opened;
  };
  let knownHwm = 0;
  // A small pool of read connections: a connection runs one query at a time, and a timeout
  // interrupts only its own connection.
  const idle: DuckDBConnection[] = [];
  const waiting: ((c: DuckDBConnection) => void)[] = [];
  const withReader = async <T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> => {
    await warehouse();
    const conn = idle.pop() ?? (await new Promise<DuckDBConnection>((resolve) => waiting.push(resolve)));
    try {
      return await fn(conn);
    } finally {
      const next = waiting.shift();
      if (next) next(conn);
      else idle.push(conn);
    }
  };
  const hwmGauge = gauge(deps.metrics.registry, 'embudo_analytics_high_water_mark', 'Last landing sequence loaded into the warehouse');
  const lagGauge = gauge(deps.metrics.registry, 'embudo_analytics_lag_seconds', 'Age of the oldest landed event not yet in the warehouse');
  const dqGauge = gauge(deps.metrics.registry, 'embudo_analytics_dq_check_failures', 'Failing rows per data-quality check (last run)', ['check', 'table', 'kind', 'blocking']);

  // One DuckDB writer: loads are serialised.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => undefined);
    return next;
  };

  /** Bumped by every load that staged new events; the lake/silo export compares it with `lakeAt`. */
  let loads = 0;
  let lakeAt = 0;
  const report = (r: LoadResult) => {
    if (r.inserted > 0) loads += 1;
    deps.logger.debug({ received: r.received, inserted: r.inserted, timings: r.timings }, 'analytics load');
    knownHwm = r.highWaterMark;
    hwmGauge.set(r.highWaterMark);
    for (const c of r.checks) dqGauge.set({ check: c.name, table: c.table, kind: c.kind, blocking: String(c.blocking) }, c.failures);
  };

  async function highWaterMark(): Promise<number> {
    const wh = await warehouse();
    const [r] = await rows(wh.conn, `SELECT high_water_mark FROM etl_state WHERE name = 'analytics.etl'`);
    return Number(r?.high_water_mark ?? 0);
  }

  const batch = Math.max(1, Math.trunc(deps.landingPage ?? BATCH));
  let pageFiles = 0;

  /**
   * Pages of landed events (BATCH each, landing order) after `from`, up to `max` events, each
   * written by PostgreSQL in COPY's text format (see LANDING_COPY) to a file that DuckDB reads: the
   * payloads are never parsed or serialised in JS. `last()` is the landing sequence of the last
   * one read. `where` is SQL over analytics_landing with its literals quoted (COPY takes no
   * parameters).
   */
  function pages(where: string, from: number, max: number) {
    let after = from;
    let read = 0;
    let more = true;
    return {
      last: (): number => after,
      more: () => more,
      source: async function* (this: void): AsyncGenerator<CsvPage> {
        mkdirSync(stagingDir, { recursive: true });
        const client = await deps.db.connect();
        try {
          // The next page is copied while DuckDB stages this one (the stager returns once it started).
          // Copying further ahead gained nothing on two cores: PostgreSQL and DuckDB share them.
          while (read < max) {
            const file = path.join(stagingDir, `page-${process.pid}-${++pageFiles}.txt`);
            let copied: CopyOutResult;
            try {
              copied = await copyOut(client, `COPY (SELECT ${LANDING_COPY.select} FROM analytics_landing
                WHERE ${where} AND landing_seq > ${Math.trunc(after)} ORDER BY landing_seq LIMIT ${batch}) TO STDOUT`, file);
            } catch (err) {
              rmSync(file, { force: true });
              throw err;
            }
            more = copied.rows === batch;
            if (copied.rows === 0 || !copied.last) {
              rmSync(file, { force: true });
              return;
            }
            // The first column of the last row is its landing sequence.
            const text = copied.last.toString('utf8');
            after = Number(text.slice(0, text.indexOf(LANDING_COPY.delimiter)));
            read += copied.rows;
            yield { file, rows: copied.rows, unique: true, disjoint: true };
            if (!more) return;
          }
        } finally {
          client.release();
        }
      },
    };
  }

  /**
   * Incremental: every landed event past the high-water mark, in one transaction per up to 1M
   * events. `onLoad` sees each load's result (its stage timings: the benchmark reports them).
   */
  async function runEtl(opts: { onLoad?: (r: LoadResult) => void } = {}): Promise<{ loaded: number; highWaterMark: number }> {
    return serial(async () => {
      const wh = await warehouse();
      let loaded = 0;
      for (;;) {
        const hwm = await highWaterMark();
        const next = await deps.db.query<{ n: string }>('SELECT count(*) AS n FROM (SELECT 1 FROM analytics_landing WHERE landing_seq > $1 LIMIT 1) x', [hwm]);
        if (Number(next.rows[0]?.n ?? 0) === 0) {
          lagGauge.set(0);
          return { loaded, highWaterMark: hwm };
        }
        const p = pages('true', hwm, MAX_PER_LOAD);
        // The high-water mark is only known once the pages are read: record it after staging.
        const r = await load(wh.conn, p.source, { now: deps.clock.now(), highWaterMark: () => p.last() });
        report(r);
        opts.onLoad?.(r);
        loaded += r.inserted;
        if (!p.more()) return { loaded, highWaterMark: r.highWaterMark };
      }
    });
  }

  /** Re-reads landed events of [from, to) and loads them again in one transaction (idempotent: duplicates are ignored). */
  async function backfill(from: Date, to: Date): Promise<{ events: number; inserted: number }> {
    return serial(async () => {
      const wh = await warehouse();
      const p = pages(`occurred_at >= '${from.toISOString()}'::timestamptz AND occurred_at < '${to.toISOString()}'::timestamptz`, 0, Number.POSITIVE_INFINITY);
      const r = await load(wh.conn, p.source, { now: deps.clock.now() });
      report(r);
      await exportLake(wh.conn, lakeDir);
      lakeAt = loads;
      return { events: r.received, inserted: r.inserted };
    });
  }

  /** Loads envelopes directly (tests, benchmarks, replays from the archive). */
  async function ingest(events: readonly EventEnvelope[]): Promise<LoadResult> {
    return serial(async () => {
      const wh = await warehouse();
      const r = await load(wh.conn, envelopePages(events), { now: deps.clock.now() });
      report(r);
      return r;
    });
  }

  /**
   * Read-only SQL over the warehouse for the BI: one SELECT, row limit, timeout (interrupt),
   * positional parameters.
   *
   * @example
   * await analytics.query('SELECT sum(amount) AS gmv FROM fact_order_line WHERE region = $1', { params: ['Biobío'] });
   */
  async function query(sql: string, opts: QueryOptions = {}): Promise<Record<string, unknown>[]> {
    const text = singleSelect(sql);
    const limit = Math.max(1, Math.min(opts.rowLimit ?? 10_000, 1_000_000));
    return timed(opts.timeoutMs ?? 10_000, async (reader) => {
      const reply = await reader.runAndReadAll(`SELECT * FROM (${text}) AS q LIMIT ${limit}`, opts.params ?? []);
      return reply.getRowObjectsJson();
    });
  }

  /** The same read as `query`, written as a Parquet file and returned as bytes. */
  async function queryParquet(sql: string, opts: Omit<QueryOptions, 'params'> = {}): Promise<Buffer> {
    const text = singleSelect(sql);
    const limit = Math.max(1, Math.min(opts.rowLimit ?? 10_000, 1_000_000));
    const dir = mkdtempSync(path.join(tmpdir(), 'embudo-pq-'));
    const file = path.join(dir, 'result.parquet');
    try {
      await timed(opts.timeoutMs ?? 10_000, (reader) =>
        reader.run(`COPY (SELECT * FROM (${text}) AS q LIMIT ${limit}) TO '${file.replaceAll("'", "''")}' (FORMAT parquet)`));
      return readFileSync(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  function singleSelect(sql: string): string {
    const text = sql.trim().replace(/;\s*$/, '');
    if (!/^(select|with|from)\b/i.test(text) || text.includes(';')) throw new Error('only a single SELECT statement is allowed');
    return text;
  }

  async function timed<T>(timeoutMs: number, fn: (reader: DuckDBConnection) => Promise<T>): Promise<T> {
    return withReader(async (reader) => {
      let fired = false;
      const timer = setTimeout(() => {
        fired = true;
        reader.interrupt();
      }, timeoutMs);
      try {
        return await fn(reader);
      } catch (err) {
        if (fired) throw new QueryTimeoutError(timeoutMs);
        throw err;
      } finally {
        clearTimeout(timer);
      }
    });
  }

  /**
   * Daily units sold per SKU-location over [from, to) (UTC days), zero-filled, from the
   * warehouse's stock movements: what replenishment forecasts from.
   *
   * @example
   * const series = await analytics.demandSeries({ from: '2026-11-01', to: '2026-12-01' });
   */
  async function demandSeries(q: { from: string; to: string; skus?: readonly string[]; include?: readonly { sku: string; locationId: string }[] }): Promise<DemandSeries[]> {
    const [found, firstDays] = await withReader(async (reader) => [
      await rows(reader, demandSql(q.from, q.to, q.skus)),
      await rows(reader, firstDaySql(q.skus)),
    ]);
    return fillSeries(found as { sku: unknown; location_id: unknown; day: unknown; units: unknown }[], q.from, q.to, q.include ?? [],
      firstDays as { sku: unknown; location_id: unknown; first_day: unknown }[]);
  }

  async function refreshSilo(): Promise<number> {
    return serial(async () => buildSilo((await warehouse()).conn, path.join(deps.dataDir, 'market_research.duckdb'), siloKey(deps.dataDir)));
  }

  /** Imports one settlement report (per payout) and rebuilds the reconciliation via an (empty) load. */
  async function importSettlement(lines: { reportDate: string; payoutId: string; processorRef: string; amount: number; fee: number }[]): Promise<void> {
    await serial(async () => {
      const wh = await warehouse();
      await markSettlement(wh.conn, lines.map((l) => l.processorRef));
      for (const l of lines) {
        await wh.conn.run(`INSERT OR REPLACE INTO settlement_report VALUES ($1::DATE, $2, $3, $4, $5)`,
          [l.reportDate, l.payoutId, l.processorRef, l.amount, l.fee]);
      }
      report(await load(wh.conn, [], { now: deps.clock.now() }));
    });
  }

  /** Age of the oldest landed event not yet loaded (0 when caught up), from PostgreSQL and the last load. */
  async function lagMs(): Promise<number> {
    const hwm = knownHwm;
    const res = await deps.db.query<{ landed_at: Date | null }>(`SELECT min(landed_at) AS landed_at FROM analytics_landing WHERE landing_seq > $1`, [hwm]);
    const oldest = res.rows[0]?.landed_at;
    const lag = oldest ? Math.max(0, deps.clock.now().getTime() - oldest.getTime()) : 0;
    lagGauge.set(lag / 1000);
    return lag;
  }

  const workers: Worker[] = [];
  if (deps.events) {
    workers.push(deps.events.consumer({
      name: 'analytics.etl',
      types: CONSUMED_TYPES,
      batchSize: 1000,
      // A batch lands in one statement (its events in order), in the transaction of its inbox rows.
      handleBatch: async (tx, batch) => {
        await tx.query(
          `INSERT INTO analytics_landing (event_id, outbox_seq, type, version, aggregate_id, payload, occurred_at)
           SELECT id, seq, type, version, aggregate_id, payload::json, occurred_at
             FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::int[], $5::text[], $6::text[], $7::timestamptz[]) WITH ORDINALITY
                  AS e(id, seq, type, version, aggregate_id, payload, occurred_at, n)
            ORDER BY n
           ON CONFLICT (event_id) DO NOTHING`,
          [
            batch.map((e) => e.id), batch.map((e) => e.seq), batch.map((e) => e.type), batch.map((e) => e.version),
            batch.map((e) => e.aggregateId), batch.map((e) => JSON.stringify(e.payload)), batch.map((e) => e.occurredAt),
          ],
        );
      },
    }));
  }
  const stream = intervalWorker('analytics-etl', deps.streamIntervalMs ?? 250, deps.logger, async () => (await runEtl()).loaded > 0);
  workers.push(stream);
  // While streaming, the lake and the silo follow the warehouse periodically (not per event):
  // rewritten when the high-water mark moved since the last export.
  const publish = intervalWorker('analytics-lake', deps.lakeIntervalMs ?? 60_000, deps.logger, async () => {
    await exportOutputs();
    return false;
  });
  workers.push(publish);

  /** Exports the lake and rebuilds the silo if anything was loaded since the last export. */
  async function exportOutputs(): Promise<boolean> {
    return serial(async () => {
      const wh = await warehouse();
      const seen = loads;
      if (seen === lakeAt) return false;
      await exportLake(wh.conn, lakeDir);
      await buildSilo(wh.conn, path.join(deps.dataDir, 'market_research.duckdb'), siloKey(deps.dataDir));
      lakeAt = seen;
      return true;
    });
  }

  return {
    runEtl,
    backfill,
    ingest,
    query,
    demandSeries,
    queryParquet,
    refreshSilo,
    importSettlement,
    exportLake: () => serial(async () => exportLake((await warehouse()).conn, lakeDir)),
    /** What the streaming worker does periodically: lake + silo, when new events were loaded. */
    exportOutputs,
    catalog: () => query(`SELECT t.table_name, t.description, t.owner, t.lineage, c.column_name, c.data_type, c.pii
      FROM catalog_table t JOIN catalog_column c USING (table_name) ORDER BY t.table_name, c.column_name`),
    qualityResults: () => query(`SELECT * FROM dq_result ORDER BY run_at DESC, name`),
    lagMs,
    workers,
    readiness: {
      'analytics-freshness': async () => {
        const lag = await lagMs();
        return lag > (deps.maxLagMs ?? 60_000) ? `warehouse ${Math.round(lag / 1000)} s behind` : undefined;
      },
    },
    close: async () => {
      await chain;
      const w = opened ? await opened.catch(() => undefined) : undefined;
      opened = undefined;
      if (w) {
        for (const r of w.readers) r.closeSync();
        idle.length = 0;
        w.close();
      }
    },
  };
}

export type Analytics = ReturnType<typeof createAnalyticsService>;
