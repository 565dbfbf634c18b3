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
  after(async () => {
    await db.close();
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });
  return { db, url, name };
}
