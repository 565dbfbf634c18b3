// High availability against real servers on loopback: a primary, a synchronous standby and a
// deliberately lagging asynchronous replica (PostgreSQL from the `postgresql` package).
// Registers only where those binaries exist (CI installs them).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { findPostgresBinDir, startHaCluster } from '../../src/main/ha-cluster.js';
import { createDatabase, type Database } from '../../src/platform/db.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { runFailoverDrill } from './failover-drill.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const APPLY_DELAY_MS = 300;

if (findPostgresBinDir()) {
  const dir = path.join(os.tmpdir(), `embudo-ha-${process.pid}`);
  const cluster = await startHaCluster({
    dir,
    fast: true,
    standbys: [
      { name: 'standby1', sync: true },
      { name: 'replica1', sync: false, applyDelayMs: APPLY_DELAY_MS },
    ],
  });
  const [standby, replica] = cluster.standbys as [(typeof cluster.standbys)[0], (typeof cluster.standbys)[0]];
  const open: Database[] = [];
  const connect = (options: { replicas?: string[]; replicaMaxLagMs?: number } = {}) => {
    const metrics = createMetrics();
    const db = createDatabase({ connectionString: cluster.url, max: 8, registry: metrics.registry, monitorIntervalMs: 100, ...options });
    open.push(db);
    return { db, metrics };
  };
  after(async () => {
    for (const db of open) await db.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const { db } = connect();
  await db.query('CREATE TABLE ha_status (id int PRIMARY KEY, version int NOT NULL)');
  await db.query('INSERT INTO ha_status VALUES (1, 0)');

  test('a durable commit is already applied on the synchronous standby when COMMIT returns', async () => {
    const onStandby = new pg.Client({ connectionString: standby.url });
    await onStandby.connect();
    try {
      await db.query('CREATE TABLE ha_durable (id uuid PRIMARY KEY)');
      for (let i = 0; i < 30; i++) {
        const id = randomUUID();
        await db.transaction((tx) => tx.query('INSERT INTO ha_durable VALUES ($1)', [id]), { durable: true });
        const { rowCount } = await onStandby.query('SELECT 1 FROM ha_durable WHERE id = $1', [id]);
        assert.equal(rowCount, 1, `durable write ${i} not yet visible on the standby`);
      }
      const setting = await db.transaction(
        async (tx) => (await tx.query<{ v: string }>(`SELECT current_setting('synchronous_commit') AS v`)).rows[0]?.v,
        { durable: true },
      );
      assert.equal(setting, 'remote_apply');
    } finally {
      await onStandby.end();
    }
  });

  /** Bumps the status version every few ms until stopped; returns the last version written. */
  const writeLoop = (stop: { done: boolean }) =>
    (async () => {
      let v = 0;
      while (!stop.done) {
        v = (await db.query<{ version: number }>('UPDATE ha_status SET version = version + 1 WHERE id = 1 RETURNING version')).rows[0]!.version;
        await sleep(10);
      }
      return v;
    })();

  test('replica lag is measured and exported; a replica past the threshold leaves the rotation', async () => {
    const tolerant = connect({ replicas: [replica.url], replicaMaxLagMs: 5_000 });
    const strict = connect({ replicas: [replica.url], replicaMaxLagMs: 50 });
    const stop = { done: false };
    const writing = writeLoop(stop);
    await sleep(APPLY_DELAY_MS * 3);
    const [t1, t2] = [await tolerant.db.refreshTopology(), await strict.db.refreshTopology()];
    stop.done = true;
    await writing;

    const lag = t1.replicas[0]?.lagSeconds ?? 0;
    assert.ok(lag >= (APPLY_DELAY_MS / 1000) * 0.5 && lag < 5, `lag ${lag}s should reflect the ${APPLY_DELAY_MS} ms apply delay`);
    assert.equal(t1.replicas[0]?.inRotation, true);
    assert.equal(t2.replicas[0]?.inRotation, false);
    assert.match(t2.replicas[0]?.reason ?? '', /exceeds 50 ms/);

    const onReplica = async (d: Database) =>
      (await d.reader().query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r;
    assert.equal(await onReplica(tolerant.db), true, 'lag-tolerant reads go to the replica');
    assert.equal(await onReplica(strict.db), false, 'a replica out of rotation is skipped for the primary');

    // After an idle spell, one commit leaves the replica milliseconds behind; the time since
    // its last replayed commit (the idle time) must not count as lag.
    await sleep(1_200);
    await db.query('UPDATE ha_status SET version = version + 1 WHERE id = 1');
    await sleep(120);
    const afterIdle = (await tolerant.db.refreshTopology()).replicas[0];
    assert.ok((afterIdle?.lagSeconds ?? 0) < 0.9, `lag after idle: ${afterIdle?.lagSeconds}s`);

    const text = await tolerant.metrics.registry.metrics();
    assert.match(text, new RegExp(`embudo_db_replica_lag_seconds\\{replica="127.0.0.1:${replica.port}"\\} [0-9.]+`));
    assert.match(text, new RegExp(`embudo_db_replica_in_rotation\\{replica="127.0.0.1:${replica.port}"\\} 1`));
    assert.match(await strict.metrics.registry.metrics(), /embudo_db_replica_in_rotation\{replica="[^"]+"\} 0/);
  });

  test('reads through a lagging replica never show a client a status older than one it saw', async () => {
    const { db: routed } = connect({ replicas: [replica.url], replicaMaxLagMs: 10_000 });
    await routed.refreshTopology();
    const version = async (tx: { query: Database['query'] }) =>
      (await tx.query<{ version: number; r: boolean }>('SELECT version, pg_is_in_recovery() AS r FROM ha_status WHERE id = 1')).rows[0]!;

    let seen = 0;
    let token: string | undefined;
    const served = { replica: 0, primary: 0 };
    let staleWithoutToken = 0;
    for (let round = 0; round < 6; round++) {
      // The client changes the status, then polls it carrying its position.
      const wrote = (await routed.query<{ version: number }>('UPDATE ha_status SET version = version + 1 WHERE id = 1 RETURNING version')).rows[0]!.version;
      token = await routed.position();
      seen = wrote;
      for (let poll = 0; poll < 12; poll++) {
        const { value, position }: { value: { version: number; r: boolean }; position: string } = await routed.consistentRead(version, {
          after: token,
        });
        assert.ok(value.version >= seen, `round ${round} poll ${poll}: saw ${value.version} after having seen ${seen}`);
        seen = value.version;
        token = position;
        served[value.r ? 'replica' : 'primary']++;
        // The same read without the token may be served stale by the lagging replica.
        if ((await version(routed.reader())).version < seen) staleWithoutToken++;
        await sleep(40);
      }
    }
    assert.ok(staleWithoutToken > 0, 'the replica really lagged (reads without the token were stale)');
    assert.ok(served.primary > 0 && served.replica > 0, `both servers served token reads: ${JSON.stringify(served)}`);
  });

  test('kill -9 of the primary under write load: no acknowledged write lost, service back after promotion', async () => {
    const report = await runFailoverDrill(cluster, { loadMs: 1_500, afterMs: 1_500, clients: 4 });
    process.stdout.write(`# failover: ${JSON.stringify(report)}\n`);
    assert.ok(report.acknowledgedBeforeKill > 20, 'load really ran before the kill');
    assert.equal(report.lostAcknowledged, 0, 'every acknowledged write is on the new primary');
    assert.equal(report.ordersWithoutEvent + report.eventsWithoutOrder, 0, 'no half-writes');
    assert.equal(report.relayedTwice + report.relayMissing, 0, 'the relay resumed: every event exactly once');
    assert.ok(report.unavailable > 0, 'requests during the outage were answered 503');
    assert.equal(report.unavailableWithoutRetryAfter, 0);
    assert.deepEqual(report.otherStatuses, {});
    assert.ok(report.recoveredAfterPromoteMs < 5_000, `served again ${report.recoveredAfterPromoteMs} ms after promotion`);
  });
}
