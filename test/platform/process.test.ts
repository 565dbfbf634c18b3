import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { freePort } from '../../src/platform/embedded-postgres.js';
import { freshDatabase } from '../support/db.js';
import { spawnEmbudo } from '../support/process.js';

const get = (url: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });

test('embudo start against DATABASE_URL answers, prints its URLs, and exits cleanly on SIGTERM', async () => {
  const { url } = await freshDatabase();
  const port = await freePort();
  const p = spawnEmbudo(['start'], { DATABASE_URL: url, PORT: String(port), EMBUDO_NO_SIM: '1' });
  await p.waitFor(/ready in \d+ ms/);
  assert.match(p.output(), new RegExp(`api\\s+http://127\\.0\\.0\\.1:${port}`));
  assert.match(p.output(), /docs\s+http:/);
  for (const route of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
    assert.equal((await get(`http://127.0.0.1:${port}${route}`)).status, 200, route);
  }
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0, p.output());
  await assert.rejects(get(`http://127.0.0.1:${port}/healthz`), /ECONNREFUSED/);
});

test('a bad configuration stops start-up with one line per bad variable', async () => {
  const p = spawnEmbudo(['start'], { PORT: 'abc', LOG_LEVEL: 'noisy' });
  assert.equal(await p.exited, 2);
  assert.match(p.output(), /PORT: /);
  assert.match(p.output(), /LOG_LEVEL: /);
});

test('embedded mode starts its own PostgreSQL under the data dir and stops it on SIGINT', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'embudo-data-'));
  chmodSync(dataDir, 0o755); // as root, the server runs as `postgres` and must enter it
  const port = await freePort();
  const env = { PORT: String(port), EMBUDO_DATA_DIR: dataDir, EMBUDO_NO_SIM: '1', DATABASE_URL: '' };
  const p = spawnEmbudo(['start'], env);
  await p.waitFor(/ready in \d+ ms/, 60_000);
  assert.match(p.output(), /embedded, data in/);
  const ready = await get(`http://127.0.0.1:${port}/readyz`);
  assert.equal(ready.status, 200, ready.body);
  // A first start seeds the demo catalogue, the cluster copied from the template or not.
  const categories = await get(`http://127.0.0.1:${port}/catalog/categories`);
  assert.match(categories.body, /despensa/);
  assert.ok(existsSync(path.join(dataDir, 'pg', 'PG_VERSION')));
  assert.ok(existsSync(path.join(dataDir, 'pg', 'postmaster.pid')));
  p.child.kill('SIGINT');
  assert.equal(await p.exited, 0, p.output());
  assert.equal(existsSync(path.join(dataDir, 'pg', 'postmaster.pid')), false, 'the embedded server was stopped');

  // A second start reuses the initialised cluster.
  const again = spawnEmbudo(['start'], env);
  await again.waitFor(/ready in \d+ ms/, 60_000);
  again.child.kill('SIGTERM');
  assert.equal(await again.exited, 0, again.output());
});

test('a first start serves before its demo history is written, then writes it and starts the workers', async () => {
  const { url } = await freshDatabase();
  const port = await freePort();
  const p = spawnEmbudo(['start'], { DATABASE_URL: url, PORT: String(port), SIM_PORT: String(await freePort()), EMBUDO_SEED: '1', EMBUDO_SEED_HISTORY_DAYS: '2', LOG_LEVEL: 'info' });
  await p.waitFor(/ready in \d+ ms/, 120_000);
  assert.equal((await get(`http://127.0.0.1:${port}/readyz`)).status, 200);
  await p.waitFor(/background seed done/, 120_000);
  const out = p.output();
  assert.ok(out.search(/demo history seeded/) > out.search(/ready in \d+ ms/), `the history is written after ready:\n${out.slice(-3000)}`);
  assert.match(out, /"orders":[1-9]/);
  assert.match(out, /"stopped":false/);
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0, p.output());
});
