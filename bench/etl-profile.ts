// Per-stage timings of one backfill load (no PostgreSQL): `npx tsx bench/etl-profile.ts [orders] [json]`.
// Prints each stage of `load` (LoadResult.timings), for the backfill, a re-run of 1,000 of its
// events, and a window of ~1,000 new events after it. By default the backfill's pages are files
// in COPY's text format, as PostgreSQL writes them for the service's landing reads (the real
// bench's path); `json` stages the envelopes through the appender instead.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EventEnvelope } from '../src/events/index.js';
import { ensureSchema, envelopePages, load, PAGE, toStaged, type CsvPage } from '../src/analytics/etl.js';
import { openWarehouse } from '../src/analytics/warehouse.js';
import { generateMonth } from '../test/analytics/generate.js';

const orders = Number(process.argv[2] ?? 40_000);
const json = process.argv[3] === 'json';
const dir = mkdtempSync(path.join(tmpdir(), 'embudo-etl-profile-'));

/** A value in COPY's text format (JSON.stringify leaves no raw tab or line break; a backslash is doubled). */
const copyText = (v: string | null | undefined) => (v === null || v === undefined ? '\\N' : v.replaceAll('\\', '\\\\').replaceAll('\t', '\\t').replaceAll('\n', '\\n'));

/**
 * The landing's pages as PostgreSQL's COPY would write them (see LANDING_COPY), one file each,
 * written before the timing: PostgreSQL writes them in the real bench ('read'), not JS.
 */
function copyPages(events: readonly EventEnvelope[]): () => AsyncIterable<CsvPage> {
  const pages: CsvPage[] = [];
  for (let i = 0; i < events.length; i += PAGE) {
    const file = path.join(dir, `page-${i}.txt`);
    const page = events.slice(i, i + PAGE);
    writeFileSync(file, page.map((e, j) => [String(i + j + 1), e.id, String(e.seq), copyText(e.type), String(e.version), copyText(e.aggregateId),
      String(e.occurredAt.getTime() * 1000), copyText(JSON.stringify(e.payload))].join('\t')).join('\n') + '\n');
    pages.push({ file, rows: page.length, unique: true, disjoint: true });
  }
  return async function* () {
    yield* pages;
  };
}

try {
  const { events } = generateMonth(orders, 1);
  const file = path.join(dir, 'warehouse.duckdb');
  const w = await openWarehouse(file);
  await ensureSchema(w.conn);
  const source = json ? envelopePages(events) : copyPages(events);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  // Serialising the envelopes ('json') happens inside the load, one page at a time ('read' in its stages).
  const r = await load(w.conn, source, { now: new Date() });
  const t2 = performance.now();
  // Core-seconds of the backfill (DuckDB's threads included): less sensitive than the wall time to what else runs.
  const cpu = process.cpuUsage(c0);
  const again = await load(w.conn, events.slice(0, 1000).map(toStaged), { now: new Date() });
  // A streaming-sized window of new events (~1,000) on top of the backfill.
  const fresh = generateMonth(160, 2, new Date('2026-11-01T00:00:00Z')).events;
  const t3 = performance.now();
  const window = await load(w.conn, fresh.map(toStaged), { now: new Date() });
  const t4 = performance.now();
  w.close();
  const total = t2 - t0;
  process.stdout.write(`${JSON.stringify({ events: events.length, inserted: r.inserted, total_ms: Math.round(total), events_per_s: Math.round(events.length / (total / 1000)),
    cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
    file_mb: Math.round(statSync(file).size / 1e5) / 10, stages_ms: r.timings, rerun_1000_ms: again.timings,
    window: { events: fresh.length, total_ms: Math.round(t4 - t3), stages_ms: window.timings } })}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
