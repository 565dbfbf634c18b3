import { mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DuckDBTimestampTZValue, type DuckDBConnection } from '@duckdb/node-api';
import type { EventEnvelope } from '../events/index.js';
import { createHash } from 'node:crypto';
import { ensureAggregates } from './aggregates.js';
import { prepareAggregateUpkeep, upkeepAggregates } from './aggregates-upkeep.js';
import { MART_MERGES, MARTS, type MartMerge, type MartSpec } from './mapping.js';
import { DEFAULT_CHECKS, runChecks, type CheckResult, type CheckScope } from './quality.js';
import { CATALOG_DDL, refreshCatalog } from './catalog.js';
import { rows } from './warehouse.js';

/** Raised when a blocking data-quality check fails: the load was rolled back. */
export class QualityCheckFailed extends Error {
  constructor(readonly failed: CheckResult[]) {
    super(`blocking data-quality check(s) failed: ${failed.map((f) => `${f.name} (${f.failures})`).join(', ')}; load rolled back`);
    this.name = 'QualityCheckFailed';
  }
}

export interface LoadResult {
  received: number;
  inserted: number;
  checks: CheckResult[];
  highWaterMark: number;
  /** Milliseconds per stage of the load (staging, each mart, checks, commit): where the time went. */
  timings: Record<string, number>;
}

/** Adds the time since the last lap to `timings[name]`. */
function stopwatch(timings: Record<string, number>) {
  let last = performance.now();
  return (name: string) => {
    const now = performance.now();
    timings[name] = (timings[name] ?? 0) + Math.round((now - last) * 10) / 10;
    last = now;
  };
}

// stg_events has no PRIMARY KEY: an ART index makes bulk inserts ~5x slower. Loads insert only
// event ids not yet there (anti-join), and the blocking check stg_events_unique_id guards it.
// The payload is JSON text typed VARCHAR: a cast to JSON parses every document only to check it,
// and both sources are valid JSON already (the landing's column is PostgreSQL's json, which
// checks on input; an envelope's payload is parsed with its line by json_transform). The marts'
// json_transform parses it again anyway, and fails the load on text it cannot read.
const DDL = `
CREATE TABLE IF NOT EXISTS stg_events (
  event_id UUID NOT NULL, seq BIGINT NOT NULL, type VARCHAR NOT NULL, version INTEGER NOT NULL,
  aggregate_id VARCHAR, occurred_at TIMESTAMPTZ NOT NULL, payload VARCHAR NOT NULL, loaded_at TIMESTAMPTZ NOT NULL);
CREATE TABLE IF NOT EXISTS etl_state (name VARCHAR PRIMARY KEY, high_water_mark BIGINT NOT NULL, updated_at TIMESTAMPTZ NOT NULL);
CREATE TABLE IF NOT EXISTS etl_mart (table_name VARCHAR PRIMARY KEY, definition VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS dq_check (name VARCHAR PRIMARY KEY, "table" VARCHAR NOT NULL, kind VARCHAR NOT NULL,
  "column" VARCHAR, arg VARCHAR, blocking BOOLEAN NOT NULL);
CREATE TABLE IF NOT EXISTS dq_result (run_at TIMESTAMPTZ NOT NULL, name VARCHAR NOT NULL, "table" VARCHAR NOT NULL,
  kind VARCHAR NOT NULL, blocking BOOLEAN NOT NULL, failures BIGINT NOT NULL, passed BOOLEAN NOT NULL);
CREATE TABLE IF NOT EXISTS settlement_report (report_date DATE NOT NULL, payout_id VARCHAR NOT NULL,
  processor_ref VARCHAR NOT NULL, amount BIGINT NOT NULL, fee BIGINT NOT NULL, PRIMARY KEY (processor_ref, payout_id));
${CATALOG_DDL}
`;

