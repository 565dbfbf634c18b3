// Admission control: beyond maxInFlight requests being served, new ones get 503 `overloaded`
// with Retry-After at once; session-starting routes are refused from half of it; payment
// returns and health checks never.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ADMIT, createHttpApp, type HttpModule } from '../../src/platform/http.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { capturingLogger } from '../support/platform.js';

/** Requests held open until released (each `GET /slow` waits for the next `release()`). */
const held: (() => void)[] = [];
const release = () => {
  for (const r of held.splice(0)) r();
};
const started: string[] = [];
const routes: HttpModule = (app) => {
  app.get('/slow', async () => {
    started.push('slow');
    await new Promise<void>((r) => held.push(r));
    return { ok: true };
  });
  app.get('/fast', async () => ({ ok: true }));
  app.post('/begin', { config: ADMIT.begins }, async () => ({ begun: true }));
  app.post('/finish', { config: ADMIT.always }, async () => ({ finished: true }));
};

const metrics = createMetrics();
const app = await createHttpApp({ logger: capturingLogger().logger, metrics, readiness: {}, modules: [routes], maxInFlight: 4 });
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
after(async () => {
  release();
  await app.close();
});

const waitFor = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), 'condition not reached');
};

test('beyond the limit a request gets 503 overloaded with Retry-After; health, readiness and payment returns still pass; it recovers', async () => {
  const slow = Array.from({ length: 4 }, () => fetch(`${base}/slow`));
  await waitFor(() => started.length === 4);

  const refused = await fetch(`${base}/fast`);
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get('retry-after'), '1');
  const body = (await refused.json()) as { code: string; details?: { retryAfterSeconds?: number } };
  assert.equal(body.code, 'overloaded');
  assert.equal(body.details?.retryAfterSeconds, 1);
  assert.equal((await fetch(`${base}/begin`, { method: 'POST' })).status, 503);

  assert.equal((await fetch(`${base}/finish`, { method: 'POST' })).status, 200);
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  assert.equal((await fetch(`${base}/metrics`)).status, 200);

  release();
  for (const r of await Promise.all(slow)) assert.equal(r.status, 200);
  assert.equal((await fetch(`${base}/fast`)).status, 200);
  const text = await (await fetch(`${base}/metrics`)).text();
  assert.match(text, /embudo_http_shed_total\{route="\/fast"\} 1\b/);
  assert.match(text, /embudo_http_shed_total\{route="\/begin"\} 1\b/);
  assert.match(text, /embudo_http_in_flight 0\b/);
});

test('session-starting routes are refused from half the limit, the others still served', async () => {
  started.length = 0;
  const slow = Array.from({ length: 2 }, () => fetch(`${base}/slow`));
  await waitFor(() => started.length === 2);
  const begin = await fetch(`${base}/begin`, { method: 'POST' });
  assert.equal(begin.status, 503);
  assert.equal(((await begin.json()) as { code: string }).code, 'overloaded');
  assert.equal((await fetch(`${base}/fast`)).status, 200);
  release();
  await Promise.all(slow);
  assert.equal((await fetch(`${base}/begin`, { method: 'POST' })).status, 200);
});

test('a request whose client went away frees its place', async () => {
  started.length = 0;
  const aborts = Array.from({ length: 4 }, () => new AbortController());
  const gone = aborts.map((a) => fetch(`${base}/slow`, { signal: a.signal }).catch(() => undefined));
  await waitFor(() => started.length === 4);
  assert.equal((await fetch(`${base}/fast`)).status, 503);
  for (const a of aborts) a.abort();
  await Promise.all(gone);
  // The handlers are still waiting; their connections are closed, so their places are free.
  let status = 0;
  for (let i = 0; i < 200 && status !== 200; i++) {
    status = (await fetch(`${base}/fast`)).status;
    if (status !== 200) await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(status, 200);
  assert.equal(held.length, 4, 'the aborted handlers are still running');
  release();
});
