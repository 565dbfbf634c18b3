// Inventory benchmark: group-committed reservations vs the naive one-reservation-per-transaction
// SQL run by pgbench, in the same run, on the same scratch database.
//
//   npm run bench -- inventory
//   BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_SECONDS (12 per
//   side and scenario), BENCH_ROUNDS (3: baseline and ours alternate in rounds)
//
// Scenarios, 64 concurrent callers each: `hot` (every caller reserves one unit of one SKU) and
// `spread` (each reservation picks one of 10,000 SKUs at random). Our callers are in-process
// calls of inventory.reserve() (what checkout does), so HTTP is not measured. `oversold` is
// computed from the ledger after the run: Σ over SKU-locations of units reserved beyond what
// is on hand, plus any row where levels and ledger drift.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { createInventory, type Inventory } from '../src/inventory/index.js';
import { systemClock } from '../src/platform/clock.js';
import { createDatabase, type Database } from '../src/platform/db.js';
import { withDatabase } from '../src/platform/embedded-postgres.js';
import { createLogger } from '../src/platform/log.js';
import { createMetrics } from '../src/platform/metrics.js';
import { migrate } from '../src/platform/migrations.js';
import type { FigureTarget } from './run.js';

const run$ = promisify(execFile);
const CALLERS = 64;
const SPREAD_SKUS = 10_000;
const STOCK = 100_000_000;

function pgbenchPath(): string {
  for (const v of ['17', '16', '15']) {
    const p = `/usr/lib/postgresql/${v}/bin/pgbench`;
    if (existsSync(p)) return p;
  }
  return 'pgbench';
}

async function setup(db: Database, inventory: Inventory): Promise<void> {
  await inventory.createLocation({ id: 'bodega', name: 'Bodega', kind: 'warehouse', priority: 10 });
  const skus = ['HOT-PG', 'HOT-EB', ...Array.from({ length: SPREAD_SKUS }, (_, i) => `PG-${i + 1}`), ...Array.from({ length: SPREAD_SKUS }, (_, i) => `EB-${i + 1}`)];
  // Bulk receipts through the same ledger shape the service writes (one movement each).
  await db.transaction(async (tx) => {
    await tx.query('INSERT INTO inventory_items (sku) SELECT unnest($1::text[])', [skus]);
    await tx.query(`INSERT INTO inventory_stock (sku, location_id, on_hand) SELECT unnest($1::text[]), 'bodega', $2`, [skus, STOCK]);
    await tx.query(
      `INSERT INTO inventory_movements (sku, location_id, kind, on_hand_delta, reserved_delta, reference)
       SELECT unnest($1::text[]), 'bodega', 'receipt', $2, 0, 'bench'`,
      [skus, STOCK],
    );
  });
  await db.query('VACUUM ANALYZE');
}

// The naive baseline: one transaction per reservation.
const naiveScript = (setup: string, sku: string) => `
${setup}
BEGIN;
SELECT gen_random_uuid() AS rid \\gset
UPDATE inventory_stock SET reserved = reserved + 1, version = version + 1 WHERE sku = ${sku} AND location_id = 'bodega' AND on_hand - reserved >= 1;
INSERT INTO inventory_reservations (id, status, expires_at, created_at) VALUES (:rid, 'active', now() + interval '15 minutes', now());
INSERT INTO inventory_reservation_lines (reservation_id, line_no, sku, location_id, quantity) VALUES (:rid, 1, ${sku}, 'bodega', 1);
INSERT INTO inventory_movements (sku, location_id, kind, on_hand_delta, reserved_delta, reservation_id) VALUES (${sku}, 'bodega', 'reservation', 0, 1, :rid);
INSERT INTO events_outbox (event_id, type, version, context, aggregate_type, aggregate_id, payload) VALUES (gen_random_uuid(), 'inventory.stock_changed', 1, 'inventory', 'stock_level', ${sku}, '{}');
END;
`;