/** Creates the warehouse schema and the empty marts (idempotent). */
export async function ensureSchema(conn: DuckDBConnection): Promise<void> {
  await conn.run(DDL);
  // Warehouses made before the key was dropped: rebuild staging without it, once.
  const pk = await rows(conn, `SELECT 1 FROM duckdb_constraints() WHERE table_name = 'stg_events' AND constraint_type = 'PRIMARY KEY'`);
  if (pk.length > 0) {
    await conn.run(`BEGIN TRANSACTION;
      CREATE TABLE stg_events_nokey AS SELECT * FROM stg_events; DROP TABLE stg_events;
      ALTER TABLE stg_events_nokey RENAME TO stg_events; COMMIT`);
  }
  // Warehouses made with a JSON payload: the text kept as it is, typed VARCHAR (see DDL), once.
  const typed = await rows(conn, `SELECT data_type FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = 'stg_events' AND column_name = 'payload'`);
  if (typed[0]?.data_type === 'JSON') {
    await conn.run(`BEGIN TRANSACTION; ALTER TABLE stg_events ALTER COLUMN payload TYPE VARCHAR; COMMIT`);
  }
  for (const c of DEFAULT_CHECKS) {
    await conn.run(
      `INSERT OR IGNORE INTO dq_check VALUES ($1, $2, $3, $4, $5, $6)`,
      [c.name, c.table, c.kind, c.column ?? null, c.arg ?? null, c.blocking],
    );
  }
  await conn.run(`INSERT OR IGNORE INTO etl_state VALUES ('analytics.etl', 0, now())`);
  const existing = new Set((await rows(conn, `SELECT table_name FROM information_schema.tables`)).map((r) => String(r.table_name)));
  for (const m of MARTS) {
    if (existing.has(m.table)) continue;
    await conn.run(`CREATE TABLE ${m.table} AS ${m.sql}`);
    await conn.run(`INSERT OR REPLACE INTO etl_mart VALUES ($1, $2)`, [m.table, definitionOf(m)]);
  }
  if (!existing.has('reconciliation')) await conn.run(`CREATE TABLE reconciliation AS ${RECONCILIATION_SQL}`);
  // The BI marts (and their upkeep state): missing ones derived from the facts once.
  await ensureAggregates(conn);
  // Loads rebuild the marts with the same columns, so the catalogue is written once per open.
  await conn.run('BEGIN TRANSACTION');
  await refreshCatalog(conn);
  await conn.run('COMMIT');
}

/** Ledger postings (processor receivables) vs the processor's settlement report, per day and payout. */
export const RECONCILIATION_SQL = `
  WITH ledger AS (
    SELECT processor_ref, sum(amount) AS amount, min(date_key) AS date_key FROM fact_ledger_posting
    WHERE processor_ref IS NOT NULL AND kind = 'payment_captured' AND account LIKE 'processor_clearing:%' GROUP BY processor_ref),
  report AS (SELECT processor_ref, any_value(payout_id) AS payout_id, any_value(report_date) AS report_date,
             sum(amount) AS amount, sum(fee) AS fee FROM settlement_report GROUP BY processor_ref)
  SELECT coalesce(r.report_date, l.date_key) AS date_key, r.payout_id, coalesce(l.processor_ref, r.processor_ref) AS processor_ref,
         l.amount AS ledger_amount, r.amount AS processor_amount, coalesce(r.fee, 0) AS fee,
         CASE WHEN r.processor_ref IS NULL THEN 'missing_at_processor'
              WHEN l.processor_ref IS NULL THEN 'missing_here'
              WHEN l.amount <> r.amount THEN 'amount_mismatch'
              ELSE 'matched' END AS status
  FROM ledger l FULL OUTER JOIN report r ON l.processor_ref = r.processor_ref`;

/**
 * An event ready for staging: one JSON object text with the envelope's fields `id`, `seq`,
 * `type`, `version`, `aggregateId`, `occurredAtUs` (microseconds since the epoch) and `payload`
 * (other keys are ignored). DuckDB parses and types it in bulk (json_transform), so the JS side
 * does one serialisation per event, or none when PostgreSQL builds the text (the service's
 * landing reads). The time goes as a number: a Date's toJSON made serialising ~1.7x slower.
 */
export type StagedEvent = string;

export const toStaged = (e: EventEnvelope): StagedEvent => JSON.stringify({
  id: e.id, seq: e.seq, type: e.type, version: e.version, aggregateId: e.aggregateId, occurredAtUs: e.occurredAt.getTime() * 1000, payload: e.payload,
});

/** The staged fields as staging types, for json_transform. */
const ENVELOPE = `'{"id":"UUID","seq":"BIGINT","type":"VARCHAR","version":"INTEGER","aggregateId":"VARCHAR","occurredAtUs":"BIGINT","payload":"JSON"}'`;

