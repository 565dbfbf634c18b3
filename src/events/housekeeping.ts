import { open, readdir, rename, rm, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { Db } from '../platform/db.js';
import { RELAY } from './relay.js';
import { HORIZON, ORDER, safeHead, type OutboxRow, type Position } from './reader.js';

export interface ArchiveOptions {
  /** The data dir; files go to `<dataDir>/lake/outbox_archive/date=YYYY-MM-DD/`. */
  dataDir: string;
  retentionMs: number;
  now: Date;
  /** With NATS the relay's position is what "published" means; else every consumer's. */
  natsMode: boolean;
  batchSize?: number;
  /** Test seam: runs after a batch's files are in place and before its transaction commits. */
  beforeCommit?: (files: readonly string[]) => Promise<void> | void;
}

export interface ArchiveResult {
  archived: number;
  files: string[];
  /** Files of an earlier run that stopped before committing, removed before archiving again. */
  orphansRemoved: number;
  /** Another process holds the archive lock: nothing done this time. */
  busy: boolean;
}

/** pg_try_advisory_xact_lock key: one archiver at a time, whatever the process. */
const ARCHIVE_LOCK = 0x6576_6172; // "evar"

/** The newest position every reader has passed: rows at or before it are no longer needed hot. */
async function publishedHorizon(db: Db, natsMode: boolean): Promise<Position | undefined> {
  const { rows } = await db.query<{ tx_id: string; event_seq: number }>(
    natsMode
      ? `SELECT tx_id::text AS tx_id, event_seq FROM events_positions WHERE consumer = $1`
      : `SELECT tx_id::text AS tx_id, event_seq FROM events_positions
          WHERE consumer <> $1 AND consumer NOT LIKE '%@nats'
          ORDER BY events_positions.tx_id, events_positions.event_seq LIMIT 1`,
    [RELAY],
  );
  const r = rows[0];
  if (r) return { txId: r.tx_id, seq: r.event_seq };
  // Nobody reads in-process yet: everything committed counts as delivered.
  return natsMode ? undefined : safeHead(db);
}

async function openDuck(): Promise<{ conn: DuckDBConnection; close(): void }> {
  const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const conn = await instance.connect();
  const reader = await conn.runAndReadAll(`SELECT extension_name, loaded FROM duckdb_extensions() WHERE extension_name = 'parquet'`);
  const [ext] = reader.getRowObjects();
  if (!ext) throw new Error('DuckDB has no built-in parquet extension');
  if (ext.loaded !== true) await conn.run('LOAD parquet');
  await conn.run(`CREATE TEMP TABLE archive_rows (
    id BIGINT, event_id VARCHAR, tx_id VARCHAR, type VARCHAR, version INTEGER, context VARCHAR,
    aggregate_type VARCHAR, aggregate_id VARCHAR, payload VARCHAR, occurred_at VARCHAR)`);
  return {
    conn,
    close: () => {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Writes one day's rows as a Parquet file: to `<file>.tmp`, flushed to disk, then renamed. */
async function writeParquet(conn: DuckDBConnection, rows: readonly (OutboxRow & { payload_text: string })[], file: string): Promise<void> {
  await conn.run('DELETE FROM archive_rows');
  const app = await conn.createAppender('archive_rows', 'main', 'temp');
  for (const r of rows) {
    app.appendBigInt(BigInt(r.id));
    app.appendVarchar(r.event_id);
    app.appendVarchar(r.tx_id);
    app.appendVarchar(r.type);
    app.appendInteger(r.version);
    app.appendVarchar(r.context);
    app.appendVarchar(r.aggregate_type);
    app.appendVarchar(r.aggregate_id);
    app.appendVarchar(r.payload_text);
    app.appendVarchar(r.occurred_at.toISOString());
    app.endRow();
  }
  app.closeSync();
  const tmp = `${file}.tmp`;
  await conn.run(`COPY (
      SELECT id, event_id::UUID AS event_id, tx_id::UBIGINT AS tx_id, type, version, context, aggregate_type, aggregate_id,
             payload::JSON AS payload, occurred_at::TIMESTAMPTZ AS occurred_at
        FROM archive_rows ORDER BY tx_id, id)
    TO ${quote(tmp)} (FORMAT parquet, COMPRESSION zstd)`);
  const fd = await open(tmp, 'r+');
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
  await rename(tmp, file);
}

/** Removes files no committed archive run recorded (left by a run that stopped mid-way). */
async function removeOrphans(tx: Db, root: string): Promise<number> {
  const days = (await readdir(root).catch(() => [] as string[])).filter((d) => d.startsWith('date='));
  const onDisk: string[] = [];
  for (const d of days) for (const f of await readdir(path.join(root, d))) onDisk.push(`${d}/${f}`);
  if (onDisk.length === 0) return 0;
  const { rows } = await tx.query<{ file: string }>('SELECT file FROM events_outbox_archive WHERE file = ANY($1::text[])', [onDisk]);
  const known = new Set(rows.map((r) => r.file));
  let removed = 0;
  for (const f of onDisk) {
    if (known.has(f)) continue;
    await rm(path.join(root, f), { force: true });
    removed += 1;
  }
  return removed;
}

/**
 * Moves published outbox rows older than the retention window to Parquet files in the lake,
 * Hive-partitioned like the analytics lake (`lake/outbox_archive/date=YYYY-MM-DD/*.parquet`,
 * readable with DuckDB's `read_parquet(..., hive_partitioning = true)`), and deletes them from
 * the hot table.
 *
 * Restart-safe and exactly once: per batch, under an advisory lock, the files are written and
 * renamed into place, then the same transaction records them in `events_outbox_archive` and
 * deletes their rows. A run that stops before that commit leaves files nobody recorded; the
 * next run removes them first and archives the (still hot) rows again.
 */
export async function archiveOutbox(db: Db, options: ArchiveOptions): Promise<ArchiveResult> {
  const result: ArchiveResult = { archived: 0, files: [], orphansRemoved: 0, busy: false };
  const limit = options.batchSize ?? 5000;
  const horizon = await publishedHorizon(db, options.natsMode);
  if (!horizon) return result;
  const cutoff = new Date(options.now.getTime() - options.retentionMs);
  const root = path.join(options.dataDir, 'lake', 'outbox_archive');
  const duck: { current?: Awaited<ReturnType<typeof openDuck>> } = {};
  try {
    for (let first = true; ; first = false) {
      const batch = await db.transaction(async (tx): Promise<{ written: string[]; archived: number; more: boolean }> => {
        const none = { written: [], archived: 0, more: false };
        const { rows: lock } = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [ARCHIVE_LOCK]);
        if (!lock[0]?.ok) {
          result.busy = true;
          return none;
        }
        if (first) result.orphansRemoved = await removeOrphans(tx, root);
        const { rows } = await tx.query<OutboxRow & { payload_text: string }>(
          `SELECT id, event_id, tx_id::text AS tx_id, type, version, context, aggregate_type, aggregate_id,
                  payload::text AS payload_text, occurred_at
             FROM events_outbox
            WHERE occurred_at < $1 AND tx_id < ${HORIZON}
              AND (tx_id, id) <= ($2::xid8, $3::bigint)
            ORDER BY ${ORDER} LIMIT $4`,
          [cutoff, horizon.txId, horizon.seq, limit],
        );
        if (rows.length === 0) return none;
        duck.current ??= await openDuck();
        const byDay = new Map<string, typeof rows>();
        for (const r of rows) {
          const day = r.occurred_at.toISOString().slice(0, 10);
          const list = byDay.get(day) ?? [];
          list.push(r);
          byDay.set(day, list);
        }
        const written: string[] = [];
        for (const [day, dayRows] of byDay) {
          const ids = dayRows.map((r) => r.id);
          const firstId = Math.min(...ids);
          const lastId = Math.max(...ids);
          const rel = `date=${day}/outbox-${firstId}-${lastId}-${dayRows.length}.parquet`;
          await mkdir(path.join(root, `date=${day}`), { recursive: true });
          await writeParquet(duck.current.conn, dayRows, path.join(root, rel));
          written.push(path.join(root, rel));
          await tx.query(
            'INSERT INTO events_outbox_archive (file, day, first_id, last_id, row_count) VALUES ($1, $2, $3, $4, $5)',
            [rel, day, firstId, lastId, dayRows.length],
          );
        }
        await tx.query('DELETE FROM events_outbox WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
        await options.beforeCommit?.(written);
        return { written, archived: rows.length, more: rows.length === limit };
      });
      result.files.push(...batch.written);
      result.archived += batch.archived;
      if (!batch.more) break;
    }
  } finally {
    duck.current?.close();
  }
  return result;
}