async function pgbench(url: string, script: string, seconds: number, retries = 2): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'embudo-pgbench-'));
  const file = path.join(dir, 'naive.sql');
  writeFileSync(file, script);
  const u = new URL(url);
  const args = ['-n', '-M', 'prepared', '-c', String(CALLERS), '-j', '2', '-T', String(seconds), '-f', file,
    '-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username || 'postgres'), u.pathname.slice(1)];
  const env = { ...process.env, ...(u.password ? { PGPASSWORD: decodeURIComponent(u.password) } : {}) };
  let stdout = '';
  // The server is shared: when other clients hold the connection slots, wait and retry.
  for (let attempt = 1; ; attempt++) {
    try {
      ({ stdout } = await run$(pgbenchPath(), args, { env, maxBuffer: 16 * 1024 * 1024 }));
      break;
    } catch (err) {
      const tooMany = err instanceof Error && /too many clients/.test(err.message);
      if (!tooMany || attempt >= 30) throw err;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout) ?? /tps = ([\d.]+)/.exec(stdout);
  if (!m?.[1]) {
    // On a saturated machine 64 connections can take the whole slice: no transaction, no tps line.
    if (/actually processed: 0\b/.test(stdout) && retries > 0) return pgbench(url, script, seconds, retries - 1);
    throw new Error(`could not read pgbench output:\n${stdout}`);
  }
  return Number(m[1]);
}

interface OursRound {
  ok: number;
  failed: number;
  elapsed: number;
  latencies: number[];
}

async function ours(inventory: Inventory, pick: () => string, seconds: number): Promise<OursRound> {
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await inventory.reserve({ lines: [{ sku: pick(), quantity: 1 }] });
          ok += 1;
        } catch {
          failed += 1;
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { ok, failed, elapsed: (performance.now() - started) / 1000, latencies };
}

async function oversold(db: Database, prefix: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `WITH m AS (
       SELECT sku, location_id, sum(on_hand_delta) AS on_hand, sum(reserved_delta) AS reserved
       FROM inventory_movements WHERE sku LIKE $1 GROUP BY 1, 2
     )
     SELECT (coalesce(sum(greatest(0, m.reserved - m.on_hand)), 0)
       + count(*) FILTER (WHERE s.on_hand <> m.on_hand OR s.reserved <> m.reserved OR s.reserved > s.on_hand))::int AS n
     FROM m JOIN inventory_stock s USING (sku, location_id)`,
    [`${prefix}%`],
  );
  return rows[0]?.n ?? -1;
}

export const targets: Record<string, FigureTarget> = {
  'hot.reservations_per_s': { better: 'higher', unit: '/s', baseline: 'hot.pgbench_tps' },
  'hot.ratio': { target: 5, better: 'higher', baseline: 'hot.pgbench_tps', note: 'one hot SKU, 64 callers' },
  'hot.p99_ms': { target: 50, better: 'lower', unit: 'ms' },
  'hot.oversold': { target: 0, better: 'lower' },
  'spread.reservations_per_s': { better: 'higher', unit: '/s', baseline: 'spread.pgbench_tps' },
  'spread.ratio': { target: 1.5, better: 'higher', baseline: 'spread.pgbench_tps', note: '10,000 SKUs, 64 callers' },
  'spread.p99_ms': { target: 50, better: 'lower', unit: 'ms' },
  'spread.oversold': { target: 0, better: 'lower' },
};

export async function run(): Promise<Record<string, unknown>> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 12);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const slice = Math.max(1, Math.round(seconds / rounds));
  const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = 'embudo_bench_inventory';
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  const url = withDatabase(adminUrl, name);
  const db = createDatabase({ connectionString: url, max: 8 });
  const logger = createLogger('warn');
  try {
    await migrate(db);
    const inventory = createInventory({ db, logger, metrics: createMetrics(), clock: systemClock });
    await setup(db, inventory);
    const log = (msg: string) => process.stderr.write(`# ${msg}\n`);

    // The machine is shared: alternate short rounds of baseline and ours so both see the same
    // background load, and sum them. Ours gets one uncounted warm-up second (JIT).
    const scenario = async (label: string, pgScript: string, pick: () => string, prefix: string) => {
      log(`${label}: ${rounds} alternating rounds of ${slice}s, ${CALLERS} callers each`);
      await ours(inventory, pick, 1);
      let pgSeconds = 0;
      let pgTx = 0;
      const mine: OursRound = { ok: 0, failed: 0, elapsed: 0, latencies: [] };
      for (let i = 0; i < rounds; i++) {
        const tps = await pgbench(url, pgScript, slice);
        pgSeconds += slice;
        pgTx += tps * slice;
        const r = await ours(inventory, pick, slice);
        mine.ok += r.ok;
        mine.failed += r.failed;
        mine.elapsed += r.elapsed;
        for (const l of r.latencies) mine.latencies.push(l);
        log(`${label} round ${i + 1}: pgbench ${Math.round(tps)} tps, ours ${Math.round(r.ok / r.elapsed)}/s`);
      }
      const tps = pgTx / pgSeconds;
      const perSecond = mine.ok / mine.elapsed;
      mine.latencies.sort((a, b) => a - b);
      const p99 = mine.latencies[Math.min(mine.latencies.length - 1, Math.floor(mine.latencies.length * 0.99))] ?? 0;
      const result = {
        reservations_per_s: Math.round(perSecond),
        pgbench_tps: Math.round(tps),
        ratio: Number((perSecond / tps).toFixed(2)),
        p99_ms: Number(p99.toFixed(1)),
        oversold: await oversold(db, prefix),
        failed: mine.failed,
      };
      log(`${label}: ${JSON.stringify(result)}`);
      return result;
    };

    const hot = await scenario('hot', naiveScript('', `'HOT-PG'`), () => 'HOT-EB', 'HOT-');
    await db.query('VACUUM ANALYZE');
    const spread = await scenario(
      'spread',
      naiveScript(`\\set n random(1, ${SPREAD_SKUS})`, `('PG-' || :n::text)`),
      () => `EB-${1 + Math.floor(Math.random() * SPREAD_SKUS)}`,
      'EB-',
    );
    await inventory.close();
    return { hot, spread };
  } finally {
    await db.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}
