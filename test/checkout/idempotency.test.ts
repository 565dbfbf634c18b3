import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { createIdempotencyGuard } from '../../src/checkout/index.js';
import { manualClock } from '../../src/platform/clock.js';
import { defineErrors } from '../../src/platform/errors.js';
import { createHttpApp, type HttpModule } from '../../src/platform/http.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { freshDatabase } from '../support/db.js';
import { capturingLogger } from '../support/platform.js';

const { db } = await freshDatabase({ poolSize: 6 });
const clock = manualClock(new Date('2026-11-28T12:00:00Z'));
const { idempotency, idempotent } = createIdempotencyGuard({ db, clock });
await db.query('CREATE TABLE probe_effects (id serial PRIMARY KEY, name text NOT NULL)');
const fail = defineErrors({ probe_refused: 'conflict' });
let crashNext = false;

const routes: HttpModule = (app) => {
  app.post('/probe', { schema: { body: z.object({ name: z.string(), delayMs: z.number().int().optional(), refuse: z.boolean().optional() }).strict() } }, async (req, reply) =>
    idempotent(req, reply, 'tester', async () => {
      if (req.body.delayMs) await new Promise((r) => setTimeout(r, req.body.delayMs));
      if (crashNext) {
        crashNext = false;
        throw new Error('boom');
      }
      if (req.body.refuse) throw fail('probe_refused', 'refused on purpose', { name: req.body.name });
      const { rows } = await db.query<{ id: number }>('INSERT INTO probe_effects (name) VALUES ($1) RETURNING id', [req.body.name]);
      return { status: 201, body: { id: rows[0]?.id, name: req.body.name } };
    }),
  );
};
const app = await createHttpApp({ logger: capturingLogger('silent').logger, metrics: createMetrics(), readiness: {}, modules: [routes] });
const effects = async (name: string) => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM probe_effects WHERE name = $1', [name])).rows[0]?.n;
const post = (key: string | undefined, payload: object) =>
  app.inject({ method: 'POST', url: '/probe', payload, headers: key === undefined ? {} : { 'idempotency-key': key } });

test('same key and body: the first response is replayed and the effect happens once', async () => {
  const first = await post('k-1', { name: 'a' });
  const again = await post('k-1', { name: 'a' });
  assert.equal(first.statusCode, 201);
  assert.equal(again.statusCode, 201);
  assert.equal(again.body, first.body);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  assert.equal(await effects('a'), 1);
});

test('the same body with keys in another order is the same request', async () => {
  const first = await post('k-order', { name: 'o', delayMs: 1 });
  const again = await app.inject({ method: 'POST', url: '/probe', headers: { 'idempotency-key': 'k-order', 'content-type': 'application/json' }, payload: '{"delayMs":1,"name":"o"}' });
  assert.equal(again.body, first.body);
});

test('same key, different body: 422 idempotency_mismatch and nothing done', async () => {
  await post('k-2', { name: 'b' });
  const other = await post('k-2', { name: 'c' });
  assert.equal(other.statusCode, 422);
  assert.equal(other.json<{ code: string }>().code, 'idempotency_mismatch');
  assert.equal(await effects('c'), 0);
});

test('expected errors are stored and replayed too', async () => {
  const first = await post('k-3', { name: 'd', refuse: true });
  assert.equal(first.statusCode, 409);
  const again = await post('k-3', { name: 'd', refuse: true });
  assert.equal(again.statusCode, 409);
  assert.equal(again.body, first.body);
});

test('an unexpected failure frees the key so a retry runs', async () => {
  crashNext = true;
  const first = await post('k-4', { name: 'e' });
  assert.equal(first.statusCode, 500);
  const retry = await post('k-4', { name: 'e' });
  assert.equal(retry.statusCode, 201);
  assert.equal(await effects('e'), 1);
});

test('concurrent duplicates wait for the first and all get its answer', async () => {
  const results = await Promise.all(Array.from({ length: 12 }, () => post('k-race', { name: 'race', delayMs: 150 })));
  assert.equal(await effects('race'), 1);
  const bodies = new Set(results.map((r) => r.body));
  assert.equal(bodies.size, 1);
  assert.ok(results.every((r) => r.statusCode === 201));
  assert.equal(results.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 11);
});

test('a missing, empty or oversized key is a 400 with a code; 255 characters are fine', async () => {
  assert.equal((await post(undefined, { name: 'f' })).json<{ code: string }>().code, 'idempotency_key_required');
  const long = await post('x'.repeat(256), { name: 'f' });
  assert.equal(long.statusCode, 400);
  assert.equal(long.json<{ code: string }>().code, 'invalid_idempotency_key');
  assert.equal(await effects('f'), 0);
  assert.equal((await post('y'.repeat(255), { name: 'f' })).statusCode, 201);
});

test('keys are kept 24 hours, then pruned', async () => {
  await post('k-old', { name: 'g' });
  clock.advance(23 * 3600_000);
  assert.equal(await idempotency.prune(), 0);
  assert.equal((await post('k-old', { name: 'g' })).headers['idempotent-replayed'], 'true');
  clock.advance(2 * 3600_000);
  assert.ok((await idempotency.prune()) >= 1);
  const after = await post('k-old', { name: 'g' });
  assert.equal(after.headers['idempotent-replayed'], undefined);
  assert.equal(await effects('g'), 2);
});

test('a claim left by a crashed process is taken over after its lease', async () => {
  const fp = Buffer.alloc(32, 1);
  await db.query(
    `INSERT INTO checkout_idempotency_keys (scope, key, fingerprint, state, owner, lease_until, created_at)
     VALUES ('tester2', 'k-stale', $1, 'running', gen_random_uuid(), $2, $2)`,
    [fp, clock.now()],
  );
  clock.advance(1_000);
  const r = await idempotency.run('tester2', 'k-stale', fp, async () => ({ status: 200, body: { ok: true } }));
  assert.deepEqual(r, { status: 200, body: { ok: true }, replayed: false });
});