/**
 * Events per staging page: serialising one page in JS overlaps DuckDB typing and inserting the
 * previous one. One DuckDB row group: a full row group is compressed and written during the
 * INSERT (optimistic write, on DuckDB's threads); a partial one waits for the commit, on one
 * thread (pages of 65,536 made the backfill's commit ~450 ms longer).
 */
export const PAGE = 122_880;

/**
 * A page PostgreSQL wrote in COPY's text format (`COPY ... TO STDOUT`, see LANDING_COPY): DuckDB's
 * CSV reader types it in bulk, on every core, with nothing parsed or serialised in JS. The file
 * belongs to the load from then on: it is removed once staged (or when the load fails).
 * `unique`: no event id appears twice in the file (the landing's event_id is UNIQUE), so the
 * page needs no dedupe within itself (only against what is staged).
 * `disjoint`: no event id of the file is in the load's earlier pages either (pages of one landing
 * read are disjoint ranges of landing_seq), so the page is anti-joined only with what was staged
 * before the load: joining each page with the load's earlier ones cost a hash table over them per
 * page. The blocking check stg_events_unique_id still looks at every id the load staged.
 */
export interface CsvPage {
  file: string;
  rows: number;
  unique: boolean;
  disjoint?: boolean;
}

export type StagedPage = readonly StagedEvent[] | CsvPage;

/**
 * How the landing is copied out: COPY's text format (tab-separated, no quoting; a backslash,
 * tab or line break inside a value is written as a backslash escape, NULL as `\N`), the columns
 * in `columns` order from the SELECT list `select` over `analytics_landing` (the time as
 * microseconds since the epoch: no time-zone text to parse). DuckDB's CSV reader with quoting
 * off reads it about twice as fast as COPY's CSV format (JSON payloads are full of quotes, which
 * CSV doubles and the reader must undo); the rare value with a backslash is unescaped in SQL
 * (`unescapeCopyText`). The first value of a line is its landing sequence.
 */
export const LANDING_COPY = {
  columns: `{'landing_seq': 'BIGINT', 'event_id': 'UUID', 'seq': 'BIGINT', 'type': 'VARCHAR', 'version': 'INTEGER',
    'aggregate_id': 'VARCHAR', 'occurred_at_us': 'BIGINT', 'payload': 'VARCHAR'}`,
  // date_part's double costs a quarter of extract's numeric per row; from 1900 to 2100 (|µs| < 2^52) it
  // rounds to the exact microsecond, outside that the numeric is used.
  select: `landing_seq, event_id, outbox_seq, type, version, aggregate_id,
    CASE WHEN occurred_at >= TIMESTAMPTZ '1900-01-01 00:00:00Z' AND occurred_at < TIMESTAMPTZ '2100-01-01 00:00:00Z'
         THEN round(date_part('epoch', occurred_at) * 1000000)::bigint ELSE (extract(epoch FROM occurred_at) * 1000000)::bigint END,
    payload`,
  delimiter: '\t',
} as const;

/**
 * COPY's text escapes undone in SQL (`value` a VARCHAR expression): every backslash starts a pair
 * (`\\` for a backslash, `\t` `\n` `\r` `\b` `\f` `\v` for those control characters), so
 * splitting on `\\` leaves the other pairs whole inside the parts, which are joined back with
 * one backslash. Values without a backslash (nearly all) are left as they are.
 */
export function unescapeCopyText(value: string): string {
  const pairs: [string, number][] = [['t', 9], ['n', 10], ['r', 13], ['b', 8], ['f', 12], ['v', 11]];
  const part = pairs.reduce((acc, [c, code]) => `replace(${acc}, '\\${c}', chr(${code}))`, 'x');
  return `CASE WHEN contains(${value}, '\\') THEN array_to_string(list_transform(string_split(${value}, '\\\\'), x -> ${part}), '\\') ELSE ${value} END`;
}

const isCsv = (page: StagedPage): page is CsvPage => !Array.isArray(page);

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Envelopes as a paged load source, serialised one page at a time (see `Stager.page`). */
export function envelopePages(events: readonly EventEnvelope[], size = PAGE): () => AsyncIterable<readonly StagedEvent[]> {
  return async function* () {
    for (let i = 0; i < events.length; i += size) yield events.slice(i, i + size).map(toStaged);
  };
}

