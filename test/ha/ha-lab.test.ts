// `embudo ha-lab` as a real process: prints a working DATABASE_URL for a primary with a
// synchronous standby, and stops its servers on SIGTERM. Registers only where PostgreSQL's
// server binaries are installed.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { findPostgresBinDir } from '../../src/main/ha-cluster.js';
import { createDatabase } from '../../src/platform/db.js';
import { spawnEmbudo } from '../support/process.js';

if (findPostgresBinDir()) {
  test('embudo ha-lab starts a primary and a synchronous standby, and stops them on SIGTERM', async () => {
    const dir = path.join(os.tmpdir(), `embudo-ha-lab-${process.pid}`);
    const lab = spawnEmbudo(['ha-lab', '--dir', dir, '--replica'], {});
    try {
      const [, url] = await lab.waitFor(/DATABASE_URL='([^']+)'/, 60_000);
      const [, replicaUrl] = await lab.waitFor(/DATABASE_REPLICA_URLS='([^']+)'/);
      assert.match(url!, /^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\/embudo\?target_session_attrs=read-write$/);

      const db = createDatabase({ connectionString: url!, replicas: [replicaUrl!] });
      try {
        const { rows } = await db.query<{ application_name: string; sync_state: string }>(
          'SELECT application_name, sync_state FROM pg_stat_replication ORDER BY application_name',
        );
        assert.deepEqual(rows, [
          { application_name: 'replica1', sync_state: 'async' },
          { application_name: 'standby1', sync_state: 'sync' },
        ]);
        assert.equal((await db.refreshTopology()).replicas[0]?.inRotation, true);
      } finally {
        await db.close();
      }

      lab.child.kill('SIGTERM');
      assert.equal(await lab.exited, 0);
      const probe = new pg.Client({ connectionString: `${url!.split(',')[0]}/embudo` });
      await assert.rejects(probe.connect(), /ECONNREFUSED/);
    } finally {
      if (lab.child.exitCode === null) lab.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
