// Embedded mode as a user meets it: `npm start` (bin/embudo.js start) with a fresh
// EMBUDO_DATA_DIR (initdb, migrations, demo catalogue and history) and again on the existing
// one, timed from spawn to /readyz answering 200; resident memory at idle and under
// 200 orders/s of live simulated traffic. Baselines from the same run: a bare `embudo help`
// (Node + tsx start) and the RSS of an idle Node process.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../src/platform/embedded-postgres.js';
import { runLive } from '../src/simulate/index.js';
import { httpClient } from '../src/simulate/http-client.js';
import type { FigureTarget } from './run.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const LOAD_RATE = Number(process.env.BENCH_STARTUP_RATE ?? 200);
const LOAD_SECONDS = Number(process.env.BENCH_STARTUP_SECONDS ?? 20);
/** Seconds of the same load before the measured one (a running service's code is warm). */
const WARMUP_SECONDS = Number(process.env.BENCH_STARTUP_WARMUP_SECONDS ?? 5);
/** Units received per SKU before the load, so it measures orders and not a sold-out catalogue. */
const RESTOCK_UNITS = 100_000;
const ADMIN_TOKEN = 'bench-startup-admin-token';

export const targets: Record<string, FigureTarget> = {
  ready_fresh_ms: { target: 3000, better: 'lower', unit: 'ms', baseline: 'baseline_cli_ms', note: 'first start: initdb, migrations, demo catalogue and history' },
  ready_fresh_no_history_ms: { target: 3000, better: 'lower', unit: 'ms', baseline: 'baseline_cli_ms', note: 'first start with EMBUDO_SEED_HISTORY_DAYS=0' },
  ready_existing_ms: { target: 3000, better: 'lower', unit: 'ms', baseline: 'baseline_cli_ms' },
  rss_idle_mb: { target: 400, better: 'lower', unit: 'MB', baseline: 'baseline_node_rss_mb', note: 'the embudo process' },
  rss_load_mb: { target: 400, better: 'lower', unit: 'MB', baseline: 'rss_idle_mb', note: 'peak under the live load (offered LOAD_RATE orders/s; load_orders_per_s says how many were acknowledged)' },
  load_orders_per_s: { target: LOAD_RATE * 0.9, better: 'higher', unit: 'orders/s', baseline: 'http_floor_orders_per_s', note: 'orders the platform acknowledged per second' },
  http_floor_orders_per_s: { better: 'higher', unit: 'orders/s', note: 'ceiling before any work: GET /healthz answers per second (same client, same server, all cores) ÷ requests per acknowledged order in the load' },
  load_requests_per_order: { better: 'lower', note: 'HTTP requests the shoppers sent per acknowledged order (platform and processor simulator)' },
  postgres_rss_mb: { better: 'lower', unit: 'MB', note: 'embedded PostgreSQL processes (shared buffers counted once per process)' },
  'load_cpu_ms_per_order.platform': { better: 'lower', unit: 'ms', note: 'CPU time of the embudo process per acknowledged order, in-process workers and simulator included' },
  'load_cpu_ms_per_order.postgres': { better: 'lower', unit: 'ms', note: 'CPU time of the embedded PostgreSQL per acknowledged order' },
  'load_cpu_ms_per_order.driver': { better: 'lower', unit: 'ms', note: 'CPU time of the live driver (this process) per acknowledged order' },
  load_machine_cpu_busy_pct: { unit: '%', better: 'lower', note: 'all cores busy during the load (every process on the machine): near 100 means CPU-bound' },
};

interface Started {
  child: ChildProcess;
  readyMs: number;
  port: number;
  simPort: number;
  output: () => string;
}

async function start(dataDir: string, env: Record<string, string> = {}): Promise<Started> {
  const port = await freePort();
  const simPort = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/embudo.js'), 'start'], {
    cwd: ROOT,
    env: { ...process.env, EMBUDO_DATA_DIR: dataDir, PORT: String(port), SIM_PORT: String(simPort), LOG_LEVEL: 'warn', DATABASE_URL: '', NATS_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 600_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`embudo start exited ${child.exitCode}: ${out.slice(-2000)}`);
    if (Date.now() > deadline) {
      // SIGTERM, so it stops its embedded PostgreSQL too instead of leaving it behind.
      child.kill('SIGTERM');
      throw new Error(`not ready after 600 s: ${out.slice(-2000)}`);
    }
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, readyMs: Math.round(performance.now() - t0), port, simPort, output: () => out };
}

