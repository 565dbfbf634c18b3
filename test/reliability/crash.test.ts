// Crash: kill -9 the platform at random moments under live load, restart it, let the janitor
// and the consumers finish, then check every invariant — the warehouse included: the platform
// streams into it while it is killed, and `embudo etl run` completes it afterwards.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { after } from 'node:test';
import { createRng, runLive } from '../../src/simulate/index.js';
import { freshDatabase } from '../support/db.js';
import { spawnEmbudo } from '../support/process.js';
import { eventually, fastForward, invariantViolations, SHORT, startStack } from './support.js';
import { warehouseViolations } from './warehouse-violations.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('kill -9 under load loses no acknowledged order, charges nobody twice, keeps stock and ledger, and the warehouse has every change once', async (t) => {
  const { db, url } = await freshDatabase();
  // Its own data directory: the warehouse holds this run's events only.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'embudo-crash-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const stack = await startStack(url, { EMBUDO_DATA_DIR: dataDir });
  const acknowledged: string[] = [];
  const controller = new AbortController();
  const rng = createRng(`crash-${process.env.EMBUDO_RELIABILITY_SEED ?? '1'}`);
  const load = runLive({
    baseUrl: stack.url, simUrl: stack.simUrl, seed: 'crash', rate: SHORT ? 6 : 15, durationMs: 3_600_000, flat: true,
    browsePerOrder: 0.5, customerCount: 40, onOrder: (o) => acknowledged.push(o.orderId), signal: controller.signal,
  });
  const kills = SHORT ? 2 : 6;
  let servedAfterRestart = 0;
  await eventually(() => acknowledged.length >= 2, 90_000);
  for (let k = 0; k < kills; k++) {
    // A random moment once orders are flowing: mid-checkout, mid-payment, mid-commit.
    await sleep(rng.int(500, 4_000));
    await stack.kill();
    await sleep(rng.int(100, 1_500));
    await stack.start();
    const before = acknowledged.length;
    servedAfterRestart += (await eventually(() => acknowledged.length > before, 90_000)) ? 1 : 0;
  }
  controller.abort();
  const result = await load;
  await stack.stop();
  await fastForward(db, url, stack);

  assert.ok(acknowledged.length >= 10, `load got through: ${JSON.stringify(result)}`);
  assert.ok(servedAfterRestart >= 1, 'the platform took orders again after a restart');
  assert.deepEqual(await invariantViolations(db, acknowledged), []);
  const fiveHundreds = Object.entries(result.statuses).filter(([s]) => Number(s) >= 500 && s !== '503');
  assert.deepEqual(fiveHundreds, [], `no 5xx other than 503: ${JSON.stringify(result.statuses)}`);

  // The ETL as operators run it (`embudo etl run`: land what the consumer has not, load past
  // the high-water mark), over the warehouse the killed platform was streaming into.
  const t0 = performance.now();
  const etl = spawnEmbudo(['etl', 'run'], stack.env);
  assert.equal(await etl.exited, 0, `embudo etl run failed:\n${etl.output()}`);
  const t1 = performance.now();
  assert.deepEqual(await warehouseViolations(db, dataDir), [], 'the warehouse holds every committed change exactly once');
  t.diagnostic(`etl run ${Math.round(t1 - t0)} ms (${etl.output().trim().split('\n').join('; ')}), warehouse check ${Math.round(performance.now() - t1)} ms`);
});
