import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPlatform } from '../../src/main/platform.js';
import { freePort } from '../../src/platform/embedded-postgres.js';
import { freshDatabase } from '../support/db.js';
import { testConfig } from '../support/platform.js';
import { spawnEmbudo } from '../support/process.js';
import { webpay } from './support.js';

const { url } = await freshDatabase();

test("startPlatform (role 'all') starts the simulator with generated MP credentials and lists its URL", async () => {
  const simPort = await freePort();
  const platform = await startPlatform(testConfig(url, { startSimulator: true, simPort }), { role: 'all' });
  try {
    const sim = platform.simulator;
    assert.ok(sim);
    assert.equal(sim.url, `http://127.0.0.1:${simPort}`);
    assert.equal(platform.urls.processorSim, `${sim.url}/sim`);
    assert.match(sim.mpAccessToken, /^TEST-[0-9a-f]{16}-[0-9a-f]{32}$/);
    assert.match(sim.mpWebhookSecret, /^[0-9a-f]{64}$/);
    const withToken = await fetch(`${sim.url}/v1/payments/1`, { headers: { authorization: `Bearer ${sim.mpAccessToken}` } });
    assert.equal(withToken.status, 404);
    assert.equal((await fetch(`${sim.url}/v1/payments/1`)).status, 401);
    const created = (await webpay(sim.url).create('wired-1', 's', 1000, 'http://shop.test/r')) as { token: string };
    assert.match(created.token, /^[0-9a-f]{64}$/);
  } finally {
    await platform.stop();
  }
  // Each start makes new credentials: never constants.
  const again = await startPlatform(testConfig(url, { startSimulator: true, simPort }), { role: 'all' });
  try {
    assert.ok(again.simulator);
  } finally {
    await again.stop();
  }
});

test('startPlatform does not start the simulator when EMBUDO_NO_SIM is set', async () => {
  const platform = await startPlatform(testConfig(url), { role: 'all' });
  try {
    assert.equal(platform.simulator, undefined);
    assert.equal(platform.urls.processorSim, undefined);
  } finally {
    await platform.stop();
  }
});

test('`embudo processor-sim` runs the simulator alone and stops on SIGTERM', async () => {
  const simPort = await freePort();
  const p = spawnEmbudo(['processor-sim'], { DATABASE_URL: url, SIM_PORT: String(simPort), MP_ACCESS_TOKEN: 'TEST-from-env', MP_WEBHOOK_SECRET: 'secret-from-env' });
  await p.waitFor(/Processor simulator ready \(durable\)/);
  assert.match(p.output(), /MP_ACCESS_TOKEN=TEST-from-env/);
  const created = (await webpay(`http://127.0.0.1:${simPort}`).create('cli-1', 's', 1000, 'http://shop.test/r')) as { token: string };
  assert.match(created.token, /^[0-9a-f]{64}$/);
  const mp = await fetch(`http://127.0.0.1:${simPort}/v1/payments/1`, { headers: { authorization: 'Bearer TEST-from-env' } });
  assert.equal(mp.status, 404);
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0);
});
