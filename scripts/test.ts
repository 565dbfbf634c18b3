// `npm test`: runs every test file with node's test runner against a real PostgreSQL.
// TEST_DATABASE_URL names a server to use; otherwise an embedded PostgreSQL is started for
// the run. Either way one template database is migrated once and each test file gets a
// fresh copy (CREATE DATABASE ... TEMPLATE), as Immich does.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createDatabase } from '../src/platform/db.js';
import { startEmbeddedPostgres, withDatabase } from '../src/platform/embedded-postgres.js';
import { migrate } from '../src/platform/migrations.js';

const root = path.resolve(import.meta.dirname, '..');

function findTests(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) findTests(full, out);
    else if (entry.endsWith('.test.ts')) out.push(path.relative(root, full));
  }
  return out;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  // A directory argument stands for the test files under it.
  const expand = (arg: string) => (statSync(path.resolve(root, arg)).isDirectory() ? findTests(path.resolve(root, arg)) : [arg]);
  const files = args.length > 0 ? args.flatMap(expand) : [...findTests(path.join(root, 'src')), ...findTests(path.join(root, 'test'))].sort();
  // The reliability suite runs through its own script (npm run test:reliability).
  const selected = args.length > 0 ? files : files.filter((f) => !f.startsWith('test/reliability/'));

  let adminUrl = process.env.TEST_DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!adminUrl) {
    const server = await startEmbeddedPostgres({ dir: path.join(root, '.test-data', 'pg') });
    adminUrl = server.url;
    stopEmbedded = () => server.stop();
    process.stdout.write(`# embedded PostgreSQL for tests on port ${server.port}\n`);
  }

  const template = `embudo_tpl_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${template}`);
  const tdb = createDatabase({ connectionString: withDatabase(adminUrl, template), max: 2 });
  await migrate(tdb);
  await tdb.close();

  // The reliability suite kills processes and measures latencies: one file at a time, longer limit.
  const reliability = selected.some((f) => f.startsWith('test/reliability'));
  const concurrency = reliability ? 1 : Math.max(2, os.availableParallelism());
  const code = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, `--test-timeout=${reliability ? 900_000 : 300_000}`,
        // TAP as before, then one summary line: `N passed, N failed`.
        '--test-reporter=tap', '--test-reporter-destination=stdout',
        `--test-reporter=${path.join(root, 'scripts/summary-reporter.mjs')}`, '--test-reporter-destination=stdout',
        ...selected,
      ],
      {
        cwd: root,
        stdio: 'inherit',
        env: { ...process.env, EMBUDO_TEST_ADMIN_URL: adminUrl, EMBUDO_TEST_TEMPLATE: template },
      },
    );
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });

  // Drop the template and any database a test file left behind (crashed, or still in use when
  // its file dropped what it could: see freshDatabase).
  const { rows } = await admin.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2`,
    [template, `${template}_%`],
  );
  for (const { datname } of rows) {
    await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(datname)} WITH (FORCE)`).catch(() => undefined);
  }
  await admin.end();
  await stopEmbedded?.();
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
