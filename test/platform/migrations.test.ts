import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { discoverMigrations, migrate, migrationsDone } from '../../src/platform/migrations.js';
import { freshDatabase } from '../support/db.js';

test('migrations are already applied in the test database and re-running is a no-op', async () => {
  const { db } = await freshDatabase();
  const all = discoverMigrations();
  assert.ok(all.length > 0);
  assert.equal(await migrationsDone(db), true);
  const again = await migrate(db);
  assert.deepEqual(again.applied, []);
  assert.equal(again.skipped, all.length);
});

test('several processes migrating together apply each migration once', async () => {
  const { db } = await freshDatabase();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mig-'));
  mkdirSync(path.join(dir, 'demo', 'migrations'), { recursive: true });
  writeFileSync(
    path.join(dir, 'demo', 'migrations', '2030-01-01-0001-demo.sql'),
    'CREATE TABLE demo_once (id int PRIMARY KEY); INSERT INTO demo_once VALUES (1);',
  );
  const ms = discoverMigrations(dir);
  const results = await Promise.all([migrate(db, ms), migrate(db, ms), migrate(db, ms)]);
  assert.equal(results.reduce((n, r) => n + r.applied.length, 0), 1);
  const { rows } = await db.query('SELECT count(*)::int AS n FROM demo_once');
  assert.equal(rows[0]?.n, 1);
});

test('a frozen migration edited after it was applied stops the run', async () => {
  const { db } = await freshDatabase();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mig-'));
  const file = path.join(dir, 'demo', 'migrations', '2030-01-01-0001-demo.sql');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, 'CREATE TABLE demo_frozen (id int);');
  await migrate(db, discoverMigrations(dir));
  writeFileSync(file, 'CREATE TABLE demo_frozen (id bigint);');
  await assert.rejects(migrate(db, discoverMigrations(dir)), /changed after it was applied/);
});

test('a failing migration is rolled back whole and named', async () => {
  const { db } = await freshDatabase();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mig-'));
  const file = path.join(dir, 'demo', 'migrations', '2030-01-01-0001-broken.sql');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, 'CREATE TABLE demo_half (id int); SELECT no_such_function();');
  await assert.rejects(migrate(db, discoverMigrations(dir)), /demo\/2030-01-01-0001-broken.sql failed/);
  const { rows } = await db.query(`SELECT to_regclass('demo_half') AS t`);
  assert.equal(rows[0]?.t, null);
});

test('a failing migration rolls back the pending migrations before it in the same run', async () => {
  const { db } = await freshDatabase();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mig-'));
  mkdirSync(path.join(dir, 'demo', 'migrations'), { recursive: true });
  writeFileSync(path.join(dir, 'demo', 'migrations', '2030-01-01-0001-good.sql'), 'CREATE TABLE demo_good (id int);');
  writeFileSync(path.join(dir, 'demo', 'migrations', '2030-01-01-0002-broken.sql'), 'SELECT no_such_function();');
  await assert.rejects(migrate(db, discoverMigrations(dir)), /demo\/2030-01-01-0002-broken.sql failed/);
  const { rows } = await db.query(`SELECT to_regclass('demo_good') AS t,
    (SELECT count(*)::int FROM platform_migrations WHERE id LIKE 'demo/%') AS recorded`);
  assert.deepEqual(rows[0], { t: null, recorded: 0 });

  // Fixed, the next run applies both and records each once.
  writeFileSync(path.join(dir, 'demo', 'migrations', '2030-01-01-0002-broken.sql'), 'SELECT 1;');
  const { applied } = await migrate(db, discoverMigrations(dir));
  assert.deepEqual(applied, ['demo/2030-01-01-0001-good.sql', 'demo/2030-01-01-0002-broken.sql']);
  assert.equal((await migrate(db, discoverMigrations(dir))).applied.length, 0);
});

test('badly named migration files are refused', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mig-'));
  mkdirSync(path.join(dir, 'demo', 'migrations'), { recursive: true });
  writeFileSync(path.join(dir, 'demo', 'migrations', 'init.sql'), 'SELECT 1;');
  assert.throws(() => discoverMigrations(dir), /YYYY-MM-DD-NNNN-name\.sql/);
});
