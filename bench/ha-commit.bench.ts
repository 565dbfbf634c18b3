// What a durable (synchronous_commit = remote_apply) commit costs next to a local one, on a
// primary + synchronous standby on loopback (fsync on, as in production). Needs PostgreSQL's
// server binaries (see embudo ha-lab).
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHaCluster } from '../src/main/ha-cluster.js';
import { createDatabase, type Database } from '../src/platform/db.js';

const N = 400;
const CONCURRENCY = 8;

async function measure(db: Database, durable: boolean): Promise<{ p50: number; p99: number; perSecond: number }> {
  const times: number[] = [];
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < N) {
        const t = performance.now();
        await db.transaction(
          async (tx) => {
            await tx.query('INSERT INTO bench_payments (id, amount) VALUES ($1, $2)', [randomUUID(), 1990]);
          },
          { durable },
        );
        times.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  const at = (q: number) => Number((times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0).toFixed(2));
  return { p50: at(0.5), p99: at(0.99), perSecond: Math.round(times.length / elapsed) };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = path.join(os.tmpdir(), `embudo-ha-bench-${process.pid}`);
  const cluster = await startHaCluster({ dir, standbys: [{ name: 'standby1', sync: true }] });
  const db = createDatabase({ connectionString: cluster.url, max: CONCURRENCY });
  try {
    await db.query('CREATE TABLE bench_payments (id uuid PRIMARY KEY, amount bigint NOT NULL)');
    await measure(db, false); // warm-up
    const local = await measure(db, false);
    const durable = await measure(db, true);
    return {
      transactions: N,
      concurrency: CONCURRENCY,
      local_p50_ms: local.p50,
      local_p99_ms: local.p99,
      local_tps: local.perSecond,
      durable_p50_ms: durable.p50,
      durable_p99_ms: durable.p99,
      durable_tps: durable.perSecond,
    };
  } finally {
    await db.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