/**
 * Stages the pages of one load. A CSV page (the landing, written by PostgreSQL) is read by
 * DuckDB's CSV reader straight into staging. Otherwise each page goes through DuckDB's appender into the temp table
 * `stg_incoming` as one text value per event (the appender costs about a microsecond per value:
 * one value per event instead of one per column), is typed in one set-based query (json_transform,
 * on every core), then goes into staging: one copy per event id (the lowest seq; the window over
 * the page runs only when a count finds a repeated id), leaving out ids staged before (anti-joins
 * instead of a key: with `stg_events` unless it was empty at the start, and with the load's
 * earlier pages). On a warehouse with history the new events go to the temp table `stg_window`
 * (the load's window, which the merged marts read) and into `stg_events` at the end.
 */
class Stager {
  private pages = 0;

  constructor(
    private readonly conn: DuckDBConnection,
    private readonly loadedAt: string,
    private readonly wasEmpty: boolean,
    private readonly lap: (name: string) => void,
  ) {}

  private get target(): string {
    return this.wasEmpty ? 'main.stg_events' : 'temp.stg_window';
  }

  /** The previous page's parse and insert, still running in DuckDB while the next page is read. */
  private pending: Promise<void> = Promise.resolve();

  /**
   * Appends one page and starts typing and inserting it without waiting: the caller reads (or
   * serialises) the next page while DuckDB works on this one. The next `page` or `finish` waits for it.
   */
  async page(page: StagedPage): Promise<void> {
    if (isCsv(page) ? page.rows === 0 : page.length === 0) {
      if (isCsv(page)) rmSync(page.file, { force: true });
      return;
    }
    await this.pending;
    this.lap('stage_wait');
    if (this.pages++ === 0 && !this.wasEmpty) await this.conn.run(`CREATE OR REPLACE TEMP TABLE stg_window AS SELECT * FROM main.stg_events LIMIT 0`);
    if (isCsv(page)) {
      this.pending = this.insertCsv(page);
    } else {
      await this.conn.run(`CREATE OR REPLACE TEMP TABLE stg_incoming (line VARCHAR)`);
      const app = await this.conn.createAppender('stg_incoming', 'main', 'temp');
      try {
        for (const e of page) {
          app.appendVarchar(e);
          app.endRow();
        }
      } finally {
        app.closeSync();
      }
      this.lap('stage_append');
      this.pending = this.insert();
    }
    // Handled where it is awaited (the next page or finish); this only keeps it from counting as unhandled meanwhile.
    this.pending.catch(() => undefined);
  }

  /** Anti-joins with what is staged already (the history, unless empty, and unless `disjoint` the load's earlier pages). */
  private antiJoins(disjoint = false): string {
    const staged = [...(this.wasEmpty ? [] : ['main.stg_events']), ...(this.pages > 1 && !disjoint ? [this.target] : [])];
    return staged.map((t, n) => `ANTI JOIN ${t} s${n} ON s${n}.event_id = i.event_id`).join(' ');
  }

  private async insert(): Promise<void> {
    await this.conn.run(`CREATE OR REPLACE TEMP TABLE stg_typed AS
      SELECT e.id AS event_id, e.seq, e.type, e.version, e.aggregateId AS aggregate_id, make_timestamptz(e.occurredAtUs) AS occurred_at, e.payload
      FROM (SELECT json_transform(line, ${ENVELOPE}) AS e FROM temp.stg_incoming);
      DROP TABLE temp.stg_incoming`);
    const [d] = await rows(this.conn, `SELECT count(*) - count(DISTINCT event_id) AS dups FROM temp.stg_typed`);
    const once = Number(d?.dups) > 0 ? 'QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY seq) = 1' : '';
    const typed = `SELECT *, $1::TIMESTAMPTZ AS loaded_at FROM temp.stg_typed ${once}`;
    await this.conn.run(`INSERT INTO ${this.target} SELECT i.* FROM (${typed}) i ${this.antiJoins()}`, [this.loadedAt]);
    await this.conn.run('DROP TABLE temp.stg_typed');
  }

