// Per-stage timings of one backfill load (no PostgreSQL): `npx tsx bench/etl-profile.ts [orders]`.
// Prints the time to stage the envelopes in JS, then each stage of `load` (LoadResult.timings).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureSchema, load, toStaged } from '../src/analytics/etl.js';
import { openWarehouse } from '../src/analytics/warehouse.js';
import { generateMonth } from '../test/analytics/generate.js';

const orders = Number(process.argv[2] ?? 40_000);
const dir = mkdtempSync(path.join(tmpdir(), 'embudo-etl-profile-'));
try {
  const { events } = generateMonth(orders, 1);
  const w = await openWarehouse(path.join(dir, 'warehouse.duckdb'));
  await ensureSchema(w.conn);
  const t0 = performance.now();
  const staged = events.map(toStaged);
  const t1 = performance.now();
  const r = await load(w.conn, staged, { now: new Date() });
  const t2 = performance.now();
  const again = await load(w.conn, events.slice(0, 1000).map(toStaged), { now: new Date() });
  w.close();
  const total = t2 - t0;
  process.stdout.write(`${JSON.stringify({ events: events.length, inserted: r.inserted, total_ms: Math.round(total), events_per_s: Math.round(events.length / (total / 1000)),
    to_staged_ms: Math.round(t1 - t0), stages_ms: r.timings, small_reload_ms: again.timings })}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
