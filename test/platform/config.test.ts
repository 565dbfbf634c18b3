import assert from 'node:assert/strict';
import { test } from 'node:test';
import tbk from 'transbank-sdk';
import { ConfigError, loadConfig, TBK_INTEGRATION } from '../../src/platform/config.js';

test('defaults give the embedded mode', () => {
  const c = loadConfig({});
  assert.equal(c.port, 3000);
  assert.equal(c.databaseUrl, undefined);
  assert.equal(c.natsUrl, undefined);
  assert.match(c.dataDir, /\/data$/);
  assert.equal(c.simPort, 3100);
  assert.equal(c.httpMaxInFlight, 1024);
  assert.equal(c.heapGrowingPercent, 30);
});

test('admission control and the heap growing factor can be turned off', () => {
  const c = loadConfig({ EMBUDO_HTTP_MAX_IN_FLIGHT: '0', EMBUDO_HEAP_GROWING_PERCENT: '0' });
  assert.equal(c.httpMaxInFlight, undefined);
  assert.equal(c.heapGrowingPercent, 0);
  assert.equal(loadConfig({ EMBUDO_HTTP_MAX_IN_FLIGHT: '64' }).httpMaxInFlight, 64);
  assert.throws(() => loadConfig({ EMBUDO_HTTP_MAX_IN_FLIGHT: '-1' }), ConfigError);
});

test('reads the conventional variables', () => {
  const c = loadConfig({ PORT: '8080', DATABASE_URL: 'postgres://u@h:5432/db', NATS_URL: 'nats://127.0.0.1:4222', EMBUDO_DATA_DIR: '/tmp/x' });
  assert.equal(c.port, 8080);
  assert.equal(c.databaseUrl, 'postgres://u@h:5432/db');
  assert.equal(c.natsUrl, 'nats://127.0.0.1:4222');
  assert.equal(c.dataDir, '/tmp/x');
});

test('every bad value is named at once with its own message', () => {
  try {
    loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', NATS_URL: 'http://x' });
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    const vars = err.problems.map((p) => p.variable).sort();
    assert.deepEqual(vars, ['DATABASE_URL', 'LOG_LEVEL', 'NATS_URL', 'PORT']);
    assert.match(err.message, /PORT: .*eighty/);
    assert.match(err.message, /DATABASE_URL: must be a URL starting with postgres:\/\//);
  }
});

test('a URL value is never echoed (it may carry a password)', () => {
  assert.throws(
    () => loadConfig({ DATABASE_URL: 'mysql://user:hunter2@h/db' }),
    (err: unknown) => err instanceof ConfigError && !err.message.includes('hunter2'),
  );
});

test('port out of range is rejected', () => {
  assert.throws(() => loadConfig({ PORT: '70000' }), ConfigError);
  assert.throws(() => loadConfig({ SIM_PORT: '-1' }), ConfigError);
});

test("the inlined Transbank integration credentials are the SDK's", () => {
  const codes = tbk.IntegrationCommerceCodes;
  assert.deepEqual(TBK_INTEGRATION, {
    webpayPlus: codes.WEBPAY_PLUS,
    webpayPlusMall: codes.WEBPAY_PLUS_MALL,
    oneclickMall: codes.ONECLICK_MALL,
    oneclickMallChild1: codes.ONECLICK_MALL_CHILD1,
    apiKey: tbk.IntegrationApiKeys.WEBPAY,
  });
  const c = loadConfig({});
  assert.equal(c.payments.tbkCommerceCode, codes.WEBPAY_PLUS);
  assert.equal(c.payments.tbkApiKey, tbk.IntegrationApiKeys.WEBPAY);
  assert.equal(loadConfig({ TBK_MALL_CHILD_CODE: '597055555536' }).payments.tbkCommerceCode, codes.WEBPAY_PLUS_MALL);
});
