// A sweeper in its own process (spawned by expiry.test.ts): waits for "go" on stdin, then
// expires due reservations as of SWEEP_NOW until none are left and prints how many it expired.
import { createInventory } from '../../src/inventory/index.js';
import { manualClock } from '../../src/platform/clock.js';
import { createDatabase } from '../../src/platform/db.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetrics } from '../../src/platform/metrics.js';

const db = createDatabase({ connectionString: process.env.SWEEP_DATABASE_URL ?? '', max: 2 });
const inventory = createInventory({
  db,
  logger: createLogger('warn'),
  metrics: createMetrics(),
  clock: manualClock(new Date(process.env.SWEEP_NOW ?? '')),
});
process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
let total = 0;
for (;;) {
  const n = await inventory.expireDue(5);
  total += n;
  if (n === 0) break;
}
process.stdout.write(`expired ${total}\n`);
await db.close();