  /** A page straight from DuckDB's reader into staging (one statement; the file removed after). */
  private async insertCsv(page: CsvPage): Promise<void> {
    try {
      const once = page.unique ? '' : 'QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY seq) = 1';
      await this.conn.run(`INSERT INTO ${this.target} SELECT i.* FROM (
          SELECT event_id, seq, ${unescapeCopyText('type')} AS type, version, ${unescapeCopyText('aggregate_id')} AS aggregate_id,
                 make_timestamptz(occurred_at_us) AS occurred_at, ${unescapeCopyText('payload')} AS payload, $1::TIMESTAMPTZ AS loaded_at
          FROM read_csv(${sqlString(page.file)}, columns = ${LANDING_COPY.columns}, header = false, auto_detect = false,
                        delim = ${sqlString(LANDING_COPY.delimiter)}, quote = '', escape = '', nullstr = '\\N')
          ${once}) i ${this.antiJoins(page.disjoint)}`, [this.loadedAt]);
    } finally {
      rmSync(page.file, { force: true });
    }
  }

  /** Waits for the page in flight, whatever its outcome (before a rollback). */
  async settle(): Promise<void> {
    await this.pending.catch(() => undefined);
  }

  /** Moves the window into `stg_events`; whether there is a window to merge marts from. */
  async finish(): Promise<boolean> {
    await this.pending;
    this.lap('stage_insert');
    if (this.wasEmpty || this.pages === 0) return false;
    await this.conn.run(`INSERT INTO main.stg_events SELECT * FROM temp.stg_window`);
    this.lap('stage_insert');
    return true;
  }
}

export interface LoadOptions {
  now: Date;
  /** New high-water mark recorded with the load (landing sequence), when larger; a function is read after staging. */
  highWaterMark?: number | (() => number);
}

/** A load's input: one batch, or pages read one after another (all in the same transaction). */
export type LoadSource = readonly StagedEvent[] | (() => AsyncIterable<StagedPage>);

/**
 * Loads in ONE DuckDB transaction: every page staged (dedupe by event id) → marts rebuilt once
 * from staging (latest state by the resource's own time) → BI marts from the facts → quality checks → commit, or roll
 * back on a blocking failure (or any error): readers never see a half-loaded state.
 */
export async function load(conn: DuckDBConnection, source: LoadSource, opts: LoadOptions): Promise<LoadResult> {
  let checks: CheckResult[];
  let inserted = 0;
  let received = 0;
  const timings: Record<string, number> = {};
  const lap = stopwatch(timings);
  let stager: Stager | undefined;
  await conn.run('BEGIN TRANSACTION');
  try {
    const before = await rows(conn, `SELECT count(*) AS n FROM stg_events`);
    const loadedAt = opts.now.toISOString();
    stager = new Stager(conn, loadedAt, Number(before[0]?.n) === 0, lap);
    if (typeof source === 'function') {
      for await (const page of source()) {
        lap('read');
        received += isCsv(page) ? page.rows : page.length;
        await stager.page(page);
      }
    } else {
      received = source.length;
      await stager.page(source);
    }
    const windowed = await stager.finish();
    const after = await rows(conn, `SELECT count(*) AS n FROM stg_events`);
    inserted = Number(after[0]?.n) - Number(before[0]?.n);
    lap('stage_count');
    // A window past a quarter of the history: rebuilding every mart whole is cheaper.
    const merge = windowed && inserted * 4 <= Number(before[0]?.n);
    // The BI marts need the old versions of what the window touches (read before the merge).
    const upkeep = await prepareAggregateUpkeep(conn, merge && inserted > 0);
    lap('aggregates');
    const scope = await buildMarts(conn, inserted, merge, lap);
    await conn.run(`CREATE OR REPLACE TABLE reconciliation AS ${RECONCILIATION_SQL}`);
    lap('reconciliation');
    // The BI marts derive from the facts and from reconciliation (settlements load without events).
    await upkeepAggregates(conn, upkeep);
    lap('aggregates');
    checks = await runChecks(conn, opts.now, scope);
    await dropWindow(conn);
    lap('checks');
    const failed = checks.filter((c) => c.blocking && !c.passed);
    if (failed.length > 0) throw new QualityCheckFailed(failed);
    const mark = typeof opts.highWaterMark === 'function' ? opts.highWaterMark() : opts.highWaterMark;
    if (mark !== undefined) {
      await conn.run(`UPDATE etl_state SET high_water_mark = greatest(high_water_mark, $1), updated_at = $2::TIMESTAMPTZ
        WHERE name = 'analytics.etl'`, [mark, loadedAt]);
    }
    await recordChecks(conn, opts.now, checks);
    lap('record');
    await conn.run('COMMIT');
    lap('commit');
  } catch (err) {
    await stager?.settle();
    await conn.run('ROLLBACK');
    await dropWindow(conn);
    if (err instanceof QualityCheckFailed) await recordChecks(conn, opts.now, err.failed);
    throw err;
  }
  const [state] = await rows(conn, `SELECT high_water_mark FROM etl_state WHERE name = 'analytics.etl'`);
  return { received, inserted, checks, highWaterMark: Number(state?.high_water_mark ?? 0), timings };
}

