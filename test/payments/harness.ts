import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { manualClock } from '../../src/platform/clock.js';
import { createHttpApp } from '../../src/platform/http.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { createPayments, type Payments } from '../../src/payments/index.js';
import type { PaymentConnector } from '../../src/payments/connectors/port.js';
import { startProcessorSim, type SimSettings } from '../../src/processor-sim/index.js';
import { freshDatabase } from '../support/db.js';
import { capturingLogger, testConfig } from '../support/platform.js';
import { postForm } from '../processor-sim/support.js';

export { postForm };
export const VISA_OK = '4051885600446623';
export const MASTER_REJECT = '5186059559590568';
export const MP_CARD = '5416752602582580';

/**
 * Payments wired to a real simulator (in-process, on a socket), a real PostgreSQL database and
 * a listening app, sharing one manual clock (webhook signatures carry the simulator's time).
 */
export async function startHarness(settings: Partial<SimSettings> = {}) {
  const { db, url, name } = await freshDatabase();
  const clock = manualClock(new Date('2026-11-27T15:00:00Z'));
  const { logger, lines } = capturingLogger('debug');
  const mpAccessToken = `TEST-${randomBytes(12).toString('hex')}`;
  const mpWebhookSecret = randomBytes(32).toString('hex');
  const sim = await startProcessorSim({ port: 0, clock, mpAccessToken, mpWebhookSecret, settings, tickMs: 0 });
  let appUrl = 'http://127.0.0.1:0';
  const base = testConfig(url);
  const config = {
    ...base,
    kek: randomBytes(32).toString('base64'),
    payments: { ...base.payments, tbkBaseUrl: sim.url, mpBaseUrl: sim.url, mpAccessToken, mpWebhookSecret, processorTimeoutMs: 8000 },
  };
  const metrics = createMetrics();
  const payments: Payments = createPayments({ config, db, logger, metrics, clock, publicUrl: () => appUrl });
  const app = await createHttpApp({ logger, metrics, readiness: {}, modules: [payments.routes] });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  appUrl = `http://127.0.0.1:${address && typeof address === 'object' ? address.port : 0}`;
  after(async () => {
    await payments.settle();
    await app.close();
    await sim.close();
  });

  /** The shopper at the Webpay form: pays with `card` (or aborts/errors); returns where Webpay sends them. */
  const webpayForm = async (redirect: { url: string; token: string }, card: string, action = 'pay') => {
    const form = await postForm(redirect.url, { token_ws: redirect.token });
    await form.text();
    const res = await postForm(`${sim.url}/webpayserver/pay`, { token_ws: redirect.token, card_number: card, cvv: '123', expiry: '12/30', action });
    await res.text();
    const location = res.headers.get('location');
    if (res.status !== 303 || !location) throw new Error(`webpay form answered ${res.status}`);
    return location;
  };
  /** The browser following a redirect back to us (GET), without following our redirect. */
  const follow = async (location: string) => {
    const res = await fetch(location, { redirect: 'manual' });
    await res.text();
    return { status: res.status, location: res.headers.get('location') ?? '' };
  };
  /** A card token as MP's browser SDK makes it: the PAN goes to the processor only. */
  const mpCardToken = async (holder: string) => {
    const res = await fetch(`${sim.url}/v1/card_tokens?public_key=TEST-public`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        card_number: MP_CARD,
        expiration_month: 11,
        expiration_year: 2030,
        security_code: '123',
        cardholder: { name: holder, identification: { type: 'RUT', number: '111111111' } },
      }),
    });
    return String(((await res.json()) as { id: string }).id);
  };
  /** Saves a Oneclick card for a customer through the real inscription flow. */
  const enroll = async (customerId: string, card = VISA_OK) => {
    const start = await payments.cards.startInscription({ customerId, email: 'buyer@example.cl', returnUrl: 'http://shop.test/cards' });
    await (await postForm(start.url, { TBK_TOKEN: start.token })).text();
    const res = await postForm(`${sim.url}/webpayserver/bp_inscription_submit`, { TBK_TOKEN: start.token, card_number: card, cvv: '123', expiry: '12/30', action: 'pay' });
    await res.text();
    return follow(res.headers.get('location') ?? '');
  };
  const outbox = async (type: string, aggregateId?: string) => {
    const { rows } = await db.query<{ payload: Record<string, unknown> }>(
      `SELECT payload FROM events_outbox WHERE type = $1 AND ($2::text IS NULL OR aggregate_id = $2) ORDER BY id`,
      [type, aggregateId ?? null],
    );
    return rows.map((r) => r.payload);
  };
  /** Another payments instance on the same database and simulator with a changed config. */
  const withConfig = (change: (c: typeof config) => typeof config): Payments =>
    createPayments({ config: change(config), db, logger, metrics, clock, publicUrl: () => appUrl });
  /** Another payments instance with some connectors replaced (e.g. one that dies mid-call). */
  const withConnectors = (connectors: { transbank?: PaymentConnector; mercadopago?: PaymentConnector }): Payments =>
    createPayments({ config, db, logger, metrics, clock, publicUrl: () => appUrl, connectors });
  return { withConfig, withConnectors, db, dbName: name, dbUrl: url, clock, sim, payments, app, appUrl: () => appUrl, lines, webpayForm, follow, mpCardToken, enroll, outbox };
}

export type Harness = Awaited<ReturnType<typeof startHarness>>;
