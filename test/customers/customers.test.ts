import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createIdempotencyGuard } from '../../src/checkout/index.js';
import { createCustomers } from '../../src/customers/index.js';
import { hashPassword, verifyPassword } from '../../src/customers/auth.js';
import { manualClock } from '../../src/platform/clock.js';
import { createHttpApp } from '../../src/platform/http.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { freshDatabase } from '../support/db.js';
import { capturingLogger } from '../support/platform.js';

const { db } = await freshDatabase();
const clock = manualClock(new Date('2026-11-28T12:00:00Z'));
const { idempotent } = createIdempotencyGuard({ db, clock });
const customers = createCustomers({ db, clock, idempotent, sessionTtlMs: 3600_000 });
const { logger, lines } = capturingLogger('info');
const app = await createHttpApp({ logger, metrics: createMetrics(), readiness: {}, modules: [customers.routes] });
const PASSWORD = 'correct horse battery';

const register = (email: string, password = PASSWORD) => app.inject({ method: 'POST', url: '/customers', payload: { email, password, name: 'Ana' } });
const me = (token: string) => app.inject({ method: 'GET', url: '/customers/me', headers: { authorization: `Bearer ${token}` } });

test('passwords are hashed with scrypt and verified in constant time', async () => {
  const h = await hashPassword('s3cret-pass');
  assert.match(h, /^scrypt\$32768\$8\$1\$/);
  assert.equal(await verifyPassword('s3cret-pass', h), true);
  assert.equal(await verifyPassword('s3cret-pasS', h), false);
  assert.equal(await verifyPassword('x', 'md5$abc'), false);
});

test('register, sign in, who am I, sign out', async () => {
  const reg = await register('Ana@Example.CL');
  assert.equal(reg.statusCode, 201, reg.body);
  const { token, customer } = reg.json<{ token: string; customer: { email: string; kind: string } }>();
  assert.equal(customer.email, 'ana@example.cl');
  assert.equal(customer.kind, 'registered');
  assert.equal((await me(token)).json<{ email: string }>().email, 'ana@example.cl');

  const login = await app.inject({ method: 'POST', url: '/sessions', payload: { email: 'ana@example.cl', password: PASSWORD } });
  assert.equal(login.statusCode, 201);
  const second = login.json<{ token: string }>().token;
  assert.notEqual(second, token);
  await app.inject({ method: 'DELETE', url: '/sessions/current', headers: { authorization: `Bearer ${second}` } });
  assert.equal((await me(second)).statusCode, 401);
  assert.equal((await me(token)).statusCode, 200);
});

test('the session token is stored only as a hash, and never logged', async () => {
  const { token } = (await register('hash@example.cl')).json<{ token: string }>();
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM customer_sessions WHERE encode(token_hash, 'hex') LIKE '%' || $1 || '%' OR token_hash = convert_to($1, 'UTF8')`, [token]);
  assert.equal(rows[0]?.n, 0);
  assert.ok(!lines.some((l) => l.includes(token) || l.includes(PASSWORD)));
  const stored = await db.query<{ password_hash: string }>(`SELECT password_hash FROM customers WHERE email = 'hash@example.cl'`);
  assert.ok(!stored.rows[0]?.password_hash.includes(PASSWORD));
});

test('sessions expire', async () => {
  const { token } = (await register('expiry@example.cl')).json<{ token: string }>();
  assert.equal((await me(token)).statusCode, 200);
  clock.advance(3600_001);
  const res = await me(token);
  assert.equal(res.statusCode, 401);
  assert.equal(res.json<{ code: string }>().code, 'unauthenticated');
  assert.ok((await customers.service.pruneSessions()) >= 1);
});

test('wrong password, unknown email, taken email, weak password, bad email', async () => {
  await register('taken@example.cl');
  const wrong = await app.inject({ method: 'POST', url: '/sessions', payload: { email: 'taken@example.cl', password: 'nope-nope-nope' } });
  assert.equal(wrong.statusCode, 401);
  assert.equal(wrong.json<{ code: string }>().code, 'invalid_credentials');
  const unknown = await app.inject({ method: 'POST', url: '/sessions', payload: { email: 'ghost@example.cl', password: PASSWORD } });
  assert.equal(unknown.json<{ code: string }>().code, 'invalid_credentials');
  assert.equal((await register('TAKEN@example.cl')).json<{ code: string }>().code, 'email_taken');
  assert.equal((await register('weak@example.cl', 'short')).json<{ code: string }>().code, 'weak_password');
  assert.equal((await register('not-an-email')).statusCode, 400);
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM customers WHERE email IN ('weak@example.cl', 'not-an-email')`);
  assert.equal(rows[0]?.n, 0);
});

