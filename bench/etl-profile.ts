// Per-stage timings of one backfill load (no PostgreSQL): `npx tsx bench/etl-profile.ts [orders]`.
// Prints each stage of `load` (LoadResult.timings), for
// the backfill, a re-run of 1,000 of its events, and a window of ~1,000 new events after it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureSchema, envelopePages, load, toStaged } from '../src/analytics/etl.js';
import { openWarehouse } from '../src/analytics/warehouse.js';
import { generateMonth } from '../test/analytics/generate.js';

const orders = Number(process.argv[2] ?? 40_000);
const dir = mkdtempSync(path.join(tmpdir(), 'embudo-etl-profile-'));
try {
  const { events } = generateMonth(orders, 1);
  const w = await openWarehouse(path.join(dir, 'warehouse.duckdb'));
  await ensureSchema(w.conn);
  const t0 = performance.now();
  // Serialising the envelopes happens inside the load, one page at a time ('read' in its stages).
  const r = await load(w.conn, envelopePages(events), { now: new Date() });
  const t2 = performance.now();
  const again = await load(w.conn, events.slice(0, 1000).map(toStaged), { now: new Date() });
  // A streaming-sized window of new events (~1,000) on top of the backfill.
  const fresh = generateMonth(160, 2, new Date('2026-11-01T00:00:00Z')).events;
  const t3 = performance.now();
  const window = await load(w.conn, fresh.map(toStaged), { now: new Date() });
  const t4 = performance.now();
  w.close();
  const total = t2 - t0;
  process.stdout.write(`${JSON.stringify({ events: events.length, inserted: r.inserted, total_ms: Math.round(total), events_per_s: Math.round(events.length / (total / 1000)),
    stages_ms: r.timings, rerun_1000_ms: again.timings,
    window: { events: fresh.length, total_ms: Math.round(t4 - t3), stages_ms: window.timings } })}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
