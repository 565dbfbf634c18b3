// Peak: a CyberDay burst at 5× the sustained rate → only explicit 429/503 back-pressure, p99
// within twice its normal value once the burst is over, and every invariant.
import assert from 'node:assert/strict';
import test from 'node:test';
import { runLive, type LiveResult } from '../../src/simulate/index.js';
import { freshDatabase } from '../support/db.js';
import { fastForward, invariantViolations, SHORT, startStack } from './support.js';

test('a 5× burst gets only 429/503 back-pressure and the platform recovers', async () => {
  const { db, url } = await freshDatabase();
  const stack = await startStack(url);
  const rate = SHORT ? 4 : 10;
  const acknowledged: string[] = [];
  const phase = (r: number, seconds: number, seed: string): Promise<LiveResult> => runLive({
    baseUrl: stack.url, simUrl: stack.simUrl, seed, rate: r, durationMs: seconds * 1000, flat: true,
    browsePerOrder: 1, customerCount: 60, onOrder: (o) => acknowledged.push(o.orderId),
  });
  const before = await phase(rate, SHORT ? 10 : 30, 'peak-before');
  const burst = await phase(rate * 5, SHORT ? 15 : 60, 'peak-burst');
  const afterwards = await phase(rate, SHORT ? 10 : 30, 'peak-after');
  const log = JSON.stringify({ before, burst, afterwards });
  for (const r of [before, burst, afterwards]) {
    const bad = Object.keys(r.statuses).filter((s) => Number(s) >= 500 && s !== '503');
    assert.deepEqual(bad, [], `only explicit back-pressure: ${log}`);
    assert.equal(r.networkErrors, 0, `no refused or reset connections (client time-outs apart): ${log}`);
  }
  assert.ok(afterwards.orders > 0 && (afterwards.statuses['201'] ?? 0) > 0, `full recovery: ${log}`);
  // Twice the normal p99, with a floor for a shared 2-core machine's jitter.
  assert.ok(afterwards.p99 <= Math.max(2 * before.p99, before.p99 + 250), `p99 back to normal: ${log}`);
  process.stdout.write(`# peak ${JSON.stringify({ rate, before: [before.p50, before.p99], burst: [burst.p50, burst.p99, burst.statuses], after: [afterwards.p50, afterwards.p99] })}\n`);
  await stack.stop();
  await fastForward(db, url, stack);
  assert.deepEqual(await invariantViolations(db, acknowledged), []);
});