async function stop(s: Started): Promise<void> {
  if (s.child.exitCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}

/** The pids of every descendant of pid (the embedded PostgreSQL server and its backends). */
function descendants(pid: number, rows: number[][]): Set<number> {
  const kids = new Set<number>([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [p = 0, pp = 0] of rows) if (kids.has(pp) && !kids.has(p)) {
      kids.add(p);
      grew = true;
    }
  }
  kids.delete(pid);
  return kids;
}

/** The RSS of every descendant of pid (the embedded PostgreSQL server and its backends). */
function descendantsRssMb(pid: number): number {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,rss=']).toString().trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  const kids = descendants(pid, rows);
  return Math.round(rows.filter(([p]) => kids.has(p as number)).reduce((s, [, , rss]) => s + (rss as number), 0) / 1024);
}

/** CPU seconds (user + system) of pid, and of its descendants (with the children they reaped). */
function cpuSeconds(pid: number): { self: number; descendants: number } {
  const ticks = (p: number, reaped: boolean) => {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return [11, 12, ...(reaped ? [13, 14] : [])].reduce((s, i) => s + Number(f[i] ?? 0), 0);
    } catch {
      return 0; // gone meanwhile
    }
  };
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid=']).toString().trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  let sum = 0;
  for (const p of descendants(pid, rows)) sum += ticks(p, true);
  return { self: ticks(pid, false) / 100, descendants: sum / 100 };
}

/** Busy and total jiffies of the whole machine (/proc/stat). */
function machineCpu(): { busy: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}

