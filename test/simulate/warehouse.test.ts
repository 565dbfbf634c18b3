// The simulator's bulk warehouse generator: the same seed writes the same warehouse, and its
// figures follow the simulator's model (payment-method mix, regions by population, declines
// by method, the CyberDay peak, evening over night), not formulas of their own.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { generateWarehouse } from '../../src/simulate/index.js';

const options = { seed: 'sim-test', lines: 60_000, from: new Date('2026-05-01T00:00:00Z'), to: new Date('2026-07-01T00:00:00Z') };

async function generated(): Promise<{ conn: DuckDBConnection; close: () => void; lines: number }> {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  const r = await generateWarehouse(conn, options);
  return { conn, lines: r.lines, close: () => { conn.closeSync(); inst.closeSync(); } };
}

const one = async (conn: DuckDBConnection, sql: string) => (await conn.runAndReadAll(sql)).getRowObjectsJson()[0] ?? {};

describe('simulate: bulk warehouse generator', () => {
  it('is deterministic and follows the model', async () => {
    const a = await generated();
    const b = await generated();
    try {
      assert.ok(Math.abs(a.lines - options.lines) < options.lines * 0.05, `${a.lines} lines for ${options.lines}`);
      const digest = `SELECT (SELECT sum(hash(order_id, sku, quantity, occurred_at, customer_id)) FROM fact_order_line)
        + (SELECT sum(hash(attempt_id, status, method, amount, occurred_at)) FROM fact_payment_attempt) AS h`;
      assert.equal((await one(a.conn, digest)).h, (await one(b.conn, digest)).h, 'same seed, same warehouse');

      // Payment habits 45/20/25/10 (people.ts), by orders.
      const mix = await one(a.conn, `SELECT count(DISTINCT order_id) FILTER (WHERE payment_method = 'webpay') / count(DISTINCT order_id) AS webpay,
          count(DISTINCT order_id) FILTER (WHERE payment_method = 'mercadopago_cash') / count(DISTINCT order_id) AS cash FROM fact_order_line`);
      assert.ok(Math.abs(Number(mix.webpay) - 0.45) < 0.05 && Math.abs(Number(mix.cash) - 0.10) < 0.03, JSON.stringify(mix));
      // Regions by population: the Metropolitana about 40 %.
      const rm = await one(a.conn, `SELECT count(*) FILTER (WHERE region LIKE 'Metropolitana%') / count(*) AS share FROM fact_order_line`);
      assert.ok(Math.abs(Number(rm.share) - 0.405) < 0.06, JSON.stringify(rm));
      // Declines: Webpay 7 %, oneclick never (plan.ts); cash vouchers 25 % expired.
      const out = await one(a.conn, `SELECT count(*) FILTER (WHERE o.payment_method = 'webpay' AND a.status = 'rejected') / count(*) FILTER (WHERE o.payment_method = 'webpay') AS webpay,
          count(*) FILTER (WHERE o.payment_method = 'oneclick' AND a.status = 'rejected') AS oneclick,
          count(*) FILTER (WHERE o.payment_method = 'mercadopago_cash' AND a.status = 'expired') / count(*) FILTER (WHERE o.payment_method = 'mercadopago_cash') AS expired
        FROM fact_payment_attempt a JOIN (SELECT DISTINCT order_id, payment_method FROM fact_order_line) o USING (order_id)`);
      assert.ok(Math.abs(Number(out.webpay) - 0.07) < 0.02 && Number(out.oneclick) === 0 && Math.abs(Number(out.expired) - 0.25) < 0.05, JSON.stringify(out));
      // CyberDay (first Monday of June 2026: the 1st) over an ordinary Monday a week later; evenings over nights (Chile time).
      const peak = await one(a.conn, `SELECT count(DISTINCT order_id) FILTER (WHERE date_key = DATE '2026-06-01') / count(DISTINCT order_id) FILTER (WHERE date_key = DATE '2026-06-15') AS ratio,
          count(DISTINCT order_id) FILTER (WHERE hour(occurred_at) = 0) / count(DISTINCT order_id) FILTER (WHERE hour(occurred_at) = 8) AS evening_over_night FROM fact_order_line`);
      assert.ok(Number(peak.ratio) > 3, JSON.stringify(peak));
      assert.ok(Number(peak.evening_over_night) > 5, JSON.stringify(peak));
      // Every approved capture balances in the ledger; refunds only of approved orders.
      const ledger = await one(a.conn, `SELECT (SELECT count(*) FROM (SELECT transaction_id FROM fact_ledger_posting GROUP BY 1 HAVING sum(amount) <> 0)) AS unbalanced,
          (SELECT count(*) FROM fact_refund r JOIN fact_payment_attempt a USING (order_id) WHERE a.status <> 'approved') AS bad_refunds,
          (SELECT count(*) FROM fact_refund) AS refunds`);
      assert.deepEqual([Number(ledger.unbalanced), Number(ledger.bad_refunds)], [0, 0]);
      assert.ok(Number(ledger.refunds) > 0);
    } finally {
      a.close();
      b.close();
    }
  });
});
