import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startPlatform } from '../../src/main/platform.js';
import { KEY_FILE } from '../../src/payments/keyring.js';
import { freePort } from '../../src/platform/embedded-postgres.js';
import { freshDatabase } from '../support/db.js';
import { testConfig } from '../support/platform.js';
import { spawnEmbudo } from '../support/process.js';

const { url } = await freshDatabase();

test('the platform serves the payments routes and runs the janitor worker', async () => {
  const platform = await startPlatform(testConfig(url, { startSimulator: true, simPort: await freePort() }), { role: 'all', listen: false });
  try {
    const payments = platform.contexts.find((c) => c.name === 'payments');
    assert.ok(payments);
    assert.deepEqual(payments.workers?.map((w) => w.name), ['payments-janitor', 'payments-fraud-prune']);
    const res = await platform.app.inject({ method: 'GET', url: '/payments/attempts/6f1c2a9e-0000-4000-8000-000000000000' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json<{ code: string }>().code, 'attempt_not_found');
    const hook = await platform.app.inject({ method: 'POST', url: '/webhooks/mercadopago?data.id=1&type=payment', payload: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(hook.statusCode, 401);
    const spec = (await platform.app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    assert.ok(spec.paths['/payments/webpay/return']);
  } finally {
    await platform.stop();
  }
});

test('`embudo payments rotate-kek` (file mode) creates a new current key and rewraps', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'embudo-rotate-'));
  const p = spawnEmbudo(['payments', 'rotate-kek'], { DATABASE_URL: url, EMBUDO_DATA_DIR: dataDir, EMBUDO_NO_SIM: '1' });
  await p.waitFor(/current key k-[0-9a-f]{12}: rewrapped 0 saved card key\(s\)/);
  assert.equal(await p.exited, 0);
  assert.ok(existsSync(path.join(dataDir, KEY_FILE)));
});
