// Marts updated in place from a load's window (MART_MERGES) against the same marts rebuilt whole
// from staging: equal after windows with late, out-of-order and duplicated events, after events
// without a key, and after a mart's definition changed.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ensureSchema, envelopePages, load, QualityCheckFailed, toStaged } from '../../src/analytics/etl.js';
import { MART_MERGES, MARTS } from '../../src/analytics/mapping.js';
import { openWarehouse, rows } from '../../src/analytics/warehouse.js';
import type { EventEnvelope } from '../../src/events/index.js';
import { generateMonth, shuffled } from './generate.js';

const now = () => new Date('2026-11-30T12:00:00Z');

/** Rows of the mart not in a whole rebuild of it, and the other way round. */
async function drift(conn: DuckDBConnection, table: string, sql: string): Promise<number> {
  const [r] = await rows(conn, `SELECT (SELECT count(*) FROM (SELECT * FROM ${table} EXCEPT ALL SELECT * FROM (${sql})))
    + (SELECT count(*) FROM (SELECT * FROM (${sql}) EXCEPT ALL SELECT * FROM ${table})) AS n`);
  return Number(r?.n);
}

async function assertLikeRebuilt(conn: DuckDBConnection): Promise<void> {
  for (const m of MARTS) assert.equal(await drift(conn, m.table, m.sql), 0, `${m.table} equals its whole rebuild`);
}

async function warehouse() {
  const w = await openWarehouse(':memory:');
  await ensureSchema(w.conn);
  return w;
}

