import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { createDatabase, type Database } from '../../src/platform/db.js';
import { parseLsn } from '../../src/platform/db-routing.js';
import { parseDatabaseUrl } from '../../src/platform/db-url.js';
import { freePort } from '../../src/platform/embedded-postgres.js';
import { isAppError } from '../../src/platform/errors.js';
import { createHttpApp, POSITION_HEADER, readAfter, sendPosition } from '../../src/platform/http.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { freshDatabase } from '../support/db.js';
import { capturingLogger } from '../support/platform.js';

const { url } = await freshDatabase();
const live = parseDatabaseUrl(url);
const deadPort = await freePort();
/** The test database's URL with other hosts around it. */
const withHosts = (hosts: string, query = '') => {
  const [, prefix, rest] = /^(postgres(?:ql)?:\/\/(?:[^@/]*@)?)[^/]*(\/.*)$/.exec(url) ?? [];
  return `${prefix}${hosts}${rest}${query}`;
};
const liveHost = `${live.hosts[0]!.host}:${live.hosts[0]!.port}`;

const opened: Database[] = [];
const open = (...args: Parameters<typeof createDatabase>) => {
  const db = createDatabase(...args);
  opened.push(db);
  return db;
};
test.after(async () => {
  for (const db of opened) await db.close();
});

const isUnavailable = (err: unknown) => isAppError(err) && err.kind === 'unavailable' && err.code === 'unavailable';

test('a database that cannot be reached answers `unavailable`, from queries and transactions alike', async () => {
  const db = open({ connectionString: `postgres://nobody@127.0.0.1:${deadPort}/x`, connectTimeoutMs: 1000 });
  await assert.rejects(db.query('SELECT 1'), isUnavailable);
  await assert.rejects(db.transaction(async (tx) => tx.query('SELECT 1')), isUnavailable);
  assert.equal(await db.ping(), false);

  const { logger } = capturingLogger();
  const app = await createHttpApp({
    logger,
    metrics: createMetrics(),
    readiness: {},
    modules: [(a) => void a.get('/thing', { schema: { response: { 200: z.object({ n: z.number() }) } } }, async () => ({ n: (await db.query('SELECT 1 AS n')).rowCount ?? 0 }))],
  });
  const res = await app.inject({ method: 'GET', url: '/thing' });
  assert.equal(res.statusCode, 503);
  assert.equal(res.headers['retry-after'], '1');
  assert.equal(res.json<{ code: string }>().code, 'unavailable');
  await app.close();
});

test('a multi-host URL skips hosts that are down and uses the first writable one', async () => {
  const db = open({ connectionString: withHosts(`127.0.0.1:${deadPort},${liveHost}`, '?target_session_attrs=read-write') });
  const { rows } = await db.query<{ ok: number }>('SELECT 1 AS ok');
  assert.equal(rows[0]?.ok, 1);
  assert.equal(db.topology().primary, liveHost);
  await db.transaction(async (tx) => tx.query('CREATE TABLE routing_probe (id int)'), { durable: true });
});

test('without replicas, reader() and consistentRead use the primary and positions only move forward', async () => {
  const db = open({ connectionString: url });
  const before = await db.position();
  await db.query('CREATE TABLE IF NOT EXISTS routing_probe2 (id int)');
  await db.query('INSERT INTO routing_probe2 VALUES (1)');
  const after = await db.position();
  assert.ok(parseLsn(after) > parseLsn(before));
  const { value, position } = await db.consistentRead(async (tx) => (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM routing_probe2')).rows[0]?.n, { after });
  assert.equal(value, 1);
  assert.ok(parseLsn(position) >= parseLsn(after));
  await assert.rejects(db.reader().transaction(async (tx) => tx.query('INSERT INTO routing_probe2 VALUES (2)')), /read-only transaction/);
  assert.equal((await db.reader().query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r, false);
});

test('an unreachable replica stays out of rotation and reads fall back to the primary', async () => {
  const metrics = createMetrics();
  const db = open({ connectionString: url, replicas: [`postgres://nobody@127.0.0.1:${deadPort}/x`], registry: metrics.registry, connectTimeoutMs: 500 });
  const topology = await db.refreshTopology();
  assert.equal(topology.replicas[0]?.inRotation, false);
  assert.match(topology.replicas[0]?.reason ?? '', /unreachable/);
  assert.equal((await db.reader().query<{ n: number }>('SELECT 7 AS n')).rows[0]?.n, 7);
  assert.match(await metrics.registry.metrics(), new RegExp(`embudo_db_replica_in_rotation\\{replica="127.0.0.1:${deadPort}"\\} 0`));
});

test('routes take the client position from a header and hand the new one back', async () => {
  const db = open({ connectionString: url });
  const { logger } = capturingLogger();
  const app = await createHttpApp({
    logger,
    metrics: createMetrics(),
    readiness: {},
    modules: [
      (a) =>
        void a.get('/status', async (req, reply) => {
          const { value, position } = await db.consistentRead(async (tx) => (await tx.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n, {
            after: readAfter(req),
          });
          sendPosition(reply, position);
          return { n: value };
        }),
    ],
  });
  const first = await app.inject({ method: 'GET', url: '/status' });
  const position = first.headers[POSITION_HEADER];
  assert.equal(typeof position, 'string');
  const again = await app.inject({ method: 'GET', url: '/status', headers: { [POSITION_HEADER]: String(position) } });
  assert.equal(again.statusCode, 200);
  assert.ok(parseLsn(String(again.headers[POSITION_HEADER])) >= parseLsn(String(position)));
  const bad = await app.inject({ method: 'GET', url: '/status', headers: { [POSITION_HEADER]: 'yesterday' } });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json<{ code: string }>().code, 'invalid_request');
  await app.close();
});