test('a sign-up stores its customer, session and one registration event together; a taken email stores none of them', async () => {
  const counts = async () => (await db.query<{ customers: number; sessions: number; events: number }>(
    `SELECT (SELECT count(*)::int FROM customers WHERE email = 'once@example.cl') AS customers,
            (SELECT count(*)::int FROM customer_sessions s JOIN customers c ON c.id = s.customer_id WHERE c.email = 'once@example.cl') AS sessions,
            (SELECT count(*)::int FROM events_outbox WHERE type = 'customers.customer_registered'
               AND aggregate_id IN (SELECT id::text FROM customers WHERE email = 'once@example.cl')) AS events`,
  )).rows[0];
  const first = await register('once@example.cl');
  assert.equal(first.statusCode, 201, first.body);
  const { token, customer } = first.json<{ token: string; customer: { id: string } }>();
  assert.equal((await me(token)).json<{ id: string }>().id, customer.id);
  assert.deepEqual(await counts(), { customers: 1, sessions: 1, events: 1 });
  const { rows } = await db.query<{ payload: { customerId: string; kind: string } }>(
    `SELECT payload FROM events_outbox WHERE type = 'customers.customer_registered' AND aggregate_id = $1`, [customer.id]);
  assert.equal(rows[0]?.payload.customerId, customer.id);
  assert.equal(rows[0]?.payload.kind, 'registered');

  assert.equal((await register('ONCE@example.cl')).json<{ code: string }>().code, 'email_taken');
  assert.deepEqual(await counts(), { customers: 1, sessions: 1, events: 1 });
});

test('guests may reuse an email; registered accounts may not', async () => {
  const a = await app.inject({ method: 'POST', url: '/customers/guest', payload: { email: 'guest@example.cl' } });
  const b = await app.inject({ method: 'POST', url: '/customers/guest', payload: { email: 'guest@example.cl' } });
  assert.equal(a.statusCode, 201);
  assert.equal(b.statusCode, 201);
  assert.notEqual(a.json<{ customer: { id: string } }>().customer.id, b.json<{ customer: { id: string } }>().customer.id);
  assert.equal(a.json<{ customer: { kind: string } }>().customer.kind, 'guest');
});

test('addresses: validated against the comunas table, idempotent POST, nothing stored on bad input', async () => {
  const { token } = (await register('addr@example.cl')).json<{ token: string }>();
  const h = (key: string) => ({ authorization: `Bearer ${token}`, 'idempotency-key': key });
  const good = { recipientName: 'Ana', street: 'Los Carrera', number: '455', comuna: 'concepcion', region: 'Biobío' };
  const first = await app.inject({ method: 'POST', url: '/customers/me/addresses', headers: h('a1'), payload: good });
  assert.equal(first.statusCode, 201, first.body);
  assert.equal(first.json<{ comuna: string; regionCode: string }>().comuna, 'Concepción');
  const replay = await app.inject({ method: 'POST', url: '/customers/me/addresses', headers: h('a1'), payload: good });
  assert.equal(replay.body, first.body);
  const bad = await app.inject({ method: 'POST', url: '/customers/me/addresses', headers: h('a2'), payload: { ...good, comuna: 'Temuco' } });
  assert.equal(bad.statusCode, 400);
  const body = bad.json<{ code: string; details: { problems: { field: string; suggestion: string[] }[] } }>();
  assert.equal(body.code, 'invalid_address');
  assert.deepEqual(body.details.problems[0]?.suggestion, ['La Araucanía']);
  const list = await app.inject({ method: 'GET', url: '/customers/me/addresses', headers: { authorization: `Bearer ${token}` } });
  assert.equal(list.json<{ addresses: unknown[] }>().addresses.length, 1);
  const id = first.json<{ id: string }>().id;
  assert.equal((await app.inject({ method: 'DELETE', url: `/customers/me/addresses/${id}`, headers: { authorization: `Bearer ${token}` } })).statusCode, 204);
  assert.equal((await app.inject({ method: 'DELETE', url: `/customers/me/addresses/${id}`, headers: { authorization: `Bearer ${token}` } })).statusCode, 404);
  const noKey = await app.inject({ method: 'POST', url: '/customers/me/addresses', headers: { authorization: `Bearer ${token}` }, payload: good });
  assert.equal(noKey.json<{ code: string }>().code, 'idempotency_key_required');
});

test('the regions list serves the whole table', async () => {
  const res = await app.inject({ method: 'GET', url: '/geo/cl/regions' });
  const regions = res.json<{ regions: { comunas: string[] }[] }>().regions;
  assert.equal(regions.length, 16);
  assert.equal(regions.reduce((n, r) => n + r.comunas.length, 0), 346);
});