async function dropWindow(conn: DuckDBConnection): Promise<void> {
  await conn.run('DROP TABLE IF EXISTS temp.stg_window; DROP TABLE IF EXISTS temp.mart_keys');
}

/** What a mart is built from: a change (a new deploy) makes the next load rebuild it whole. */
function definitionOf(m: MartSpec): string {
  return createHash('sha256').update(JSON.stringify([m.sql, MART_MERGES[m.table] ?? null])).digest('hex');
}

/**
 * Brings every mart up to date with staging, in mapping order (marts built on other marts come
 * after them). Nothing new staged: marts are a function of staging, so only a changed definition
 * is rebuilt. With a window (`merge`), the marts in MART_MERGES are updated in place from it and
 * the others rebuilt whole; without one (first load, or a window too big), all are rebuilt.
 */
async function buildMarts(conn: DuckDBConnection, inserted: number, merge: boolean, lap: (name: string) => void): Promise<CheckScope | undefined> {
  const built = new Map((await rows(conn, `SELECT table_name, definition FROM etl_mart`)).map((r) => [String(r.table_name), String(r.definition)]));
  const current = new Set(MARTS.filter((m) => built.get(m.table) === definitionOf(m)).map((m) => m.table));
  const keys = merge && inserted > 0 ? await touchedKeys(conn, MARTS.filter((m) => current.has(m.table))) : undefined;
  if (keys) lap('mart_keys');
  // What changed only at the window's keys: where the blocking checks need to look.
  const scope: CheckScope | undefined = keys && { stg_events: { key: 'event_id', where: 'event_id IN (SELECT event_id FROM temp.stg_window)' } };
  for (const m of MARTS) {
    const how = MART_MERGES[m.table];
    if (current.has(m.table) && inserted === 0) continue;
    if (current.has(m.table) && keys && how) {
      await mergeMart(conn, m, how, keys.get(m.table));
      if (scope && !('perEvent' in how)) scope[m.table] = { key: how.key, where: touchedBy(m.table, how.key, keys.get(m.table)) };
    } else {
      const definition = definitionOf(m);
      await conn.run(`CREATE OR REPLACE TABLE ${m.table} AS ${m.sql}`);
      if (!current.has(m.table)) await conn.run(`INSERT OR REPLACE INTO etl_mart VALUES ($1, $2)`, [m.table, definition]);
    }
    lap(m.table);
  }
  return scope;
}

/** The rows of `table` whose `col` is a key the window touched (temp.mart_keys). */
function touchedBy(table: string, col: string, keys: { n: number; nulls: boolean } | undefined): string {
  if (!keys || keys.n === 0) return 'false';
  return `(${col} IN (SELECT k FROM temp.mart_keys WHERE mart = '${table}' AND k IS NOT NULL)${keys.nulls ? ` OR ${col} IS NULL` : ''})`;
}

/** Per merged mart, how many keys the window touches and whether one is NULL (one query for all). */
async function touchedKeys(conn: DuckDBConnection, marts: readonly MartSpec[]): Promise<Map<string, { n: number; nulls: boolean }>> {
  const keyed = marts.flatMap((m) => {
    const how = MART_MERGES[m.table];
    return how && !('perEvent' in how) ? [`SELECT DISTINCT '${m.table}' AS mart, ${how.eventKey} AS k FROM temp.stg_window WHERE ${how.events}`] : [];
  });
  if (keyed.length === 0) return new Map();
  await conn.run(`CREATE OR REPLACE TEMP TABLE mart_keys AS ${keyed.join(' UNION ALL ')}`);
  const found = await rows(conn, `SELECT mart, count(*) AS n, count(*) FILTER (WHERE k IS NULL) AS nulls FROM temp.mart_keys GROUP BY mart`);
  return new Map(found.map((r) => [String(r.mart), { n: Number(r.n), nulls: Number(r.nulls) > 0 }]));
}

