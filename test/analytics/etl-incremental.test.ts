// The incremental ETL from the landing table: high-water mark, late and out-of-order events,
// a failing blocking check that stops the run loudly without moving anything, streaming lake
// and silo, old warehouse files, and DuckDB with automatic extension installs off.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { createAnalytics, QualityCheckFailed, type Analytics } from '../../src/analytics/index.js';
import { openWarehouse } from '../../src/analytics/warehouse.js';
import type { EventEnvelope } from '../../src/events/index.js';
import { appendEvents } from '../../src/events/index.js';
import { manualClock, systemClock } from '../../src/platform/clock.js';
import type { Database } from '../../src/platform/db.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { freshDatabase } from '../support/db.js';
import { testBus, waitFor } from '../events/support.js';
import { generateMonth } from './generate.js';

const { db } = await freshDatabase();
const n = (v: unknown) => Number(v);

function analyticsFor(database: Database, dataDir: string, extra: Partial<Parameters<typeof createAnalytics>[0]> = {}): Analytics {
  return createAnalytics({ db: database, logger: createLogger('silent'), metrics: createMetrics(), clock: systemClock, dataDir, streamIntervalMs: 50, ...extra });
}

/** Lands events as the analytics.etl consumer does. */
async function land(events: readonly EventEnvelope[]): Promise<void> {
  for (const e of events) {
    await db.query(
      `INSERT INTO analytics_landing (event_id, outbox_seq, type, version, aggregate_id, payload, occurred_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING`,
      [e.id, e.seq, e.type, e.version, e.aggregateId, JSON.stringify(e.payload), e.occurredAt],
    );
  }
}
const maxLanding = async () => n((await db.query<{ m: string }>('SELECT max(landing_seq) AS m FROM analytics_landing')).rows[0]?.m);

