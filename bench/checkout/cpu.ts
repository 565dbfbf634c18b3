import { readdirSync, readFileSync } from 'node:fs';
import type { Db } from '../../src/platform/db.js';

// Where the machine's CPU goes during the timed phase, from /proc (Linux; clock ticks of
// 10 ms): the server's main thread, the load generator's thread, the rest of the bench
// process (libuv pool, GC helpers), the processor simulator, PostgreSQL's backends of the
// bench database, PostgreSQL's other processes (WAL writer, checkpointer, other databases)
// and everything else. On two cores, the load generator and the simulator compete with the
// server and PostgreSQL for the same cycles; this says how much.

const TICK_MS = 10;

function ticksOf(statPath: string): number {
  try {
    const stat = readFileSync(statPath, 'utf8');
    // Fields after the command (which may contain spaces) start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return 0; // the process or thread has gone
  }
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** CPU ticks of every PostgreSQL process, by pid; `bench` for the backends of `database`. */
function postgresTicks(database: string): Map<number, { bench: boolean; ticks: number }> {
  const out = new Map<number, { bench: boolean; ticks: number }>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmd.startsWith('postgres')) continue;
    out.set(Number(pid), { bench: cmd.includes(` ${database} `), ticks: ticksOf(`/proc/${pid}/stat`) });
  }
  return out;
}

/** PostgreSQL ticks between two snapshots: processes started in between count whole (backends come and go). */
function postgresDelta(a: CpuSnapshot['pg'], b: CpuSnapshot['pg']): { bench: number; other: number } {
  let bench = 0;
  let other = 0;
  for (const [pid, p] of b) {
    const d = p.ticks - (a.get(pid)?.ticks ?? 0);
    if (p.bench) bench += d;
    else other += d;
  }
  return { bench, other };
}

/**
 * CPU seconds of PostgreSQL's processes between two snapshots (every database's backends and the
 * server's own processes); null when no PostgreSQL process runs on this machine.
 */
export function postgresCpuSeconds(a: CpuSnapshot, b: CpuSnapshot): number | null {
  if (b.pg.size === 0) return null;
  const { bench, other } = postgresDelta(a.pg, b.pg);
  return ((bench + other) * TICK_MS) / 1000;
}

export interface CpuSnapshot {
  at: number;
  machine: { busy: number; total: number };
  process: number;
  mainThread: number;
  sim: number;
  pg: Map<number, { bench: boolean; ticks: number }>;
}

export function cpuSnapshot(simPid: number | undefined, database: string): CpuSnapshot {
  return {
    at: performance.now(),
    machine: machineTicks(),
    process: ticksOf(`/proc/${process.pid}/stat`),
    mainThread: ticksOf(`/proc/${process.pid}/task/${process.pid}/stat`),
    sim: simPid ? ticksOf(`/proc/${simPid}/stat`) : 0,
    pg: postgresTicks(database),
  };
}

/**
 * Cores used by each part between two snapshots (1.0 = one core busy all along).
 * `loadGenMs`: CPU time the load generator's thread measured for itself over the same span.
 */
export function cpuSplit(a: CpuSnapshot, b: CpuSnapshot, loadGenMs: number): Record<string, number> {
  const wallMs = b.at - a.at;
  const cores = (ticks: number) => Number(((ticks * TICK_MS) / wallMs).toFixed(2));
  const processTicks = b.process - a.process;
  const mainTicks = b.mainThread - a.mainThread;
  const loadGenTicks = loadGenMs / TICK_MS;
  const busy = b.machine.busy - a.machine.busy;
  const { bench: pgBench, other: pgOther } = postgresDelta(a.pg, b.pg);
  const sim = b.sim - a.sim;
  const ncpu = (b.machine.total - a.machine.total) / (wallMs / TICK_MS);
  return {
    server_main_thread: cores(mainTicks),
    load_generator: cores(loadGenTicks),
    bench_process_other_threads: cores(Math.max(0, processTicks - mainTicks - loadGenTicks)),
    processor_simulator: cores(sim),
    postgres_bench_backends: cores(pgBench),
    postgres_other: cores(pgOther),
    rest_of_machine: cores(Math.max(0, busy - processTicks - sim - pgBench - pgOther)),
    machine_busy: cores(busy),
    machine_cores: Number(ncpu.toFixed(2)),
  };
}

export interface PgStats {
  db: Record<string, number>;
  tables: Map<string, Record<string, number>>;
}

/** The bench database's activity counters (pg_stat_database and pg_stat_user_tables). */
export async function pgStats(db: Db): Promise<PgStats> {
  const { rows: [d] } = await db.query<Record<string, string>>(
    `SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, blks_hit, blks_read
       FROM pg_stat_database WHERE datname = current_database()`);
  const { rows } = await db.query<Record<string, string>>(
    `SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0) AS idx_scan, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del FROM pg_stat_user_tables`);
  const num = (r: Record<string, string>) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'relname').map(([k, v]) => [k, Number(v)]));
  return { db: num(d ?? {}), tables: new Map(rows.map((r) => [r.relname ?? '', num(r)])) };
}

/**
 * Per checkout between two snapshots: the database totals, and the tables read by sequential
 * scans (a missing index shows here) or written most.
 */
export function pgStatsPer(a: PgStats, b: PgStats, n: number): Record<string, unknown> {
  const per = (x: number) => Number((x / Math.max(1, n)).toFixed(2));
  const totals = Object.fromEntries(Object.keys(b.db).map((k) => [k, per((b.db[k] ?? 0) - (a.db[k] ?? 0))]));
  const tables: Record<string, Record<string, number>> = {};
  for (const [name, t] of b.tables) {
    const before: Record<string, number> = a.tables.get(name) ?? {};
    const d: Record<string, number> = {};
    for (const k of Object.keys(t)) {
      const v = per((t[k] ?? 0) - (before[k] ?? 0));
      if (v !== 0) d[k] = v;
    }
    if (Object.keys(d).length > 0) tables[name] = d;
  }
  return { per_checkout: totals, tables_per_checkout: tables };
}