describe('marts merged from the load window', () => {
  it('equal whole rebuilds after windows with late, reordered and duplicated events', async () => {
    const w = await warehouse();
    try {
      const { events, totals } = generateMonth(300, 17);
      const late = events.filter((e) => e.type === 'payments.payment_pending' || e.type === 'inventory.stock_changed').filter((_, i) => i % 4 === 0);
      const rest = events.filter((e) => !late.includes(e));
      const head = rest.slice(0, Math.floor(rest.length * 0.6));
      const tail = shuffled([...rest.slice(head.length), ...late, ...head.filter((_, i) => i % 7 === 0)], 5);
      const first = await load(w.conn, head.map(toStaged), { now: now() });
      assert.equal(first.inserted, head.length);
      let windows = 0;
      for (let i = 0; i < tail.length; i += 97) {
        await load(w.conn, tail.slice(i, i + 97).map(toStaged), { now: now() });
        windows++;
      }
      assert.ok(windows > 5);
      await assertLikeRebuilt(w.conn);
      const [sum] = await rows(w.conn, `SELECT sum(amount) AS gmv, sum(quantity) AS units FROM fact_order_line`);
      assert.deepEqual([Number(sum?.gmv), Number(sum?.units)], [totals.gmv, totals.units]);
      const [pay] = await rows(w.conn, `SELECT count(*) FILTER (WHERE status <> 'approved') AS other FROM fact_payment_attempt`);
      assert.equal(Number(pay?.other), 0, 'a late pending notice does not beat the approval');
      // A newer order event for an order already loaded replaces its lines; an older one does not.
      const placed = events.find((e) => e.type === 'checkout.order_placed') as EventEnvelope;
      const payload = placed.payload as { lines: { sku: string; quantity: number; unitPrice: number }[] };
      const newer = { ...placed, id: randomUUID(), seq: 900_001, occurredAt: new Date(placed.occurredAt.getTime() + 1000), payload: { ...payload, lines: [{ ...payload.lines[0], quantity: 99 }] } };
      const older = { ...placed, id: randomUUID(), seq: 900_002, occurredAt: new Date(placed.occurredAt.getTime() - 1000), payload: { ...payload, lines: [] } };
      await load(w.conn, [newer, older].map(toStaged), { now: now() });
      const lines = await rows(w.conn, `SELECT quantity FROM fact_order_line WHERE order_id = '${(placed.payload as { orderId: string }).orderId}'`);
      assert.deepEqual(lines.map((l) => Number(l.quantity)), [99]);
      await assertLikeRebuilt(w.conn);
    } finally {
      w.close();
    }
  });

  it('events without a key are merged like a whole rebuild has them; a changed mart definition is rebuilt whole', async () => {
    const w = await warehouse();
    try {
      const { events } = generateMonth(60, 23);
      await load(w.conn, events.map(toStaged), { now: now() });
      const placed = events.find((e) => e.type === 'checkout.order_placed') as EventEnvelope;
      const { orderId: _drop, ...keyless } = placed.payload as { orderId: string };
      const unattached = { ...events.find((e) => e.type === 'payments.ledger_posted') as EventEnvelope, id: randomUUID(), seq: 900_004 };
      const { attemptId: _none, ...noAttempt } = unattached.payload as { attemptId: string; transactionId: string };
      await load(w.conn, [{ ...placed, id: randomUUID(), seq: 900_003, payload: keyless }, { ...unattached, payload: { ...noAttempt, transactionId: 'payout-1' } }].map(toStaged), { now: now() });
      const [nulls] = await rows(w.conn, `SELECT (SELECT count(*) FROM fact_order_line WHERE order_id IS NULL) AS o, (SELECT count(*) FROM fact_ledger_posting WHERE attempt_id IS NULL) AS l`);
      assert.ok(Number(nulls?.o) > 0 && Number(nulls?.l) > 0, 'the keyless order and posting are in the marts, as a whole rebuild has them');
      await assertLikeRebuilt(w.conn);
      // A second keyless window merges into the same NULL key.
      await load(w.conn, [{ ...unattached, id: randomUUID(), seq: 900_005, payload: { ...noAttempt, transactionId: 'payout-2' } }].map(toStaged), { now: now() });
      await assertLikeRebuilt(w.conn);
      // A definition recorded by an older deploy: the next load rebuilds that mart even with nothing new.
      await w.conn.run(`DELETE FROM fact_refund`);
      await w.conn.run(`UPDATE etl_mart SET definition = 'older' WHERE table_name = 'fact_refund'`);
      const again = await load(w.conn, [], { now: now() });
      assert.equal(again.inserted, 0);
      assert.ok('fact_refund' in again.timings && !('fact_order_line' in again.timings), JSON.stringify(again.timings));
      await assertLikeRebuilt(w.conn);
      assert.ok(Object.keys(MART_MERGES).every((t) => MARTS.some((m) => m.table === t)), 'every merge names a mart');
    } finally {
      w.close();
    }
  });

  it('pages of one load: repeats across and inside pages are staged once, on an empty warehouse and on one with history', async () => {
    const w = await warehouse();
    try {
      const { events } = generateMonth(80, 29);
      const staged = events.map(toStaged);
      const half = Math.floor(staged.length / 2);
      const pagesOf = (list: typeof staged) => async function* () {
        for (let i = 0; i < list.length; i += 150) yield list.slice(i, i + 150);
      };
      // Each page repeats a few events of the page before it and one of its own.
      const withRepeats = (list: typeof staged) => list.flatMap((e, i) => (i % 150 === 0 && i > 0 ? [e, list[i - 3]!, list[i - 40]!] : i % 97 === 0 ? [e, e] : [e]));
      const first = await load(w.conn, pagesOf(withRepeats(staged.slice(0, half))), { now: now() });
      assert.equal(first.inserted, half);
      const second = await load(w.conn, pagesOf(withRepeats([...staged.slice(half - 20, half), ...staged.slice(half)])), { now: now() });
      assert.equal(second.inserted, staged.length - half);
      const [stg] = await rows(w.conn, `SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM stg_events`);
      assert.deepEqual([Number(stg?.n), Number(stg?.d)], [staged.length, staged.length]);
      await assertLikeRebuilt(w.conn);
    } finally {
      w.close();
    }
  });

  it('blocking checks on a window look at the touched keys and still stop a bad window; new checks run whole first', async () => {
    const w = await warehouse();
    try {
      const { events } = generateMonth(120, 37);
      await load(w.conn, events.map(toStaged), { now: now() });
      const state = async () => JSON.stringify(await rows(w.conn, `SELECT * FROM fact_order_line ORDER BY ALL`)) + JSON.stringify(await rows(w.conn, `SELECT count(*) FROM stg_events`));
      const before = await state();
      const placed = events.find((e) => e.type === 'checkout.order_placed') as EventEnvelope;
      const bad = { ...placed, id: randomUUID(), seq: 900_010, occurredAt: new Date(placed.occurredAt.getTime() + 5000),
        payload: { ...(placed.payload as object), lines: [{ sku: null, quantity: 1, unitPrice: 10 }] } };
      const window = generateMonth(3, 38, new Date('2026-11-20T00:00:00Z')).events;
      const failed = await load(w.conn, [bad, ...window].map(toStaged), { now: now() }).then(() => undefined, (err: unknown) => err);
      assert.ok(failed instanceof QualityCheckFailed);
      assert.deepEqual(failed.failed.map((c) => [c.name, c.failures]), [['order_line_sku_not_null', 1]]);
      assert.equal(await state(), before, 'nothing of the bad window is visible');
      const ok = await load(w.conn, window.map(toStaged), { now: now() });
      assert.ok(ok.checks.every((c) => c.passed));
      // A check added since the last whole pass runs on whole tables: it sees the old rows too.
      await w.conn.run(`INSERT INTO dq_check VALUES ('order_line_small', 'fact_order_line', 'accepted_values', 'quantity', '1,2,3', true)`);
      const more = generateMonth(2, 39, new Date('2026-11-21T00:00:00Z')).events;
      const wide = await load(w.conn, more.map(toStaged), { now: now() }).then(() => undefined, (err: unknown) => err);
      assert.ok(wide instanceof QualityCheckFailed);
      const [all] = await rows(w.conn, `SELECT count(*) AS n FROM fact_order_line WHERE quantity NOT IN (1, 2, 3)`);
      assert.ok(Number(all?.n) > 10 && (wide.failed[0]?.failures ?? 0) >= Number(all?.n), 'the old rows counted, not only the window');
    } finally {
      w.close();
    }
  });
  it('paged loads (each page inserted while the next is serialised) equal one batch; a bad page rolls the whole load back', async () => {
    const paged = await warehouse();
    const whole = await warehouse();
    try {
      const { events } = generateMonth(150, 41);
      // Small pages with the same event repeated across them: dedupe across pages in flight.
      const repeated = [...events, ...events.slice(0, 50)];
      const r = await load(paged.conn, envelopePages(repeated, 97), { now: now() });
      assert.equal(r.received, repeated.length);
      assert.equal(r.inserted, events.length);
      await load(whole.conn, events.map(toStaged), { now: now() });
      for (const m of MARTS) {
        const [a, b] = [await rows(paged.conn, `SELECT * FROM ${m.table} ORDER BY ALL`), await rows(whole.conn, `SELECT * FROM ${m.table} ORDER BY ALL`)];
        assert.deepEqual(a, b, `${m.table} equal`);
      }
      const state = async () => JSON.stringify(await rows(paged.conn, `SELECT count(*) AS n, max(seq) AS s FROM stg_events`)) +
        JSON.stringify(await rows(paged.conn, `SELECT count(*) AS n FROM fact_order_line`));
      const before = await state();
      // An event without an id in the third page: the first two were already inserted (in the transaction).
      const more = generateMonth(40, 42, new Date('2026-11-10T00:00:00Z')).events;
      const broken = more.map((e, i) => (i === 25 ? { ...e, id: undefined as unknown as string } : e));
      const failed = await load(paged.conn, envelopePages(broken, 10), { now: now() }).then(() => undefined, (err: unknown) => err);
      assert.ok(failed instanceof Error, 'the load fails');
      assert.equal(await state(), before, 'nothing of the failed load is visible');
      // Text DuckDB cannot parse in the middle page: its insert fails while the next page is handed over.
      const lines = more.map(toStaged);
      const malformed = await load(paged.conn, async function* () {
        yield lines.slice(0, 10);
        yield [...lines.slice(10, 19), '{"id": not json'];
        yield lines.slice(20);
      }, { now: now() }).then(() => undefined, (err: unknown) => err);
      assert.ok(malformed instanceof Error && /json/i.test(malformed.message), 'the load fails on the malformed page');
      assert.equal(await state(), before, 'nothing of the malformed load is visible');
      const ok = await load(paged.conn, envelopePages(more, 10), { now: now() });
      assert.equal(ok.inserted, more.length, 'the connection loads again after the rollback');
    } finally {
      paged.close();
      whole.close();
    }
  });
});
