// Backends killed under load (a failover, an operator's pg_terminate_backend): requests fail
// with `unavailable` and the handle recovers by itself; nothing crashes the process. A
// termination read in the same packet as a new connection's ReadyForQuery reached the client
// after the pool took its idle listener off and before the borrower put its own on: an
// 'error' event with no listener, which ends a Node process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { createDatabase } from '../../src/platform/db.js';
import { isAppError } from '../../src/platform/errors.js';
import { freshDatabase } from '../support/db.js';

const { url } = await freshDatabase();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('backends terminated again and again under load: requests fail as unavailable, the process lives, service resumes', async () => {
  const db = createDatabase({ connectionString: url, max: 8 });
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    let stop = false;
    const seen = { ok: 0, unavailable: 0, other: [] as string[] };
    const worker = async () => {
      while (!stop) {
        try {
          if (seen.ok % 2 === 0) await db.query('SELECT 1');
          else await db.transaction(async (tx) => {
            await tx.query('SELECT 1');
            await tx.query('SELECT 2');
          });
          seen.ok++;
        } catch (err) {
          if (isAppError(err) && err.kind === 'unavailable') seen.unavailable++;
          else seen.other.push(String(err));
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    for (let i = 0; i < 100; i++) {
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
      await sleep(i % 3);
    }
    stop = true;
    await Promise.all(workers);
    assert.ok(seen.unavailable > 0, JSON.stringify(seen));
    assert.deepEqual(seen.other, []);
    // Once the terminations stop, the same handle serves again without a restart.
    assert.equal((await db.query<{ n: number }>('SELECT 41 + 1 AS n')).rows[0]?.n, 42);
  } finally {
    await admin.end();
    await db.close();
  }
});
