import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wakeableLoop, type Next } from '../../src/events/loop.js';
import { createLogger } from '../../src/platform/log.js';
import { sleep, waitFor } from './support.js';

const logger = createLogger('silent');

test('wakeIfBlocked cuts short a blocked re-poll only; a backoff or an idle wait stays as it is', async () => {
  for (const [wait, expectRun] of [
    [{ inMs: 60_000, blocked: true }, true],
    [{ inMs: 60_000 }, false],
    ['idle', false],
  ] as [Next, boolean][]) {
    let runs = 0;
    const loop = wakeableLoop('probe', 60_000, logger, async () => {
      runs++;
      return wait;
    });
    loop.start();
    try {
      await waitFor(() => runs === 1, 5_000, 'the first iteration');
      loop.wakeIfBlocked();
      if (expectRun) await waitFor(() => runs === 2, 5_000, 'the blocked loop to re-read');
      else {
        await sleep(100);
        assert.equal(runs, 1, `${JSON.stringify(wait)} must not be cut short`);
      }
    } finally {
      await loop.stop();
    }
  }
});

test('wakeIfBlocked during an iteration that ends blocked runs the next one at once', async () => {
  let runs = 0;
  let release: () => void = () => undefined;
  const loop = wakeableLoop('probe', 60_000, logger, async () => {
    runs++;
    if (runs === 1) await new Promise<void>((r) => (release = r));
    return { inMs: 60_000, blocked: true };
  });
  loop.start();
  try {
    await waitFor(() => runs === 1, 5_000, 'the first iteration');
    loop.wakeIfBlocked(); // the blocking transaction ended while the read was under way
    release();
    await waitFor(() => runs === 2, 5_000, 'the re-read');
  } finally {
    await loop.stop();
  }
});
