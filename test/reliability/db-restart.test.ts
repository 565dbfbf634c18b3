// Database restart under load: while PostgreSQL is down every request fails cleanly (503 with
// Retry-After, never another 5xx), nothing is half-written, and service resumes by itself.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { after } from 'node:test';
import { createDatabase } from '../../src/platform/db.js';
import { ensureDatabase } from '../../src/platform/database-server.js';
import { startEmbeddedPostgres, withDatabase } from '../../src/platform/embedded-postgres.js';
import { migrate } from '../../src/platform/migrations.js';
import { runLive } from '../../src/simulate/index.js';
import { eventually, fastForward, invariantViolations, SHORT, startStack } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('PostgreSQL restarted under load: clean 503 + Retry-After, then service resumes on its own', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'embudo-reliability-pg-'));
  // As root the embedded server runs as `postgres`, which must be able to enter the directory.
  chmodSync(dir, 0o755);
  let server = await startEmbeddedPostgres({ dir: path.join(dir, 'pg') });
  const port = server.port;
  after(async () => {
    await server.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  await ensureDatabase(server.url, 'embudo');
  const url = withDatabase(server.url, 'embudo');
  const db = createDatabase({ connectionString: url, max: 4 });
  after(() => db.close());
  await migrate(db);
  const stack = await startStack(url, { DATABASE_CONNECT_TIMEOUT_MS: '1000' });

  const acknowledged: string[] = [];
  const without: string[] = [];
  const controller = new AbortController();
  const load = runLive({
    baseUrl: stack.url, simUrl: stack.simUrl, seed: 'db-restart', rate: SHORT ? 5 : 10, durationMs: 3_600_000, flat: true,
    browsePerOrder: 1, customerCount: 30, onOrder: (o) => acknowledged.push(o.orderId), signal: controller.signal,
    onResponse: (status, headers) => {
      if ((status === 503 || status === 429) && !headers.get('retry-after')) without.push(String(status));
    },
  });
  await eventually(() => acknowledged.length >= 3, 90_000);
  const beforeOutage = acknowledged.length;
  await server.stop();
  await sleep(SHORT ? 3_000 : 10_000);
  // During the outage the platform answers, and says it is not ready.
  const ready = await fetch(`${stack.url}/readyz`);
  assert.equal(ready.status, 503);
  await ready.text();
  server = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), port });
  const resumed = acknowledged.length;
  await eventually(() => acknowledged.length >= resumed + 3, 90_000);
  await sleep(SHORT ? 1_000 : 15_000);
  controller.abort();
  const result = await load;

  assert.ok(beforeOutage > 0, 'orders before the outage');
  assert.ok(acknowledged.length > resumed, `orders again after PostgreSQL came back: ${JSON.stringify(result)}`);
  assert.ok((result.statuses['503'] ?? 0) + result.networkErrors > 0, `the outage was felt: ${JSON.stringify(result.statuses)}`);
  const fiveHundreds = Object.entries(result.statuses).filter(([s]) => Number(s) >= 500 && s !== '503');
  assert.deepEqual(fiveHundreds, [], `only 503 during the outage: ${JSON.stringify(result.statuses)}`);
  assert.deepEqual(without, [], '503s carry Retry-After');
  assert.ok(result.retried > 0, `shoppers sent requests again after Retry-After (same Idempotency-Key): ${JSON.stringify(result)}`);
  await stack.stop();
  await fastForward(db, url, stack);
  assert.deepEqual(await invariantViolations(db, acknowledged), []);
});
