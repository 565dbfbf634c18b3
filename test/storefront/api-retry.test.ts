// The shop's API client (web/shop/api.js) under overload: a 503 with Retry-After is sent
// again with the same Idempotency-Key, a bounded number of times; without Retry-After, or
// once the retries are spent, the shopper gets the error and its code.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';

interface ApiErrorLike { status: number; code: string }
const { api } = (await import(pathToFileURL(path.resolve(import.meta.dirname, '../../web/shop/api.js')).href)) as {
  api: (path: string, options?: { method?: string; body?: unknown; key?: string; timeoutMs?: number }) => Promise<unknown>;
};

/** What the next requests are answered: a 503 (with Retry-After when given) or, when empty, 201. */
let plan: { retryAfter?: string }[] = [];
const seen: { key: string | undefined; body: string }[] = [];
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    seen.push({ key: req.headers['idempotency-key'] as string | undefined, body });
    const next = plan.shift();
    if (next) {
      res.writeHead(503, { 'content-type': 'application/json', ...(next.retryAfter !== undefined ? { 'retry-after': next.retryAfter } : {}) });
      res.end(JSON.stringify({ code: 'overloaded', message: 'the platform is at capacity; retry shortly', request_id: 'x' }));
      return;
    }
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'cart-1' }));
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const address = server.address();
const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/carts`;
after(() => server.close());

const reset = (p: typeof plan) => {
  plan = p;
  seen.length = 0;
};

test('a 503 with Retry-After is sent again with the same key and body, and the answer comes through', async () => {
  reset([{ retryAfter: '0' }, { retryAfter: '0' }]);
  assert.deepEqual(await api(url, { method: 'POST', body: { a: 1 } }), { id: 'cart-1' });
  assert.equal(seen.length, 3);
  assert.ok(seen[0]?.key);
  assert.deepEqual(new Set(seen.map((s) => s.key)).size, 1, 'one idempotency key for every try');
  assert.deepEqual(seen.map((s) => s.body), ['{"a":1}', '{"a":1}', '{"a":1}']);
});

test('the retries are bounded: the shopper gets the overloaded error', async () => {
  reset([{ retryAfter: '0' }, { retryAfter: '0' }, { retryAfter: '0' }, { retryAfter: '0' }]);
  await assert.rejects(api(url, { method: 'POST', body: {} }), (err: ApiErrorLike) => err.status === 503 && err.code === 'overloaded');
  assert.equal(seen.length, 3);
});

test('no retry without Retry-After, nor when it asks for too long or past the time-out', async () => {
  reset([{}]);
  await assert.rejects(api(url, { method: 'POST', body: {} }), (err: ApiErrorLike) => err.code === 'overloaded');
  assert.equal(seen.length, 1);
  reset([{ retryAfter: '30' }]);
  await assert.rejects(api(url, { method: 'POST', body: {} }), (err: ApiErrorLike) => err.code === 'overloaded');
  assert.equal(seen.length, 1);
  reset([{ retryAfter: '1' }]);
  await assert.rejects(api(url, { method: 'POST', body: {}, timeoutMs: 500 }), (err: ApiErrorLike) => err.code === 'overloaded');
  assert.equal(seen.length, 1);
});

test('a 503 with Retry-After: 1 waits about a second before the next try', async () => {
  reset([{ retryAfter: '1' }]);
  const t0 = Date.now();
  await api(url, { method: 'POST', body: {} });
  assert.equal(seen.length, 2);
  assert.ok(Date.now() - t0 >= 950, `waited ${Date.now() - t0} ms`);
});
