// Security: admin routes refuse requests without (or with a wrong) staff token; forged
// webhooks and returns change nothing; no card number in the database or the logs after
// card payments of every kind went through.
import assert from 'node:assert/strict';
import test, { after } from 'node:test';
import { startPlatform } from '../../src/main/platform.js';
import { buildServices } from '../../src/main/contexts.js';
import { freePort } from '../../src/platform/embedded-postgres.js';
import { generatePlan, runLive, simulateHistory } from '../../src/simulate/index.js';
import { freshDatabase } from '../support/db.js';
import { capturingLogger, testConfig } from '../support/platform.js';
import { ADMIN_TOKEN, cardNumbersIn, PANS, tableCounts } from './support.js';
import { randomBytes } from 'node:crypto';

const { db, url } = await freshDatabase();
const { logger, lines } = capturingLogger('debug');
const port = await freePort();
const config = testConfig(url, {
  seed: true, adminToken: ADMIN_TOKEN, startSimulator: true, simPort: await freePort(), port, kek: randomBytes(32).toString('base64'),
});
const platform = await startPlatform(config, { role: 'all', logger });
after(() => platform.stop());
const app = platform.app;
const base = `http://127.0.0.1:${port}`;
const simUrl = (platform.simulator as { url: string }).url;

test('every admin route refuses a request without the staff token, or with a wrong one; BI refuses without a session', async () => {
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, Record<string, unknown>> }>();
  const routes = (prefix: (p: string) => boolean) => Object.entries(doc.paths)
    .filter(([p]) => prefix(p))
    .flatMap(([p, ops]) => Object.keys(ops).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map((m) => ({ path: p.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000'), method: m.toUpperCase() as 'GET' })));
  const admin = routes((p) => p.startsWith('/admin'));
  // The BI app has its own users (session cookie), not the staff token; only login is public.
  const bi = routes((p) => p.startsWith('/bi/api') && p !== '/bi/api/login');
  assert.ok(admin.length >= 10, `${admin.length} admin routes`);
  assert.ok(bi.length >= 10, `${bi.length} BI routes`);
  const before = await tableCounts(db);
  const open: string[] = [];
  const body = (method: string) => (method === 'GET' || method === 'DELETE' ? {} : { payload: {} });
  for (const r of admin) {
    const none = await app.inject({ method: r.method, url: r.path, ...body(r.method) });
    const wrong = await app.inject({ method: r.method, url: r.path, headers: { 'x-admin-token': 'not-the-token' }, ...body(r.method) });
    if (none.statusCode !== 401 && none.statusCode !== 403) open.push(`${r.method} ${r.path} without token → ${none.statusCode}`);
    if (wrong.statusCode !== 403) open.push(`${r.method} ${r.path} wrong token → ${wrong.statusCode}`);
  }
  for (const r of bi) {
    // No session, or a forged one: refused (401), or turned away as malformed (400) — never served.
    for (const headers of [{}, { cookie: 'embudo_bi=forged-session-token' }, { 'x-admin-token': ADMIN_TOKEN }]) {
      const res = await app.inject({ method: r.method, url: r.path, headers, ...body(r.method) });
      if (res.statusCode !== 401 && res.statusCode !== 400) open.push(`${r.method} ${r.path} with ${JSON.stringify(headers)} → ${res.statusCode}`);
    }
  }
  assert.deepEqual(open, []);
  assert.deepEqual(await tableCounts(db), before);
});

test('card payments of every kind leave no card number in the database or the logs; forged webhooks change nothing', async () => {
  // Webpay (cards typed on the processor's form), Mercado Pago card tokens and cash, over HTTP…
  const live = await runLive({ baseUrl: base, simUrl, seed: 'security', rate: 2, durationMs: 6_000, flat: true, browsePerOrder: 0, customerCount: 10 });
  assert.ok(live.orders > 0, JSON.stringify(live));
  // …and Oneclick inscriptions, refunds and returns through the services.
  const plan = generatePlan({ seed: 'security', from: new Date('2026-06-01T12:00:00Z'), to: new Date('2026-06-02T04:00:00Z'), ordersPerDay: 8, skuCount: 40, customerCount: 12 });
  const history = await simulateHistory({ config, db, logger, buildServices, plan });
  assert.ok(history && history.orders > 0);

  // Forged Mercado Pago notifications about a real payment.
  const { rows: [mp] } = await db.query<{ ref: string; attempt: string }>(
    `SELECT processor_ref AS ref, attempt_id::text AS attempt FROM payment_attempt_events WHERE processor_ref ~ '^[0-9]+$' LIMIT 1`);
  assert.ok(mp, 'a Mercado Pago payment to forge notifications about');
  // Genuine notifications the live traffic sent are processed in the background: let that
  // finish first, so the snapshot below only sees what the forged requests do.
  for (let i = 0; i < 300; i++) {
    const { rows: [n] } = await db.query<{ left: number }>(
      `SELECT (SELECT count(*) FROM payment_notifications) - (SELECT count(*) FROM payment_notifications_processed) AS left`);
    if (Number(n?.left) === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const before = await tableCounts(db);
  const forged = [
    {},
    { 'x-signature': `ts=${Math.floor(Date.now() / 1000)},v1=${'ab'.repeat(32)}`, 'x-request-id': 'forged-1' },
    { 'x-signature': 'garbage', 'x-request-id': 'forged-2' },
  ];
  for (const headers of forged) {
    const res = await app.inject({
      method: 'POST', url: `/webhooks/mercadopago?data.id=${mp.ref}&type=payment`,
      headers: { ...headers, 'content-type': 'application/json' },
      payload: JSON.stringify({ action: 'payment.updated', type: 'payment', data: { id: mp.ref } }),
    });
    assert.ok(res.statusCode >= 400 && res.statusCode < 500, `forged webhook → ${res.statusCode} ${res.body}`);
  }
  const webpay = await app.inject({ method: 'GET', url: `/payments/webpay/return?token_ws=${'f'.repeat(64)}` });
  assert.ok(webpay.statusCode >= 400 && webpay.statusCode < 500, `forged Webpay return → ${webpay.statusCode}`);
  assert.deepEqual(await tableCounts(db), before, 'forged requests changed nothing');

  // No card number anywhere in our tables (the simulator's sim_* tables are the processor's books).
  const { rows: tables } = await db.query<{ t: string }>(
    `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'sim\\_%'`);
  const leaks: string[] = [];
  for (const { t } of tables) {
    const { rows } = await db.query<{ row: string }>(`SELECT t::text AS row FROM ${t} t`);
    for (const { row } of rows) {
      const hits = [...PANS.filter((p) => row.includes(p)), ...cardNumbersIn(row).filter((n) => /^[3-6]\d{14,15}$/.test(n))];
      if (hits.length > 0) leaks.push(`${t}: ${hits.join(',')}`);
    }
  }
  assert.deepEqual(leaks, [], 'card numbers stored');
  const logText = lines.join('\n');
  assert.ok(lines.length > 50, 'logs were captured');
  assert.deepEqual(PANS.filter((p) => logText.includes(p)), [], 'card numbers logged');
  assert.deepEqual(cardNumbersIn(logText).filter((n) => /^[3-6]\d{14,15}$/.test(n)), [], 'card-like numbers logged');
});