/** Receives RESTOCK_UNITS of every SKU of the catalogue at the demo warehouse (admin API). */
async function restock(base: string): Promise<void> {
  const skus: string[] = [];
  for (let offset = 0; ; offset += 200) {
    const res = await fetch(`${base}/catalog/products?limit=200&offset=${offset}`);
    if (!res.ok) throw new Error(`GET /catalog/products answered ${res.status}`);
    const products = (await res.json()) as { skus: { sku: string }[] }[];
    for (const p of products) for (const s of p.skus) skus.push(s.sku);
    if (products.length < 200) break;
  }
  for (const sku of skus) {
    const res = await fetch(`${base}/admin/inventory/receipts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-admin-token': ADMIN_TOKEN, 'idempotency-key': `bench-restock-${sku}` },
      body: JSON.stringify({ sku, locationId: 'bodega-santiago', quantity: RESTOCK_UNITS, reference: 'bench-startup' }),
    });
    if (res.status !== 201) throw new Error(`receipt of ${sku} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  }
}

/**
 * GET /healthz answers per second through the live driver's client with 64 requests in
 * flight: what HTTP alone costs both sides on this machine, the ceiling before any work.
 */
async function healthzPerSecond(base: string, ms: number): Promise<number> {
  const client = httpClient();
  let done = 0;
  const until = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (performance.now() < until) {
      const res = await client.request(`${base}/healthz`, { method: 'GET', timeoutMs: 30_000 });
      if (res.status !== 200) throw new Error(`/healthz answered ${res.status}`);
      done++;
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  client.close();
  return done / seconds;
}

export async function run(): Promise<Record<string, unknown>> {
  // Baselines.
  const c0 = performance.now();
  execFileSync(process.execPath, [path.join(ROOT, 'bin/embudo.js'), 'help'], { cwd: ROOT, stdio: 'ignore' });
  const baselineCliMs = Math.round(performance.now() - c0);
  const idleNode = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  const baselineNodeRss = rssMb(idleNode.pid as number);
  idleNode.kill('SIGKILL');

  const dirs: string[] = [];
  const fresh = (label: string) => {
    const d = mkdtempSync(path.join(os.tmpdir(), `embudo-bench-${label}-`));
    // As root the embedded server runs as `postgres`, which must be able to enter it.
    chmodSync(d, 0o755);
    dirs.push(d);
    return d;
  };
  try {
    const noHistoryDir = fresh('nohist');
    const a = await start(noHistoryDir, { EMBUDO_SEED_HISTORY_DAYS: '0' });
    await stop(a);

    const dir = fresh('start');
    const first = await start(dir);
    await stop(first);
    const second = await start(dir, { EMBUDO_ADMIN_TOKEN: ADMIN_TOKEN });
    try {
      await new Promise((r) => setTimeout(r, 3000));
      const rssIdle = rssMb(second.child.pid as number);
      const pgIdle = descendantsRssMb(second.child.pid as number);
      const base = `http://127.0.0.1:${second.port}`;
      await restock(base);
      const floor = await healthzPerSecond(base, 3000);
      const liveOptions = {
        baseUrl: base, simUrl: `http://127.0.0.1:${second.simPort}`,
        rate: LOAD_RATE, flat: true, browsePerOrder: 0, maxInFlight: 512, customerCount: 400,
      };
      let peak = rssIdle;
      let pgPeak = pgIdle;
      const sampler = setInterval(() => {
        try {
          peak = Math.max(peak, rssMb(second.child.pid as number));
          pgPeak = Math.max(pgPeak, descendantsRssMb(second.child.pid as number));
        } catch {
          // the process may be gone at the very end
        }
      }, 500);
      if (WARMUP_SECONDS > 0) await runLive({ ...liveOptions, seed: 'bench-startup-warmup', durationMs: WARMUP_SECONDS * 1000 });
      const cpu0 = cpuSeconds(second.child.pid as number);
      const driver0 = process.cpuUsage();
      const machine0 = machineCpu();
      const load = await runLive({ ...liveOptions, seed: 'bench-startup', durationMs: LOAD_SECONDS * 1000 });
      clearInterval(sampler);
      const cpu1 = cpuSeconds(second.child.pid as number);
      const driver = process.cpuUsage(driver0);
      const machine1 = machineCpu();
      const perOrder = (seconds: number) => (load.orders > 0 ? Math.round((seconds * 1000) / load.orders) : null);
      return {
        ready_fresh_ms: first.readyMs,
        ready_fresh_no_history_ms: a.readyMs,
        ready_existing_ms: second.readyMs,
        rss_idle_mb: rssIdle,
        rss_load_mb: peak,
        postgres_rss_mb: pgPeak,
        postgres_idle_rss_mb: pgIdle,
        load_orders_per_s: Math.round((load.orders / (load.ms / 1000)) * 10) / 10,
        http_floor_orders_per_s: load.orders > 0 ? Math.round(floor / (load.requests / load.orders)) : null,
        http_floor_requests_per_s: Math.round(floor),
        load_requests_per_order: load.orders > 0 ? Math.round((load.requests / load.orders) * 10) / 10 : null,
        load_warmup_s: WARMUP_SECONDS,
        load_target_per_s: LOAD_RATE,
        load_dropped: load.dropped,
        load_out_of_stock: load.outOfStock,
        load_statuses: load.statuses,
        load_checkout_p50_ms: load.p50,
        load_checkout_p99_ms: load.p99,
        load_cpu_ms_per_order: {
          platform: perOrder(cpu1.self - cpu0.self),
          postgres: perOrder(cpu1.descendants - cpu0.descendants),
          driver: perOrder((driver.user + driver.system) / 1e6),
        },
        load_machine_cpu_busy_pct: Math.round(((machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total)) * 100),
        baseline_cli_ms: baselineCliMs,
        baseline_node_rss_mb: baselineNodeRss,
        machine_load: os.loadavg()[0]?.toFixed(2),
      };
    } finally {
      await stop(second);
    }
  } finally {
    // The embedded server may still be finishing its shutdown: retry, never fail the figures.
    for (const d of dirs) {
      for (let i = 0; i < 10; i++) {
        try {
          rmSync(d, { recursive: true, force: true });
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
  }
}
