// Bad input: property-based fuzzing of every public endpoint (random and malformed JSON, wrong
// types, huge values, unicode, injection strings) → never a 5xx, and a refused request
// (4xx) changes nothing in the database.
import assert from 'node:assert/strict';
import test, { after } from 'node:test';
import fc from 'fast-check';
import { startPlatform } from '../../src/main/platform.js';
import { freshDatabase } from '../support/db.js';
import { testConfig } from '../support/platform.js';
import { ADMIN_TOKEN, SHORT, tableCounts } from './support.js';

const NASTY = [
  "' OR 1=1 --", '"; DROP TABLE orders; --', '<script>alert(1)</script>', '../../etc/passwd', '%00', '\u0000', '💥🛒', 'ñandú Ñuñoa',
  '${jndi:ldap://x}', '{{7*7}}', 'a'.repeat(70_000), '-1', '1e308', 'NaN', 'null', '[]', '{}', '0x7fffffff', '9'.repeat(40),
];
const scalar = fc.oneof(
  fc.constantFrom(...NASTY), fc.string(), fc.string({ unit: 'grapheme', maxLength: 50 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((n) => Number(n)),
);
const json = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('sku', 'quantity', 'email', 'payment', 'method', 'amount', 'addressId', '__proto__', 'constructor')), tie('value'), { maxKeys: 5 })),
})).value;
const body = fc.oneof(
  json.map((v) => ({ payload: JSON.stringify(v), type: 'application/json' })),
  fc.string().map((s) => ({ payload: s, type: 'application/json' })),
  fc.constantFrom('{"a":', '{"__proto__":{"x":1}}', '\u0000', '[[[[[[[[[[[[[[]]]]]]]]]]]]]]', '').map((s) => ({ payload: s, type: 'application/json' })),
  json.map((v) => ({ payload: new URLSearchParams({ v: JSON.stringify(v) }).toString(), type: 'application/x-www-form-urlencoded' })),
);
const segment = fc.oneof(fc.constantFrom(...NASTY.filter((s) => s.length < 200)), fc.uuid(), fc.string({ minLength: 1, maxLength: 30 }));

test('every public endpoint: never a 5xx, and a refused request changes nothing', async () => {
  const { db, url } = await freshDatabase();
  const platform = await startPlatform(testConfig(url, { seed: true, adminToken: ADMIN_TOKEN }), { role: 'all', listen: false });
  after(() => platform.stop());
  const app = platform.app;
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, Record<string, unknown>> }>();
  const routes = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map((m) => ({ path: p, method: m.toUpperCase() })))
    // SSE streams stay open by design; they are exercised by their own tests.
    .filter((r) => !r.path.endsWith('/events') && !r.path.endsWith('/stream'));
  assert.ok(routes.length >= 30, `${routes.length} routes in the OpenAPI document`);
  // A real customer, so fuzzed requests also get past authentication into validation.
  const guest = (await app.inject({ method: 'POST', url: '/customers/guest', payload: { email: 'fuzz@example.cl' } })).json<{ token: string }>();
  const failures: string[] = [];
  let requests = 0;
  for (const route of routes) {
    await fc.assert(
      fc.asyncProperty(
        fc.array(segment, { minLength: 4, maxLength: 4 }), body, fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string(), fc.constantFrom(...NASTY.slice(0, 8))), { maxKeys: 3 }),
        fc.constantFrom('none', 'customer', 'garbage', 'admin'),
        async (segments, b, query, auth) => {
          let i = 0;
          const path = route.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(segments[i++ % 4] as string));
          const qs = new URLSearchParams(query).toString();
          const headers: Record<string, string> = { 'idempotency-key': segments[0]?.slice(0, 60) || 'k' };
          if (auth === 'customer') headers.authorization = `Bearer ${guest.token}`;
          if (auth === 'garbage') headers.authorization = `Bearer ${segments[1] ?? ''}`.slice(0, 300);
          if (auth === 'admin') headers['x-admin-token'] = ADMIN_TOKEN;
          const before = await tableCounts(db);
          const res = await app.inject({
            method: route.method as 'GET', url: `${path}${qs ? `?${qs}` : ''}`,
            headers: { ...headers, ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { 'content-type': b.type }) },
            ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { payload: b.payload }),
          });
          requests++;
          if (res.statusCode >= 500) failures.push(`${route.method} ${route.path} → ${res.statusCode} ${res.body.slice(0, 200)}`);
          if (res.statusCode >= 400) {
            const changed = diff(before, await tableCounts(db));
            if (changed.length > 0) failures.push(`${route.method} ${route.path} → ${res.statusCode} yet changed ${changed.join(', ')}`);
          }
        },
      ),
      { numRuns: SHORT ? 12 : 80, seed: Number(process.env.EMBUDO_RELIABILITY_SEED ?? 7) },
    );
  }
  process.stdout.write(`# fuzz: ${requests} requests over ${routes.length} routes\n`);
  assert.deepEqual([...new Set(failures)].slice(0, 20), []);
});

function diff(a: Record<string, number>, b: Record<string, number>): string[] {
  return Object.keys({ ...a, ...b }).filter((k) => a[k] !== b[k]).map((k) => `${k} ${a[k] ?? 0}→${b[k] ?? 0}`);
}
