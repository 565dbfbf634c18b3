// The reliability suite's harness: the platform as a real process (so it can be killed with
// SIGKILL), the processor simulator as another (a processor outlives our crashes), the shared
// live-traffic driver, a fast-forward of the background work, and the DESIGN.md invariants.
import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { manualClock } from '../../src/platform/clock.js';
import type { Database } from '../../src/platform/db.js';
import { freePort } from '../../src/platform/embedded-postgres.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { createEventBus } from '../../src/events/index.js';
import { buildServices } from '../../src/main/contexts.js';
import { spawnEmbudo, type Spawned } from '../support/process.js';
import { testConfig } from '../support/platform.js';

/** Short form (CI): fewer crashes, shorter bursts. `EMBUDO_RELIABILITY=full` for the long one. */
export const SHORT = process.env.EMBUDO_RELIABILITY !== 'full';

export const ADMIN_TOKEN = `admin-${randomBytes(12).toString('hex')}`;

export interface Stack {
  url: string;
  simUrl: string;
  env: NodeJS.ProcessEnv;
  platform(): Spawned;
  /** Everything both processes printed so far (for the card-number scan). */
  logs(): string;
  /** SIGKILL the platform: no drain, no shutdown hooks. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
}

async function waitReady(url: string, ms = 180_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} not ready after ${ms} ms`);
}

/**
 * The processor simulator (`embudo processor-sim`, state in the test database) and the
 * platform (`embudo start`, EMBUDO_NO_SIM) pointed at it, sharing Mercado Pago credentials.
 */
export async function startStack(databaseUrl: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Stack> {
  const port = await freePort();
  const simPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    DATABASE_URL: databaseUrl,
    NATS_URL: '',
    PORT: String(port),
    SIM_PORT: String(simPort),
    EMBUDO_NO_SIM: '1',
    EMBUDO_SEED: '1',
    EMBUDO_SEED_HISTORY_DAYS: '0',
    EMBUDO_ADMIN_TOKEN: ADMIN_TOKEN,
    EMBUDO_KEK: randomBytes(32).toString('base64'),
    MP_ACCESS_TOKEN: `TEST-${randomBytes(16).toString('hex')}`,
    MP_WEBHOOK_SECRET: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'info',
    SHUTDOWN_GRACE_MS: '5000',
    ...extraEnv,
  };
  let log = '';
  const sim = spawnEmbudo(['processor-sim'], env);
  const simUrl = `http://127.0.0.1:${simPort}`;
  await waitReady(`${simUrl}/sim/log`);
  let platform: Spawned | undefined;
  const start = async () => {
    if (platform) log += platform.output();
    platform = spawnEmbudo(['start'], env);
    await waitReady(`http://127.0.0.1:${port}/readyz`);
  };
  const kill = async () => {
    if (!platform || platform.child.exitCode !== null) return;
    platform.child.kill('SIGKILL');
    await platform.exited;
  };
  const stop = async () => {
    if (!platform || platform.child.exitCode !== null) return;
    platform.child.kill('SIGTERM');
    await platform.exited;
  };
  // A file the runner kills (time-out) must not leave its processes behind.
  const reap = () => {
    for (const p of [platform, sim]) if (p && p.child.exitCode === null) p.child.kill('SIGKILL');
  };
  process.once('exit', reap);
  process.once('SIGTERM', () => {
    reap();
    process.exit(1);
  });
  await start();
  after(async () => {
    await stop();
    sim.child.kill('SIGTERM');
    await sim.exited;
  });
  return {
    url: `http://127.0.0.1:${port}`, simUrl, env,
    platform: () => platform as Spawned,
    logs: () => log + (platform?.output() ?? '') + sim.output(),
    kill, start, stop,
  };
}

/**
 * What the platform's background loops would do over the next hours, done now: the payments
 * janitor (first look 5 minutes after an unknown outcome, then 15, 60), pending orders and
 * reservations past their time, and the checkout's payment consumer — with a manual clock
 * moved forward, against the same database and processor. Run it with the platform stopped.
 */
export async function fastForward(db: Database, databaseUrl: string, stack: Stack, hours = 2): Promise<void> {
  const clock = manualClock(new Date());
  const logger = createLogger('silent');
  const metrics = createMetrics();
  const events = createEventBus({ db, logger, metrics, clock, pollMs: 50 });
  const base = testConfig(databaseUrl);
  const config = {
    ...base,
    kek: stack.env.EMBUDO_KEK,
    payments: {
      ...base.payments, tbkBaseUrl: stack.simUrl, mpBaseUrl: stack.simUrl,
      mpAccessToken: String(stack.env.MP_ACCESS_TOKEN), mpWebhookSecret: String(stack.env.MP_WEBHOOK_SECRET),
    },
  };
  const services = buildServices({ config, db, logger, metrics, clock, events });
  const consumer = services.checkout.workers.filter((w) => w.name.includes('checkout.payments'));
  for (const w of consumer) w.start();
  try {
    for (let step = 0; step < hours * 6; step++) {
      clock.advance(10 * 60_000);
      while ((await services.payments.runJanitor(200)).length === 200);
      while ((await services.checkout.orders.expireDue(200)) === 200);
      while ((await services.inventory.expireDue(200)) === 200);
      await services.payments.settle();
    }
    await consumerCaughtUp(db);
  } finally {
    for (const w of consumer) await w.stop();
    await services.inventory.close();
    await events.close();
  }
}

/** Waits until the checkout's payment consumer has handled every payment outcome event. */
export async function consumerCaughtUp(db: Database, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events_outbox o
        WHERE o.type LIKE 'payments.%'
          AND NOT EXISTS (SELECT 1 FROM events_inbox i WHERE i.consumer = 'checkout.payments' AND i.event_id = o.event_id)
          AND NOT EXISTS (SELECT 1 FROM events_dead_letters d WHERE d.consumer = 'checkout.payments' AND d.event_id = o.event_id)
          AND o.type IN ('payments.payment_approved', 'payments.payment_rejected', 'payments.payment_expired', 'payments.refund_succeeded')`,
    );
    if ((rows[0]?.n ?? 0) === 0) return;
    if (Date.now() > deadline) throw new Error(`checkout.payments consumer still ${rows[0]?.n} events behind`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Every invariant of DESIGN.md that the database can show, as a list of violations (empty:
 * all hold). `acknowledged` are the order ids the platform answered 201 for.
 */
export async function invariantViolations(db: Database, acknowledged: string[] = []): Promise<string[]> {
  const out: string[] = [];
  const q = async <T extends object>(sql: string, params: unknown[] = []) => (await db.query<T & Record<string, unknown>>(sql, params)).rows;
  // No acknowledged order lost.
  if (acknowledged.length > 0) {
    const found = await q<{ id: string }>(`SELECT id::text FROM orders WHERE id::text = ANY($1::text[])`, [acknowledged]);
    const have = new Set(found.map((r) => r.id));
    const lost = acknowledged.filter((id) => !have.has(id));
    if (lost.length > 0) out.push(`${lost.length} acknowledged orders lost, e.g. ${lost.slice(0, 3).join(', ')}`);
  }
  // Stock: on_hand = Σ movements; reserved ≥ 0; available ≥ 0.
  const drift = await q<{ sku: string }>(
    `SELECT s.sku FROM inventory_stock s
       LEFT JOIN (SELECT sku, location_id, sum(on_hand_delta) AS h, sum(reserved_delta) AS r FROM inventory_movements GROUP BY 1, 2) m USING (sku, location_id)
      WHERE s.on_hand <> coalesce(m.h, 0) OR s.reserved <> coalesce(m.r, 0) OR s.reserved < 0 OR s.on_hand - s.reserved < 0`,
  );
  if (drift.length > 0) out.push(`stock drift or negative stock for ${drift.length} rows, e.g. ${drift[0]?.sku}`);
  // Money: each ledger transaction balances; captured ≥ refunded; one approval per order.
  const unbalanced = await q(`SELECT transaction_id FROM ledger_entries GROUP BY transaction_id HAVING sum(amount) <> 0`);
  if (unbalanced.length > 0) out.push(`${unbalanced.length} unbalanced ledger transactions`);
  const twice = await q(`SELECT order_id FROM payment_attempt_events WHERE status = 'approved' GROUP BY order_id HAVING count(*) > 1`);
  if (twice.length > 0) out.push(`${twice.length} orders recorded as charged twice`);
  const overRefunded = await q(
    `SELECT a.id FROM payment_attempts a JOIN payment_refunds r ON r.attempt_id = a.id
      WHERE NOT EXISTS (SELECT 1 FROM payment_refund_events x WHERE x.refund_id = r.id AND x.status = 'failed')
      GROUP BY a.id, a.amount HAVING sum(r.amount) > a.amount`,
  );
  if (overRefunded.length > 0) out.push(`${overRefunded.length} attempts refunded beyond capture`);
  // Each approved payment confirms exactly one order: its order left pending/failed states.
  const unconfirmed = await q<{ order_id: string; status: string }>(
    `SELECT e.order_id, o.status FROM payment_attempt_events e JOIN orders o ON o.id::text = e.order_id
      WHERE e.status = 'approved' AND o.status IN ('pending_payment', 'payment_failed', 'expired', 'cancelled')`,
  );
  if (unconfirmed.length > 0) out.push(`${unconfirmed.length} approved payments whose order is not paid, e.g. ${JSON.stringify(unconfirmed[0])}`);
  // Paid orders have an approved payment behind them.
  const unpaid = await q(
    `SELECT o.id FROM orders o WHERE o.status IN ('paid', 'fulfilled', 'partially_refunded', 'refunded', 'refunding')
        AND NOT EXISTS (SELECT 1 FROM payment_attempt_events e WHERE e.order_id = o.id::text AND e.status = 'approved')`,
  );
  if (unpaid.length > 0) out.push(`${unpaid.length} orders paid without an approved payment`);
  // Processor side: at most one Mercado Pago charge kept per order (a second approval must be
  // given back). The simulator's records are the processor's books.
  const processorTwice = await q<{ order_id: string; n: number }>(
    `SELECT a.order_id, count(*)::int AS n FROM sim_records s JOIN payment_attempts a ON a.id::text = s.data->>'externalReference'
      WHERE s.kind = 'mp_payment' AND s.data->>'status' = 'approved' AND jsonb_array_length(coalesce(s.data->'refunds', '[]'::jsonb)) = 0
      GROUP BY 1 HAVING count(*) > 1`,
  );
  if (processorTwice.length > 0) out.push(`${processorTwice.length} orders charged twice at the processor`);
  // Events: every order has its events; nothing stuck in dead letters.
  const silent = await q(`SELECT o.id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM events_outbox e WHERE e.aggregate_id = o.id::text)`);
  if (silent.length > 0) out.push(`${silent.length} orders without any event`);
  const dead = await q<{ consumer: string; error: string }>(`SELECT consumer, left(error, 200) AS error FROM events_dead_letters WHERE status = 'dead'`);
  if (dead.length > 0) out.push(`${dead.length} dead-lettered events, e.g. ${JSON.stringify(dead[0])}`);
  return out;
}

/** Test cards: the PANs that must never appear in our tables or logs. */
export const PANS = ['4051885600446623', '5186059559590568', '5416752602582580'];

/**
 * Card-number-like digit runs in a text: a card brand's prefix with that brand's length, passing
 * Luhn (Visa 4: 13/16/19; Mastercard 51–55, 2221–2720: 16; Amex 34/37: 15; Diners 30/36/38: 14;
 * Discover/others 6: 16–19). Processor ids such as Mercado Pago's numeric payment ids are other
 * shapes, so they do not count as card numbers by chance.
 */
export function cardNumbersIn(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?<!\d)\d{13,19}(?!\d)/g)) if (brandShaped(m[0]) && luhn(m[0])) found.push(m[0]);
  return found;
}

function brandShaped(d: string): boolean {
  const n = d.length;
  const p2 = Number(d.slice(0, 2));
  const p4 = Number(d.slice(0, 4));
  if (d.startsWith('4')) return n === 13 || n === 16 || n === 19;
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16;
  if (p2 === 34 || p2 === 37) return n === 15;
  if (p2 === 30 || p2 === 36 || p2 === 38) return n === 14;
  if (d.startsWith('6')) return n >= 16 && n <= 19;
  return false;
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * Row counts of every table of ours (the simulator's own sim_* tables, the Idempotency-Key
 * store, which records refused requests by design so a retry gets the same answer, and what
 * background workers write whatever requests arrive — the BI alert evaluator's state and the
 * consumers' positions, inbox and the analytics landing, which only follow the outbox — left
 * out; the outbox itself stays in, so a request that changed anything still shows).
 */
export async function tableCounts(db: Database): Promise<Record<string, number>> {
  const { rows } = await db.query<{ t: string; n: number }>(
    `SELECT table_name AS t,
            (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I', table_name), false, true, '')))[1]::text::int AS n
       FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'sim\\_%' AND table_name NOT LIKE '%idempotency%'
        AND table_name NOT IN ('bi_alert_state', 'events_positions', 'events_inbox', 'analytics_landing')`,
  );
  return Object.fromEntries(rows.map((r) => [r.t, r.n]));
}

/** Polls until `cond()` holds (true) or `ms` pass (false): timings on a shared machine vary a lot. */
export async function eventually(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}
