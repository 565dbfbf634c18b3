import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { z } from 'zod';
import { DuckDBInstance } from '@duckdb/node-api';
import { appendEvents, archiveOutbox, defineEvent, renderCatalog } from '../../src/events/index.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { startPlatform } from '../../src/main/platform.js';
import { freshDatabase } from '../support/db.js';
import { testConfig } from '../support/platform.js';
import { effectTable, publish, sleep, testBus, uniqueContext, waitFor } from './support.js';

const { db, url } = await freshDatabase();
const bus = testBus(db);
after(() => bus.close());

test('a consumer process killed mid-handler leaves no effect; the next one applies each event once', async () => {
  const ctx = uniqueContext();
  await effectTable(db, `fx_${ctx}`);
  for (let n = 1; n <= 5; n++) await publish(db, `${ctx}.e`, { n });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'fixtures/crashing-consumer.ts'), url, `${ctx}.fx`, ctx, '3'], {
    stdio: 'inherit',
  });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
  assert.equal(signal, 'SIGKILL');
  const count = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fx_${ctx}`)).rows[0]?.n ?? 0;
  assert.equal(await count(), 0, 'the killed transaction rolled back');

  const worker = bus.consumer({
    name: `${ctx}.fx`,
    types: [`${ctx}.*`],
    handle: async (tx, e) => void (await tx.query(`INSERT INTO fx_${ctx} (event_id, n) VALUES ($1, $2)`, [e.id, (e.payload as { n: number }).n])),
  });
  worker.start();
  try {
    await waitFor(async () => (await count()) === 5, 10_000, 'five effects');
    await sleep(150);
    const { rows } = await db.query<{ n: number }>(`SELECT n FROM fx_${ctx} ORDER BY n`);
    assert.deepEqual(rows.map((r) => r.n), [1, 2, 3, 4, 5]);
  } finally {
    await worker.stop();
  }
});

test('housekeeping archives delivered events past retention to the lake and deletes them', async () => {
  const ctx = uniqueContext();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'embudo-lake-'));
  const old = new Date(Date.now() - 10 * 86_400_000);
  const append = (n: number, occurredAt: Date) =>
    db.transaction((tx) => appendEvents(tx, [{ type: `${ctx}.e`, version: 1, aggregateType: 'p', aggregateId: `${n}`, payload: { n }, occurredAt }]));
  for (let n = 1; n <= 3; n++) await append(n, old);
  const seen: number[] = [];
  const worker = bus.consumer({ name: `${ctx}.hk`, types: [`${ctx}.*`], handle: async (_tx, e) => void seen.push((e.payload as { n: number }).n) });
  worker.start();
  await waitFor(() => seen.length === 3, 10_000, 'three events');
  await worker.stop();
  await append(4, old); // not yet delivered to that consumer: stays hot
  await append(5, new Date()); // inside retention: stays hot

  // Only consumers' positions bound what is delivered: take the others in this DB out of the way.
  await db.query(`DELETE FROM events_positions WHERE consumer <> $1`, [`${ctx}.hk`]);
  const result = await archiveOutbox(db, { dataDir, retentionMs: 7 * 86_400_000, now: new Date(), natsMode: false });
  const mine = (await db.query<{ n: number }>(`SELECT (payload->>'n')::int AS n FROM events_outbox WHERE context = $1 ORDER BY id`, [ctx])).rows;
  assert.deepEqual(mine.map((r) => r.n), [4, 5]);
  const day = old.toISOString().slice(0, 10);
  const dir = path.join(dataDir, 'lake', 'outbox_archive', `date=${day}`);
  const files = await readdir(dir);
  assert.ok(files.length >= 1 && files.every((f) => f.endsWith('.parquet')));
  assert.equal(result.files.length, files.length);
  const lake = await readLake(dataDir);
  assert.deepEqual(lake.filter((l) => l.type === `${ctx}.e`).map((l) => l.n), [1, 2, 3]);
  assert.ok(lake.every((l) => l.date === day), 'Hive partition column date=YYYY-MM-DD');
});

/** The outbox archive as DuckDB reads it from the lake (Hive partitions). */
async function readLake(dataDir: string): Promise<{ type: string; n: number; date: string; id: number }[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const glob = path.join(dataDir, 'lake', 'outbox_archive', '*', '*.parquet').replaceAll("'", "''");
    const reader = await conn.runAndReadAll(
      `SELECT type, (payload->>'n')::INTEGER AS n, CAST(date AS VARCHAR) AS date, id
         FROM read_parquet('${glob}', hive_partitioning = true) ORDER BY tx_id, id`,
    );
    return reader.getRowObjectsJson().map((r) => {
      const row = r as { type: string; n: number; date: string; id: string | number };
      return { type: row.type, n: row.n, date: row.date, id: Number(row.id) };
    });
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

test('archive is restart-safe: a run stopped before its commit leaves no duplicate and loses nothing', async () => {
  const ctx = uniqueContext();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'embudo-lake-'));
  const old = new Date(Date.now() - 10 * 86_400_000);
  await db.transaction((tx) =>
    appendEvents(tx, Array.from({ length: 7 }, (_, i) => ({ type: `${ctx}.e`, version: 1, aggregateType: 'p', aggregateId: `${i}`, payload: { n: i }, occurredAt: old }))),
  );
  await db.query(`DELETE FROM events_positions`);
  const options = { dataDir, retentionMs: 7 * 86_400_000, now: new Date(), natsMode: false, batchSize: 3 };
  await assert.rejects(
    archiveOutbox(db, { ...options, beforeCommit: () => Promise.reject(new Error('killed after the files, before the commit')) }),
    /killed/,
  );
  const hot = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events_outbox WHERE context = $1', [ctx])).rows[0]?.n ?? 0;
  assert.equal(await hot(), 7, 'nothing left the hot table');
  assert.ok((await readLake(dataDir)).length > 0, 'the stopped run left a file behind');

  const again = await archiveOutbox(db, options);
  assert.ok(again.orphansRemoved >= 1);
  assert.equal(await hot(), 0);
  const mine = (await readLake(dataDir)).filter((l) => l.type === `${ctx}.e`);
  assert.deepEqual(mine.map((l) => l.n).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6], 'each event archived exactly once');
  assert.equal((await archiveOutbox(db, options)).archived, 0, 'a second run finds nothing to do');
});

test('archive keeps what the slowest consumer has not read, across a power of ten of transaction ids', async () => {
  const ctx = uniqueContext();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'embudo-lake-'));
  const old = new Date(Date.now() - 10 * 86_400_000);
  // Transaction ids set by hand: one consumer has read up to transaction 9, another up to 10.
  const { rows } = await db.query<{ id: number; n: number }>(
    `INSERT INTO events_outbox (tx_id, event_id, type, version, context, aggregate_type, aggregate_id, payload, occurred_at)
     SELECT t::text::xid8, gen_random_uuid(), $1, 1, $2, 'probe', t::text, jsonb_build_object('n', t), $3
       FROM unnest(ARRAY[9, 10]) AS t
     RETURNING id, (payload->>'n')::int AS n`,
    [`${ctx}.e`, ctx, old],
  );
  const idOf = (n: number) => rows.find((r) => r.n === n)?.id;
  await db.query(`DELETE FROM events_positions`);
  await db.query(
    `INSERT INTO events_positions (consumer, tx_id, event_seq) VALUES ($1, '9', $2), ($3, '10', $4)`,
    [`${ctx}.slow`, idOf(9), `${ctx}.fast`, idOf(10)],
  );
  await archiveOutbox(db, { dataDir, retentionMs: 7 * 86_400_000, now: new Date(), natsMode: false });
  const hot = (await db.query<{ n: number }>(`SELECT (payload->>'n')::int AS n FROM events_outbox WHERE context = $1`, [ctx])).rows;
  assert.deepEqual(hot.map((r) => r.n), [10], 'transaction 10 stays hot: the slow consumer has not read it');
  assert.deepEqual((await readLake(dataDir)).filter((l) => l.type === `${ctx}.e`).map((l) => l.n), [9]);
});

test('the catalogue renders registered payload schemas; build() refuses a payload off contract', () => {
  const stockChanged = defineEvent({
    type: 'inventory.stock_changed',
    version: 1,
    aggregateType: 'sku',
    description: 'Stock of a SKU at a location changed.',
    schema: z.object({ sku: z.string(), locationId: z.string(), onHand: z.number().int(), reserved: z.number().int(), available: z.number().int() }).strict(),
  });
  assert.throws(() => stockChanged.build('SKU-1', { sku: 'SKU-1', locationId: 'main', onHand: 1.5, reserved: 0, available: 1 }));
  const event = stockChanged.build('SKU-1', { sku: 'SKU-1', locationId: 'main', onHand: 2, reserved: 1, available: 1 });
  assert.equal(event.type, 'inventory.stock_changed');
  const local = testBus(db);
  local.registerEvents(stockChanged);
  const md = local.catalog();
  void local.close();
  assert.match(md, /## inventory/);
  assert.match(md, /### `inventory\.stock_changed` v1/);
  assert.match(md, /\| `onHand` \| integer \| yes \|/);
  assert.equal(md, renderCatalog([stockChanged]));
});

test('readiness reports a stalled relay; metrics count appends and consumer lag', async () => {
  const metrics = createMetrics();
  const stalled = testBus(db, { natsUrl: 'nats://127.0.0.1:1', stallAfterMs: 100, metrics });
  const { workers, readiness } = stalled.runtime();
  const check = readiness['events-relay'];
  assert.ok(check);
  await db.transaction((tx) =>
    appendEvents(tx, [{ type: 'probe.old', version: 1, aggregateType: 'p', aggregateId: 'x', payload: {}, occurredAt: new Date(Date.now() - 60_000) }]),
  );
  for (const w of workers) w.start();
  try {
    await waitFor(async () => (await check()) !== undefined, 10_000, 'a stall report');
    assert.match((await check()) ?? '', /relay stalled/);
    const text = await metrics.registry.metrics();
    assert.match(text, /embudo_events_appended_total\{type="probe\.old"\} 1/);
    await waitFor(async () => /embudo_events_consumer_lag_events\{consumer="\$relay"\} [1-9]/.test(await metrics.registry.metrics()), 10_000, 'relay lag');
  } finally {
    for (const w of workers) await w.stop();
    await stalled.close();
  }
});

test('the platform builds the bus first and stops cleanly', async () => {
  const platform = await startPlatform(testConfig(url), { role: 'all', listen: false });
  try {
    assert.ok(platform.contexts.some((c) => c.name === 'events'));
    const res = await platform.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(res.statusCode, 200);
  } finally {
    await platform.stop();
  }
});
