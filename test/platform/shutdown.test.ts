import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { startPlatform } from '../../src/main/platform.js';
import { freshDatabase } from '../support/db.js';
import { testConfig } from '../support/platform.js';

test('stop() lets an in-flight request finish, then refuses new ones and closes the pool', async () => {
  const { url } = await freshDatabase();
  const platform = await startPlatform(testConfig(url), {
    role: 'all',
    modules: [
      (app) => {
        app.get('/slow', async () => {
          await new Promise((r) => setTimeout(r, 300));
          return { done: true };
        });
      },
    ],
  });
  const address = platform.app.server.address();
  assert.ok(address && typeof address === 'object');
  const base = `http://127.0.0.1:${address.port}`;

  const inflight = new Promise<{ status: number; body: string }>((resolve, reject) => {
    http.get(`${base}/slow`, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
  await new Promise((r) => setTimeout(r, 50));
  const stopped = platform.stop();
  const res = await inflight;
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body), { done: true });
  await stopped;
  assert.equal(platform.database.db.pool.totalCount, 0);
  await assert.rejects(fetch(`${base}/healthz`));
});
