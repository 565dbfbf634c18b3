import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createHttpApp } from '../../src/platform/http.js';
import { createLogger } from '../../src/platform/log.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { staticFiles } from '../../src/platform/static.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'web-'));
mkdirSync(path.join(dir, 'assets'));
writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>shop</title>');
writeFileSync(path.join(dir, 'assets', 'app.js'), 'console.log(1)');
writeFileSync(path.join(os.tmpdir(), 'secret.txt'), 'do not serve');

const app = await createHttpApp({
  logger: createLogger('silent'),
  metrics: createMetrics(),
  readiness: {},
  modules: [staticFiles({ prefix: '/shop', dir, spa: true })],
});

test('serves the index, assets with their type, and client routes', async () => {
  const index = await app.inject('/shop');
  assert.equal(index.statusCode, 200);
  assert.match(index.headers['content-type'] as string, /text\/html/);
  const js = await app.inject('/shop/assets/app.js');
  assert.equal(js.statusCode, 200);
  assert.match(js.headers['content-type'] as string, /javascript/);
  const route = await app.inject('/shop/orders/123');
  assert.equal(route.statusCode, 200);
  assert.match(route.body, /<title>shop/);
});

test('answers 304 to a matching ETag', async () => {
  const first = await app.inject('/shop/assets/app.js');
  const again = await app.inject({ url: '/shop/assets/app.js', headers: { 'if-none-match': first.headers.etag as string } });
  assert.equal(again.statusCode, 304);
});

test('never serves files outside its folder', async () => {
  for (const url of ['/shop/../secret.txt', '/shop/%2e%2e/secret.txt', '/shop/assets/..%2f..%2fsecret.txt']) {
    const res = await app.inject(url);
    assert.notEqual(res.statusCode, 200, url);
    assert.doesNotMatch(res.body, /do not serve/);
  }
  assert.equal((await app.inject('/shop/missing.css')).statusCode, 404);
});
