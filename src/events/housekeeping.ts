import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../platform/db.js';
import { RELAY } from './relay.js';
import { HORIZON, safeHead, toEnvelope, type OutboxRow, type Position } from './reader.js';

export interface ArchiveOptions {
  /** The data dir; files go to `<dataDir>/lake/outbox_archive/date=YYYY-MM-DD/`. */
  dataDir: string;
  retentionMs: number;
  now: Date;
  /** With NATS the relay's position is what "published" means; else every consumer's. */
  natsMode: boolean;
  batchSize?: number;
}

export interface ArchiveResult {
  archived: number;
  files: string[];
}

/** The newest position every reader has passed: rows at or before it are no longer needed hot. */
async function publishedHorizon(db: Db, natsMode: boolean): Promise<Position | undefined> {
  const { rows } = await db.query<{ tx_id: string; event_seq: number }>(
    natsMode
      ? `SELECT tx_id::text AS tx_id, event_seq FROM events_positions WHERE consumer = $1`
      : `SELECT tx_id::text AS tx_id, event_seq FROM events_positions
          WHERE consumer <> $1 AND consumer NOT LIKE '%@nats'
          ORDER BY tx_id, event_seq LIMIT 1`,
    [RELAY],
  );
  const r = rows[0];
  if (r) return { txId: r.tx_id, seq: r.event_seq };
  // Nobody reads in-process yet: everything committed counts as delivered.
  return natsMode ? undefined : safeHead(db);
}

/**
 * Moves published outbox rows older than the retention window to JSON Lines files in the lake
 * (one folder per day, the analytics lake's Hive-style partitioning) and deletes them from the
 * hot table. A file is written and renamed into place before its rows are deleted; a crash in
 * between leaves a file whose rows are archived again next time (the lake dedupes on `id`).
 */
export async function archiveOutbox(db: Db, options: ArchiveOptions): Promise<ArchiveResult> {
  const result: ArchiveResult = { archived: 0, files: [] };
  const limit = options.batchSize ?? 5000;
  const horizon = await publishedHorizon(db, options.natsMode);
  if (!horizon) return result;
  const cutoff = new Date(options.now.getTime() - options.retentionMs);
  for (;;) {
    const { rows } = await db.query<OutboxRow>(
      `SELECT id, event_id, tx_id::text AS tx_id, type, version, context, aggregate_type, aggregate_id, payload, occurred_at
         FROM events_outbox
        WHERE occurred_at < $1 AND tx_id < ${HORIZON}
          AND (tx_id, id) <= ($2::xid8, $3::bigint)
        ORDER BY tx_id, id LIMIT $4`,
      [cutoff, horizon.txId, horizon.seq, limit],
    );
    if (rows.length === 0) break;
    const byDay = new Map<string, OutboxRow[]>();
    for (const r of rows) {
      const day = r.occurred_at.toISOString().slice(0, 10);
      byDay.set(day, [...(byDay.get(day) ?? []), r]);
    }
    for (const [day, dayRows] of byDay) {
      const dir = path.join(options.dataDir, 'lake', 'outbox_archive', `date=${day}`);
      await mkdir(dir, { recursive: true });
      const first = dayRows[0]?.id ?? 0;
      const last = dayRows.at(-1)?.id ?? 0;
      const file = path.join(dir, `outbox-${first}-${last}.jsonl`);
      const body = dayRows
        .map((r) => JSON.stringify({ ...toEnvelope(r), txId: r.tx_id, occurredAt: r.occurred_at.toISOString() }))
        .join('\n');
      await writeFile(`${file}.tmp`, `${body}\n`, { flush: true });
      await rename(`${file}.tmp`, file);
      result.files.push(file);
    }
    await db.query('DELETE FROM events_outbox WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
    result.archived += rows.length;
    if (rows.length < limit) break;
  }
  return result;
}