/**
 * Updates one mart from the load's window (temp.stg_window): the keys its new events touch are
 * deleted and rebuilt from all of their events, in one round trip. A NULL key is a key too (the
 * rows a NULL `eventKey` groups into, e.g. ledger postings without an attempt), matched with IS NULL.
 */
async function mergeMart(conn: DuckDBConnection, m: MartSpec, how: MartMerge, keys: { n: number; nulls: boolean } | undefined): Promise<void> {
  if ('perEvent' in how) {
    await conn.run(`INSERT INTO ${m.table} BY NAME WITH stg_events AS (SELECT * FROM temp.stg_window) SELECT * FROM (${m.sql})`);
    return;
  }
  if (!keys || keys.n === 0) return;
  const touched = (col: string) => touchedBy(m.table, col, keys);
  // The mart's own SQL, over the touched keys' events only (a CTE named stg_events shadows the table).
  await conn.run(`DELETE FROM ${m.table} WHERE ${touched(how.key)};
    INSERT INTO ${m.table} BY NAME
    WITH stg_events AS (SELECT * FROM main.stg_events WHERE ${how.events} AND ${touched(how.eventKey)})
    SELECT * FROM (${m.sql})`);
}

/**
 * History kept in `dq_result`: every run of the last day, and runs with a failing check for
 * 30 days (a streaming warehouse loads every second or so: 12 rows a load would otherwise grow
 * without bound). Rows are appended in time order, so the delete prunes by zone maps.
 */
export const DQ_RESULT_RETENTION = { allRunsHours: 24, failuresDays: 30 } as const;

async function recordChecks(conn: DuckDBConnection, now: Date, checks: CheckResult[]): Promise<void> {
  if (checks.length === 0) return;
  await conn.run(
    `DELETE FROM dq_result WHERE run_at < $1::TIMESTAMPTZ - INTERVAL ${DQ_RESULT_RETENTION.allRunsHours} HOUR
       AND (passed OR run_at < $1::TIMESTAMPTZ - INTERVAL ${DQ_RESULT_RETENTION.failuresDays} DAY)`,
    [now.toISOString()],
  );
  const app = await conn.createAppender('dq_result');
  try {
    for (const c of checks) {
      app.appendTimestampTZ(new DuckDBTimestampTZValue(BigInt(now.getTime()) * 1000n));
      app.appendVarchar(c.name);
      app.appendVarchar(c.table);
      app.appendVarchar(c.kind);
      app.appendBoolean(c.blocking);
      app.appendBigInt(BigInt(c.failures));
      app.appendBoolean(c.passed);
      app.endRow();
    }
  } finally {
    app.closeSync();
  }
}

export const LAKE_TABLES = ['fact_order_line', 'fact_payment_attempt', 'fact_refund', 'fact_ledger_posting', 'fact_stock_movement', 'fact_fraud_decision'];

/**
 * Writes the facts to `<lake>/<table>/date=YYYY-MM-DD/*.parquet` (Hive layout). Each table is
 * written to a sibling directory first and swapped in with renames, so a reader of the lake
 * sees the previous export or the new one, never a half-written tree.
 */
export async function exportLake(conn: DuckDBConnection, lakeDir: string): Promise<void> {
  mkdirSync(lakeDir, { recursive: true });
  for (const t of LAKE_TABLES) {
    const dir = path.join(lakeDir, t);
    const next = path.join(lakeDir, `.${t}.next`);
    const old = path.join(lakeDir, `.${t}.old`);
    rmSync(next, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
    mkdirSync(next, { recursive: true });
    await conn.run(`COPY (SELECT * EXCLUDE (date_key), strftime(date_key, '%Y-%m-%d') AS date FROM ${t})
      TO '${next.replaceAll("'", "''")}' (FORMAT parquet, PARTITION_BY (date), OVERWRITE true, FILENAME_PATTERN 'part_{i}')`);
    let swapped = false;
    try {
      renameSync(dir, old);
      swapped = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    renameSync(next, dir);
    if (swapped) rmSync(old, { recursive: true, force: true });
  }
}
