import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import pg from 'pg';
import { createDatabase, type Database } from '../../src/platform/db.js';
import { withDatabase } from '../../src/platform/embedded-postgres.js';

export interface TestDatabase {
  db: Database;
  url: string;
  name: string;
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests through \`npm test\``);
  return value;
}

/** The admin URL of the test server (for tests that need a second database or raw access). */
export function testAdminUrl(): string {
  return env('EMBUDO_TEST_ADMIN_URL');
}

/**
 * A fresh, migrated database for one test file, copied from the run's template; dropped when
 * the file's tests end.
 *
 * @example
 * const { db } = await freshDatabase();
 */
export async function freshDatabase(options: { poolSize?: number } = {}): Promise<TestDatabase> {
  const adminUrl = env('EMBUDO_TEST_ADMIN_URL');
  const template = env('EMBUDO_TEST_TEMPLATE');
  const name = `${template}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  const db = createDatabase({ connectionString: url, max: options.poolSize ?? 10 });
  // node:test runs a file's `after` hooks in the order they were registered, so this one runs
  // before the hooks that stop what the file started on the database (a platform, a bus). The
  // database is dropped here only if nothing is connected to it any more: dropping it under a
  // running platform cut its connections mid-work, so its stop met a failover instead of a
  // database. What is left is dropped at the end of the run (scripts/test.ts).
  after(async () => {
    await db.close();
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
      // Without FORCE: a connection opened since the count makes it fail, and the run's end drops it.
      if (rows[0]?.n === 0) await c.query(`DROP DATABASE IF EXISTS ${name}`).catch(() => undefined);
    } finally {
      await c.end();
    }
  });
  return { db, url, name };
}