describe('incremental ETL', () => {
  it('records the high-water mark; late and out-of-order events are loaded and the latest state wins by event time', async () => {
    await db.query('TRUNCATE analytics_landing');
    const a = analyticsFor(db, mkdtempSync(path.join(tmpdir(), 'embudo-wh-')));
    try {
      const { events } = generateMonth(30, 31);
      const pending = events.filter((e) => e.type === 'payments.payment_pending');
      const rest = events.filter((e) => e.type !== 'payments.payment_pending');
      await land(rest);
      const first = await a.runEtl();
      assert.equal(first.loaded, rest.length);
      assert.equal(first.highWaterMark, await maxLanding());
      assert.deepEqual(await a.runEtl(), { loaded: 0, highWaterMark: first.highWaterMark }, 'nothing past the mark: nothing loaded');
      // The pending notices arrive late (after the approvals they precede): approved still wins.
      await land(pending);
      const late = await a.runEtl();
      assert.equal(late.loaded, pending.length);
      assert.equal(late.highWaterMark, await maxLanding());
      const [pay] = await a.query(`SELECT count(*) FILTER (WHERE status = 'approved') AS approved, count(*) AS n FROM fact_payment_attempt`);
      assert.deepEqual([n(pay?.approved), n(pay?.n)], [30, 30]);
      // An old stock level landing last does not overwrite a newer one.
      const [newest] = await a.query(`SELECT sku, location_id, on_hand FROM stock_on_hand ORDER BY sku LIMIT 1`);
      await land([{ seq: 1, id: randomUUID(), type: 'inventory.stock_changed', version: 1, context: 'inventory', aggregateType: 'x', aggregateId: 'x',
        payload: { sku: newest?.sku, locationId: newest?.location_id, onHand: 1, reserved: 0, available: 1 }, occurredAt: new Date('2026-09-01T00:00:00Z') }]);
      await a.runEtl();
      const [still] = await a.query(`SELECT on_hand FROM stock_on_hand WHERE sku = '${String(newest?.sku)}'`);
      assert.equal(n(still?.on_hand), n(newest?.on_hand));
    } finally {
      await a.close();
    }
  });

  it('payload text reaches staging unchanged through the text copy (quotes, commas, tabs, line breaks, backslashes, non-ASCII), and the copy files are removed', async () => {
    await db.query('TRUNCATE analytics_landing');
    const dir = mkdtempSync(path.join(tmpdir(), 'embudo-wh-'));
    // A copy file a killed load left behind goes when the warehouse opens.
    mkdirSync(path.join(dir, '.staging'));
    writeFileSync(path.join(dir, '.staging', 'page-1-1.csv'), 'left,behind\n');
    const a = analyticsFor(db, dir);
    try {
      const odd = ['a "quoted", comma', 'back\\slash \\" and \n newline \t tab', 'Ñuñoa, Biobío — 🛒', '', ',,"",', 'line\r\nbreak'];
      const events: EventEnvelope[] = odd.map((name, i) => ({ seq: i + 1, id: randomUUID(), type: 'catalog.sku_changed', version: 1, context: 'catalog',
        aggregateType: 'sku', aggregateId: `SKU-"${i}",x\t\\N\\${i}\n`, payload: { sku: `SKU-${i}`, name, nested: { list: [name, i, null, true] } }, occurredAt: new Date(Date.UTC(2026, 9, 1, 0, 0, i)) }));
      await land(events);
      // JSON text as another producer may write it: whitespace (tabs, line breaks) between tokens, escapes kept as written.
      const pretty = '{\n\t"sku": "SKU-9",\r\n  "name": "tab\\there \\\\ \\u00d1",\t"n": [1,\n2]\n}';
      await db.query(`INSERT INTO analytics_landing (event_id, outbox_seq, type, version, aggregate_id, payload, occurred_at)
        VALUES ($1, 99, 'catalog.sku_changed', 1, 'SKU-9', $2, '2026-10-01T00:01:00Z')`, [randomUUID(), pretty]);
      const r = await a.runEtl();
      assert.equal(r.loaded, events.length + 1);
      const staged = await a.query(`SELECT event_id, aggregate_id, payload, epoch_ms(occurred_at) AS at FROM stg_events WHERE seq < 99 ORDER BY seq`);
      assert.deepEqual(staged.map((s): unknown[] => [s.event_id, s.aggregate_id, JSON.parse(String(s.payload)) as unknown, n(s.at)]),
        events.map((e) => [e.id, e.aggregateId, e.payload, e.occurredAt.getTime()]));
      // Times to the microsecond, near the ends of the range the copy sends as a double and beyond.
      const times = ['1899-12-31 23:59:59.999999Z', '1900-01-01 00:00:00.000001Z', '1970-01-01 00:00:00.000001Z', '2026-10-01 12:34:56.789012Z',
        '2099-12-31 23:59:59.999999Z', '2100-01-01 00:00:00.000001Z', '2262-04-11 23:47:16.854775Z'];
      for (const [i, at] of times.entries()) {
        await db.query(`INSERT INTO analytics_landing (event_id, outbox_seq, type, version, aggregate_id, payload, occurred_at)
          VALUES ($1, $2, 'checkout.ping', 1, 'time', '{}', $3)`, [randomUUID(), 100 + i, at]);
      }
      assert.equal((await a.runEtl()).loaded, times.length);
      const expected = await db.query<{ us: string }>(`SELECT (extract(epoch FROM occurred_at) * 1000000)::bigint::text AS us FROM analytics_landing WHERE outbox_seq >= 100 ORDER BY outbox_seq`);
      const got = await a.query(`SELECT epoch_us(occurred_at)::VARCHAR AS us FROM stg_events WHERE seq >= 100 ORDER BY seq`);
      assert.deepEqual(got.map((g) => g.us), expected.rows.map((e) => e.us));
      // Byte for byte: the payload text as PostgreSQL holds it.
      const landed = await db.query<{ event_id: string; payload: string }>(`SELECT event_id::text, payload::text FROM analytics_landing ORDER BY landing_seq`);
      const texts = new Map((await a.query(`SELECT event_id::VARCHAR AS id, payload::VARCHAR AS payload FROM stg_events`)).map((s) => [String(s.id), String(s.payload)]));
      assert.deepEqual(landed.rows.map((l) => texts.get(l.event_id)), landed.rows.map((l) => l.payload));
      const names = await a.query(`SELECT sku, name FROM dim_product ORDER BY sku`);
      assert.deepEqual(names.map((x) => x.name), [...odd, 'tab\there \\ Ñ']);
      assert.deepEqual(readdirSync(path.join(dir, '.staging')), [], 'no copy file left behind');
    } finally {
      await a.close();
    }
  });

  it('landed events read in many pages (each copied while the one before is staged) load once, in one transaction per run, up to the mark', async () => {
    await db.query('TRUNCATE analytics_landing');
    const dir = mkdtempSync(path.join(tmpdir(), 'embudo-wh-'));
    const paged = analyticsFor(db, dir, { landingPage: 7 });
    const whole = analyticsFor(db, mkdtempSync(path.join(tmpdir(), 'embudo-wh-')));
    try {
      const { events, totals } = generateMonth(12, 41);
      await land(events.slice(0, 40));
      const first = await paged.runEtl();
      assert.deepEqual(first, { loaded: 40, highWaterMark: await maxLanding() });
      await land(events.slice(30)); // ten landed again (ON CONFLICT: not twice), the rest new
      const second = await paged.runEtl();
      assert.deepEqual(second, { loaded: events.length - 40, highWaterMark: await maxLanding() });
      await whole.runEtl();
      const facts = `SELECT (SELECT count(*) FROM stg_events) AS staged, (SELECT count(DISTINCT event_id) FROM stg_events) AS ids,
        (SELECT sum(amount) FROM fact_order_line) AS gmv, (SELECT sum(quantity) FROM fact_order_line) AS units`;
      const [p] = await paged.query(facts);
      assert.deepEqual([n(p?.staged), n(p?.ids), n(p?.gmv), n(p?.units)], [events.length, events.length, totals.gmv, totals.units]);
      assert.deepEqual(await paged.query(facts), await whole.query(facts));
      assert.deepEqual(readdirSync(path.join(dir, '.staging')), [], 'no copy file left behind');
      // A backfill window in pages: every event of it again, nothing new.
      assert.deepEqual(await paged.backfill(new Date('2026-09-01T00:00:00Z'), new Date('2026-12-01T00:00:00Z')), { events: events.length, inserted: 0 });
    } finally {
      await paged.close();
      await whole.close();
    }
  });

  it('a blocking check failing in an incremental run fails loudly, keeps the mark and the marts, and fails again until fixed', async () => {
    await db.query('TRUNCATE analytics_landing');
    const a = analyticsFor(db, mkdtempSync(path.join(tmpdir(), 'embudo-wh-')));
    try {
      await land(generateMonth(10, 41).events);
      const ok = await a.runEtl();
      const marts = JSON.stringify(await a.query('SELECT * FROM fact_order_line ORDER BY ALL'));
      const order = generateMonth(1, 42).events.find((e) => e.type === 'checkout.order_placed');
      assert.ok(order);
      await land([{ ...order, id: randomUUID(), payload: { ...(order.payload as object), lines: [{ sku: null, quantity: 1, unitPrice: 10 }] } }, ...generateMonth(3, 43).events]);
      await assert.rejects(a.runEtl(), QualityCheckFailed);
      await assert.rejects(a.runEtl(), QualityCheckFailed, 'the bad event is not skipped silently');
      const [state] = await a.query(`SELECT high_water_mark FROM etl_state`);
      assert.equal(n(state?.high_water_mark), ok.highWaterMark);
      assert.equal(JSON.stringify(await a.query('SELECT * FROM fact_order_line ORDER BY ALL')), marts);
      assert.equal(await a.readiness['analytics-freshness'](), undefined, 'fresh within maxLagMs');
    } finally {
      await a.close();
    }
  });

  it('while streaming, the Parquet lake and the silo follow the warehouse', async () => {
    await db.query('TRUNCATE analytics_landing');
    const dir = mkdtempSync(path.join(tmpdir(), 'embudo-wh-'));
    const bus = testBus(db);
    const a = analyticsFor(db, dir, { events: bus, lakeIntervalMs: 100 });
    for (const w of a.workers) w.start();
    const lakeOrders = async () => {
      const inst = await DuckDBInstance.create(':memory:');
      const conn = await inst.connect();
      try {
        const glob = path.join(dir, 'lake', 'fact_order_line', '*', '*.parquet');
        return n((await conn.runAndReadAll(`SELECT count(DISTINCT order_id) FROM read_parquet('${glob}', hive_partitioning = true)`)).getRows()[0]?.[0]);
      } catch {
        return 0;
      } finally {
        conn.closeSync();
        inst.closeSync();
      }
    };
    const siloCustomers = async () => {
      const file = path.join(dir, 'market_research.duckdb');
      if (!existsSync(file)) return 0;
      const inst = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
      const conn = await inst.connect();
      try {
        return n((await conn.runAndReadAll(`SELECT count(DISTINCT pseudonym) FROM customer_geography`)).getRows()[0]?.[0]);
      } catch {
        return 0;
      } finally {
        conn.closeSync();
        inst.closeSync();
      }
    };
    try {
      const publish = async (orders: number, seed: number) => {
        const { events } = generateMonth(orders, seed, new Date());
        await db.transaction((tx) => appendEvents(tx, events.map((e) => ({ type: e.type, version: 1, aggregateType: 'x', aggregateId: e.aggregateId, payload: e.payload, occurredAt: e.occurredAt }))));
        return events;
      };
      await publish(20, 51);
      await waitFor(async () => (await lakeOrders()) === 20, 60_000, 'the lake to hold the first orders');
      await waitFor(async () => (await siloCustomers()) > 0, 60_000, 'the silo to be built while streaming');
      const firstSilo = await siloCustomers();
      await publish(15, 52);
      await waitFor(async () => (await lakeOrders()) === 35, 60_000, 'the lake to follow new orders');
      await waitFor(async () => (await siloCustomers()) > firstSilo, 60_000, 'the silo to follow new customers');
      const days = readdirSync(path.join(dir, 'lake', 'fact_order_line'));
      assert.ok(days.length > 0 && days.every((d) => /^date=\d{4}-\d{2}-\d{2}$/.test(d)), days.join());
      assert.deepEqual(readdirSync(path.join(dir, 'lake')).filter((d) => d.startsWith('.')), [], 'no half-written tree left behind');
    } finally {
      for (const w of a.workers) await w.stop();
      await a.close();
      await bus.close();
    }
  });

  it('opens a warehouse made with a keyed staging table and JSON payloads, and deduplicates the same', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'embudo-wh-'));
    const file = path.join(dir, 'warehouse.duckdb');
    const { events, totals } = generateMonth(25, 61);
    const first = events.find((e) => e.type === 'checkout.order_placed');
    assert.ok(first);
    const inst = await DuckDBInstance.create(file);
    const conn = await inst.connect();
    await conn.run(`CREATE TABLE stg_events (event_id UUID PRIMARY KEY, seq BIGINT NOT NULL, type VARCHAR NOT NULL, version INTEGER NOT NULL,
      aggregate_id VARCHAR, occurred_at TIMESTAMPTZ NOT NULL, payload JSON NOT NULL, loaded_at TIMESTAMPTZ NOT NULL)`);
    // An event staged by that older warehouse: its payload stays readable once the column is VARCHAR.
    await conn.run(`INSERT INTO stg_events VALUES ($1::UUID, $2, $3, $4, $5, $6::TIMESTAMPTZ, $7, now())`,
      [first.id, first.seq, first.type, first.version, first.aggregateId, first.occurredAt.toISOString(), JSON.stringify(first.payload)]);
    conn.closeSync();
    inst.closeSync();
    const a = analyticsFor(db, dir);
    try {
      const [col] = await a.query(`SELECT data_type FROM duckdb_columns() WHERE table_name = 'stg_events' AND column_name = 'payload'`);
      assert.equal(col?.data_type, 'VARCHAR');
      await a.ingest(events);
      await a.ingest(events.slice(0, 40));
      const [sum] = await a.query(`SELECT sum(amount) AS gmv FROM fact_order_line`);
      assert.equal(n(sum?.gmv), totals.gmv);
      const [stg] = await a.query(`SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM stg_events`);
      assert.deepEqual([n(stg?.n), n(stg?.d)], [events.length, events.length]);
    } finally {
      await a.close();
    }
  });

  it('DuckDB runs with automatic extension installs and loads off; the built-ins are there', async () => {
    const w = await openWarehouse(':memory:');
    try {
      const settings = (await w.conn.runAndReadAll(`SELECT current_setting('autoinstall_known_extensions') AS i, current_setting('autoload_known_extensions') AS l`)).getRowObjects()[0];
      assert.deepEqual([settings?.i, settings?.l], [false, false]);
      const loaded = (await w.conn.runAndReadAll(`SELECT extension_name FROM duckdb_extensions() WHERE loaded ORDER BY 1`)).getRows().map((r) => String(r[0]));
      for (const ext of ['icu', 'json', 'parquet']) assert.ok(loaded.includes(ext), ext);
      // An extension that is not built in is refused, never fetched.
      await assert.rejects(w.conn.run(`LOAD spatial`));
      await assert.rejects(w.conn.run(`SELECT * FROM read_csv('https://example.invalid/x.csv')`));
    } finally {
      w.close();
    }
  });

  it('quality results: every run of the last day, failing runs for 30 days, older ones dropped', async () => {
    const clock = manualClock(new Date('2026-03-01T12:00:00Z'));
    const a = analyticsFor(db, mkdtempSync(path.join(tmpdir(), 'embudo-wh-')), { clock });
    const runs = async () => (await a.query(`SELECT run_at, bool_and(passed) AS ok FROM dq_result GROUP BY 1 ORDER BY 1`))
      .map((r) => [new Date(String(r.run_at)).toISOString(), r.ok]);
    try {
      await a.ingest(generateMonth(5, 71).events);
      const order = generateMonth(1, 72).events.find((e) => e.type === 'checkout.order_placed');
      assert.ok(order);
      clock.advance(60 * 60_000);
      await assert.rejects(a.ingest([{ ...order, id: randomUUID(), payload: { ...(order.payload as object), lines: [{ sku: null, quantity: 1, unitPrice: 10 }] } }]), QualityCheckFailed);
      clock.advance(60 * 60_000);
      await a.ingest(generateMonth(5, 73).events);
      assert.deepEqual(await runs(), [['2026-03-01T12:00:00.000Z', true], ['2026-03-01T13:00:00.000Z', false], ['2026-03-01T14:00:00.000Z', true]]);
      clock.advance(25 * 60 * 60_000); // the passing runs of 12:00 and 14:00 are past a day; the failing one stays
      await a.ingest(generateMonth(5, 74).events);
      assert.deepEqual(await runs(), [['2026-03-01T13:00:00.000Z', false], ['2026-03-02T15:00:00.000Z', true]]);
      clock.advance(31 * 24 * 60 * 60_000);
      await a.ingest(generateMonth(5, 75).events);
      assert.deepEqual(await runs(), [['2026-04-02T15:00:00.000Z', true]]);
    } finally {
      await a.close();
    }
  });
});
