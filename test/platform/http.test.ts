import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { defineErrors } from '../../src/platform/errors.js';
import { createHttpApp, type HttpModule } from '../../src/platform/http.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { freshDatabase } from '../support/db.js';
import { capturingLogger } from '../support/platform.js';

const { db } = await freshDatabase();
await db.query('CREATE TABLE http_probe (name text PRIMARY KEY, qty int NOT NULL)');

const fail = defineErrors({ probe_exists: 'conflict', probe_missing: 'not_found' });

const probeRoutes: HttpModule = (app) => {
  app.post(
    '/probes',
    {
      schema: {
        body: z.object({ name: z.string().min(1).max(20), qty: z.number().int().positive() }).strict(),
        response: { 201: z.object({ name: z.string(), qty: z.number() }) },
      },
    },
    async (req, reply) => {
      const { rowCount } = await db.query('INSERT INTO http_probe VALUES ($1, $2) ON CONFLICT DO NOTHING', [req.body.name, req.body.qty]);
      if (rowCount === 0) throw fail('probe_exists', `probe ${req.body.name} exists`);
      return reply.code(201).send(req.body);
    },
  );
  app.get('/probes/:name', { schema: { params: z.object({ name: z.string() }) } }, async (req) => {
    const { rows } = await db.query('SELECT name, qty FROM http_probe WHERE name = $1', [req.params.name]);
    if (!rows[0]) throw fail('probe_missing', 'no such probe');
    return rows[0];
  });
  app.get('/boom', async () => {
    throw new Error('secret internals: password=hunter2');
  });
};

const { logger, lines } = capturingLogger();
const metrics = createMetrics();
let ready = true;
const app = await createHttpApp({
  logger,
  metrics,
  readiness: { probe: async () => (ready ? undefined : 'probe down') },
  modules: [probeRoutes],
});

const count = async () => (await db.query('SELECT count(*)::int AS n FROM http_probe')).rows[0]?.n;

test('a valid body is stored', async () => {
  const res = await app.inject({ method: 'POST', url: '/probes', payload: { name: 'a', qty: 1 } });
  assert.equal(res.statusCode, 201);
  assert.deepEqual(res.json(), { name: 'a', qty: 1 });
});

test('a bad body gets 400 with a code and changes nothing', async () => {
  const before = await count();
  for (const payload of [{ name: 'b', qty: -1 }, { name: 'b' }, { name: 'b', qty: 1, extra: true }, { name: 'b', qty: '1' }]) {
    const res = await app.inject({ method: 'POST', url: '/probes', payload });
    assert.equal(res.statusCode, 400, JSON.stringify(payload));
    const body = res.json<{ code: string; message: string; request_id: string }>();
    assert.equal(body.code, 'invalid_request');
    assert.ok(body.message.length > 0);
    assert.ok(body.request_id);
  }
  assert.equal(await count(), before);
});

test('malformed JSON, wrong media type and oversize bodies are 4xx with codes', async () => {
  const before = await count();
  const bad = await app.inject({ method: 'POST', url: '/probes', headers: { 'content-type': 'application/json' }, payload: '{"name":' });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json<{ code: string }>().code, 'invalid_json');
  const media = await app.inject({ method: 'POST', url: '/probes', headers: { 'content-type': 'text/csv' }, payload: 'a,b' });
  assert.equal(media.statusCode, 415);
  assert.equal(media.json<{ code: string }>().code, 'unsupported_media_type');
  const big = await app.inject({ method: 'POST', url: '/probes', payload: { name: 'x'.repeat(2_000_000), qty: 1 } });
  assert.equal(big.statusCode, 413);
  assert.equal(big.json<{ code: string }>().code, 'payload_too_large');
  assert.equal(await count(), before);
});

test('domain errors map through their kind', async () => {
  await app.inject({ method: 'POST', url: '/probes', payload: { name: 'dup', qty: 1 } });
  const dup = await app.inject({ method: 'POST', url: '/probes', payload: { name: 'dup', qty: 2 } });
  assert.equal(dup.statusCode, 409);
  assert.equal(dup.json<{ code: string }>().code, 'probe_exists');
  const missing = await app.inject({ method: 'GET', url: '/probes/nope' });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json<{ code: string }>().code, 'probe_missing');
  const route = await app.inject({ method: 'GET', url: '/nowhere' });
  assert.equal(route.statusCode, 404);
  assert.equal(route.json<{ code: string }>().code, 'route_not_found');
});

test('unknown errors are a plain 500 without internals, logged at error', async () => {
  const res = await app.inject({ method: 'GET', url: '/boom', headers: { 'x-request-id': 'req-boom-1' } });
  assert.equal(res.statusCode, 500);
  assert.deepEqual(res.json(), { code: 'internal', message: 'Internal server error', request_id: 'req-boom-1' });
  assert.equal(res.headers['x-request-id'], 'req-boom-1');
  const logged = lines.map((l) => JSON.parse(l) as { level: number; reqId?: string }).find((l) => l.reqId === 'req-boom-1' && l.level === 50);
  assert.ok(logged, 'the 500 is logged at error with its request id');
});

test('health and readiness', async () => {
  assert.equal((await app.inject('/healthz')).statusCode, 200);
  const ok = await app.inject('/readyz');
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json(), { status: 'ready', checks: { probe: 'ok' } });
  ready = false;
  const down = await app.inject('/readyz');
  assert.equal(down.statusCode, 503);
  assert.deepEqual(down.json(), { status: 'not_ready', checks: { probe: 'probe down' } });
  ready = true;
});

test('metrics expose request counts and latency by route and status', async () => {
  await app.inject({ method: 'GET', url: '/probes/a' });
  const res = await app.inject('/metrics');
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /text\/plain/);
  assert.match(res.body, /embudo_http_requests_total\{method="GET",route="\/probes\/:name",status="200"\} \d+/);
  assert.match(res.body, /embudo_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/probes\/:name",status="200"\}/);
  assert.match(res.body, /process_resident_memory_bytes/);
});

test('the OpenAPI document describes the routes and /docs is browsable', async () => {
  const doc = (await app.inject('/openapi.json')).json<{ openapi: string; paths: Record<string, unknown> }>();
  assert.equal(doc.openapi, '3.1.0');
  assert.ok(doc.paths['/probes']);
  assert.ok(doc.paths['/probes/{name}']);
  const docs = await app.inject('/docs/');
  assert.equal(docs.statusCode, 200);
  assert.match(docs.body, /swagger/i);
});
