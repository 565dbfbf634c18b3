// The fraud features are read ahead, while a payment waits for its batch. What this process
// commits to the counters after such a read took its snapshot must still count, exactly once:
// here the batches are held on their orders' locks (taken from another connection) so that a
// read is made before the change it must see commits.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { manualClock } from '../../src/platform/clock.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { createPayments, type StartPaymentInput } from '../../src/payments/index.js';
import { parseSnapshot, visibleIn } from '../../src/payments/fraud/store.js';
import { freshDatabase } from '../support/db.js';
import { capturingLogger, testConfig } from '../support/platform.js';
import { scriptedProcessor } from './support.js';

const { db, url } = await freshDatabase();
const clock = manualClock(new Date('2026-11-30T15:00:00Z'));
const { logger } = capturingLogger('warn');
const metrics = createMetrics();
const mp = scriptedProcessor('mercadopago');
const payments = createPayments({ config: testConfig(url), db, logger, metrics, clock, connectors: { mercadopago: mp.connector } });

const shopper = (card: string) => ({
  customerId: randomUUID(), method: 'mercadopago_card' as const, payerEmail: 'buyer@example.cl',
  risk: { ip: `198.51.100.${Math.floor(Math.random() * 200)}`, cardFingerprint: card, deliveryRegion: 'RM' },
});
const pay = (orderId: string, p: { card: string; amount?: number; who?: ReturnType<typeof shopper> }) => {
  const input: StartPaymentInput = {
    ...(p.who ?? shopper(p.card)), orderId, amount: p.amount ?? 20_000, currency: 'CLP', cardToken: `tok-${randomUUID()}`, paymentMethodId: 'visa',
  };
  return payments.startPayment(input);
};
const featuresOf = async (orderId: string) => {
  const { rows } = await db.query<{ inputs: { features: Record<string, number> } }>('SELECT inputs FROM fraud_decisions WHERE order_id = $1', [orderId]);
  assert.equal(rows.length, 1);
  return rows[0]?.inputs.features ?? {};
};
const reads = async () => {
  const values = (await metrics.registry.getSingleMetric('embudo_fraud_features_read_seconds')?.get())?.values ?? [];
  return values.find((v) => (v as { metricName?: string }).metricName?.endsWith('_count'))?.value ?? 0;
};
const until = async (what: string, ok: () => Promise<boolean>) => {
  const deadline = Date.now() + 10_000;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** Holds an order's batch at its lock (the lock the attempt batch takes first) until released. */
async function holdOrder(orderId: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`SELECT pg_advisory_lock(hashtextextended('payments:' || $1, 0))`, [`order:${orderId}`]);
  return {
    waiting: async () => (await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)).rows[0]?.n === 1,
    release: async () => {
      await c.query('SELECT pg_advisory_unlock_all()');
      await c.end();
    },
  };
}

describe('features read ahead of the batch', () => {
  it('a snapshot answers which committed transactions it saw', () => {
    const snap = parseSnapshot('100:105:101,103');
    assert.ok(snap);
    assert.equal(visibleIn(99n, snap), true);
    assert.equal(visibleIn(100n, snap), true);
    assert.equal(visibleIn(101n, snap), false);
    assert.equal(visibleIn(102n, snap), true);
    assert.equal(visibleIn(105n, snap), false);
    assert.equal(parseSnapshot('garbage'), undefined);
  });

  it('an attempt committed after the read still counts for the next payment, once', async () => {
    mp.state.decide = () => 'approved';
    const card = `fp-${randomUUID().slice(0, 8)}`;
    const a = randomUUID();
    const b = randomUUID();
    const held = await holdOrder(a);
    const readsBefore = await reads();
    const first = pay(a, { card });
    await until('the first batch to wait for its lock', held.waiting);
    // The second payment's features are read now, before the first batch commits; its batch
    // waits for the first one (one batch in flight).
    const second = pay(b, { card });
    await until('both features reads', async () => (await reads()) >= readsBefore + 2);
    await held.release();
    assert.equal((await first).status, 'approved');
    assert.equal((await second).status, 'approved');
    assert.equal((await featuresOf(a))['card.attempts_1h'], undefined, 'the first payment saw none');
    assert.equal((await featuresOf(b))['card.attempts_1h'], 1, 'the second counts the first, committed after its read');
    // Read after both committed: each counted once (from the database, not again from memory).
    const c = randomUUID();
    await pay(c, { card });
    assert.equal((await featuresOf(c))['card.attempts_1h'], 2);
    assert.equal((await featuresOf(c))['card.amount_1h'], 40_000);
  });

  it('a decline recorded after the read still counts for the next payment, once', async () => {
    const card = `fp-${randomUUID().slice(0, 8)}`;
    let letGo = (): void => undefined;
    const gate = new Promise<void>((resolve) => (letGo = resolve));
    let asked = false;
    const authorize = mp.connector.authorize.bind(mp.connector);
    mp.connector.authorize = async () => {
      asked = true;
      await gate;
      return { status: 'rejected', reason: 'cc_rejected_other_reason', processorRef: `pay-${randomUUID().slice(0, 8)}` };
    };
    try {
      const a = randomUUID();
      const b = randomUUID();
      const first = pay(a, { card, amount: 900 }).catch((err: unknown) => err);
      await until('the processor to be asked', async () => asked);
      // The second payment's features are read now; its batch waits at its order's lock while
      // the first one's decline is recorded.
      const held = await holdOrder(b);
      const readsBefore = await reads();
      mp.connector.authorize = authorize;
      mp.state.decide = () => 'approved';
      const second = pay(b, { card });
      await until('the second read', async () => (await reads()) >= readsBefore + 1);
      await until('the second batch to wait for its lock', held.waiting);
      letGo();
      const firstDone = await first;
      assert.equal((firstDone as { status?: string }).status, 'rejected');
      await held.release();
      assert.equal((await second).status, 'approved');
      const f = await featuresOf(b);
      assert.equal(f['card.declines_1h'], 1, 'the decline committed after the read counts');
      assert.equal(f['card.small_declines_1h'], 1);
      assert.equal(f['card.attempts_1h'], 1);
      const c = randomUUID();
      await pay(c, { card });
      const g = await featuresOf(c);
      assert.equal(g['card.declines_1h'], 1, 'and once');
      assert.equal(g['card.attempts_1h'], 2);
    } finally {
      mp.connector.authorize = authorize;
      letGo();
    }
  });

  it('a read started ahead (as a checkout begins) is the one its payment decides from', async () => {
    mp.state.decide = () => 'approved';
    const card = `fp-${randomUUID().slice(0, 8)}`;
    const who = shopper(card);
    const before = await reads();
    payments.readAhead(who);
    await until('the read ahead', async () => (await reads()) >= before + 1);
    // Meanwhile another payment on the card commits (its own read); the one read ahead for
    // did not see it, and still counts it.
    const other = randomUUID();
    await pay(other, { card });
    assert.equal(await reads(), before + 2);
    const mine = randomUUID();
    await pay(mine, { card, who });
    assert.equal(await reads(), before + 2, 'no read of its own: the one made ahead was used');
    assert.equal((await featuresOf(mine))['card.attempts_1h'], 1);
    // Used once: the next payment of the same shopper reads again.
    const again = randomUUID();
    await pay(again, { card, who });
    assert.equal(await reads(), before + 3);
    assert.equal((await featuresOf(again))['card.attempts_1h'], 2);
  });
});
