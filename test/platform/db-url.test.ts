import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isConnectionError } from '../../src/platform/db-errors.js';
import { parseLsn } from '../../src/platform/db-routing.js';
import { parseDatabaseUrl, splitUrlList } from '../../src/platform/db-url.js';
import { ConfigError, loadConfig } from '../../src/platform/config.js';

test('a libpq multi-host URL is split into single-host URLs, in order', () => {
  const parsed = parseDatabaseUrl('postgres://app:s%40cret@db1:5432,db2:5433,[::1]:5434/shop?target_session_attrs=read-write&sslmode=disable');
  assert.equal(parsed.targetSessionAttrs, 'read-write');
  assert.deepEqual(parsed.hosts, [
    { host: 'db1', port: 5432 },
    { host: 'db2', port: 5433 },
    { host: '::1', port: 5434 },
  ]);
  assert.equal(parsed.urlFor(parsed.hosts[1]!), 'postgres://app:s%40cret@db2:5433/shop?sslmode=disable');
  assert.equal(parsed.urlFor(parsed.hosts[2]!), 'postgres://app:s%40cret@[::1]:5434/shop?sslmode=disable');
});

test('hosts without a port take 5432 or the port list, and one host stays a plain URL', () => {
  assert.deepEqual(parseDatabaseUrl('postgresql://a,b/db?port=6000,6001').hosts, [
    { host: 'a', port: 6000 },
    { host: 'b', port: 6001 },
  ]);
  const one = parseDatabaseUrl('postgres://u@h/db');
  assert.equal(one.targetSessionAttrs, 'any');
  assert.equal(one.urlFor(one.hosts[0]!), 'postgres://u@h:5432/db');
});

test('unsupported target_session_attrs and bad ports are refused at start-up', () => {
  assert.throws(() => parseDatabaseUrl('postgres://h1,h2/db?target_session_attrs=standby'), /target_session_attrs/);
  assert.throws(() => parseDatabaseUrl('postgres://h1:99999/db'), /port/);
  assert.throws(
    () => loadConfig({ DATABASE_URL: 'postgres://h1:1,h2:x/db' }),
    (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.variable === 'DATABASE_URL'),
  );
  assert.throws(
    () => loadConfig({ DATABASE_REPLICA_URLS: 'postgres://r1:1,r2:2/db' }),
    (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.variable === 'DATABASE_REPLICA_URLS'),
  );
});

test('replica URL lists split on whitespace or on commas that start a URL', () => {
  assert.deepEqual(splitUrlList('postgres://a:1/db, postgres://b:2/db postgresql://c/db'), [
    'postgres://a:1/db',
    'postgres://b:2/db',
    'postgresql://c/db',
  ]);
  const config = loadConfig({ DATABASE_URL: 'postgres://p1:1,p2:2/db?target_session_attrs=read-write', DATABASE_REPLICA_URLS: 'postgres://r:3/db' });
  assert.deepEqual(config.replicaUrls, ['postgres://r:3/db']);
  assert.equal(config.replicaMaxLagMs, 5000);
});

test('WAL positions compare as numbers', () => {
  assert.ok(parseLsn('0/16B3748') < parseLsn('0/16B3750'));
  assert.ok(parseLsn('0/FFFFFFFF') < parseLsn('1/0'));
  assert.throws(() => parseLsn('nope'));
});

test('connection failures are told apart from statement errors', () => {
  const pgError = (code: string) => Object.assign(new Error('x'), { code });
  assert.equal(isConnectionError(pgError('ECONNREFUSED')), true);
  assert.equal(isConnectionError(pgError('57P01')), true);
  assert.equal(isConnectionError(pgError('08006')), true);
  assert.equal(isConnectionError(new Error('Connection terminated unexpectedly')), true);
  assert.equal(isConnectionError(new Error('Cannot use a pool after calling end on the pool')), true);
  assert.equal(isConnectionError(pgError('25006')), false);
  assert.equal(isConnectionError(pgError('25006'), true), true);
  assert.equal(isConnectionError(pgError('23505')), false);
  assert.equal(isConnectionError(new AggregateError([pgError('ECONNREFUSED')])), true);
});
