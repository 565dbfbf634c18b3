import assert from 'node:assert/strict';
import http from 'node:http';
import { after, test } from 'node:test';
import { startPlatform } from '../../src/main/platform.js';
import { freshDatabase } from '../support/db.js';
import { testConfig } from '../support/platform.js';
import { spawnEmbudo } from '../support/process.js';
import { count } from './support.js';

const { db, url } = await freshDatabase();
const ADMIN = { 'x-admin-token': 'inventory-http-test-admin' };
const platform = await startPlatform(testConfig(url, { seed: true, adminToken: ADMIN['x-admin-token'] }), { role: 'all', listen: true });
after(() => platform.stop());
const app = platform.app;
const base = platform.urls.api as string;

type Json = Record<string, unknown>;
const call = async (method: 'GET' | 'POST' | 'PATCH' | 'PUT', path: string, payload?: unknown) => {
  const res = await app.inject({ method, url: path, headers: ADMIN, ...(payload !== undefined ? { payload: payload as Json } : {}) });
  return { status: res.statusCode, body: res.json<Json & { code?: string }>() };
};

const snapshot = async () => ({
  movements: await count(db, 'SELECT count(*) FROM inventory_movements'),
  reservations: await count(db, 'SELECT count(*) FROM inventory_reservations'),
  stock: await count(db, 'SELECT coalesce(sum(on_hand * 7 + reserved), 0) FROM inventory_stock'),
  outbox: await count(db, 'SELECT count(*) FROM events_outbox'),
  skus: await count(db, 'SELECT count(*) FROM catalog_skus'),
  pos: await count(db, 'SELECT count(*) FROM inventory_purchase_orders'),
});

test('first start seeds a demo catalogue with stock in several locations', async () => {
  const products = await call('GET', '/catalog/products?limit=200');
  assert.equal(products.status, 200);
  const list = products.body as unknown as { name: string; skus: { sku: string; price: number; available: number }[] }[];
  const skus = list.flatMap((p) => p.skus);
  assert.ok(skus.length >= 25, `${skus.length} SKUs`);
  assert.ok(skus.every((s) => Number.isInteger(s.price) && s.price > 0));
  assert.ok(skus.some((s) => s.available > 0));
  assert.ok(skus.some((s) => s.available === 0), 'one SKU is sold out');
  const locations = await call('GET', '/admin/inventory/locations');
  assert.equal((locations.body as unknown as unknown[]).length, 3);
  const inv = await call('GET', '/admin/inventory/invariants');
  assert.equal(inv.body.ok, true);
  const one = await call('GET', '/catalog/skus?skus=ARROZ-1KG,NO-EXISTE');
  assert.deepEqual((one.body as unknown as { sku: string; price: number }[]).map((s) => [s.sku, s.price]), [['ARROZ-1KG', 1590]]);
  const doc = (await app.inject('/openapi.json')).json<{ paths: Record<string, unknown> }>();
  for (const path of ['/inventory/reservations', '/inventory/availability/stream', '/admin/inventory/receipts', '/admin/catalog/products', '/catalog/products/{id}']) {
    assert.ok(doc.paths[path], path);
  }
});

test('bad input gets a 4xx with a code and changes nothing', async () => {
  const before = await snapshot();
  const cases: [method: 'POST' | 'GET' | 'PATCH', path: string, payload: unknown, status: number, code: string][] = [
    ['POST', '/inventory/reservations', { lines: [{ sku: 'ARROZ-1KG', quantity: 0 }] }, 400, 'invalid_request'],
    ['POST', '/inventory/reservations', { lines: [{ sku: 'ARROZ-1KG', quantity: -1 }] }, 400, 'invalid_request'],
    ['POST', '/inventory/reservations', { lines: [{ sku: 'ARROZ-1KG', quantity: 1.5 }] }, 400, 'invalid_request'],
    ['POST', '/inventory/reservations', { lines: [{ sku: 'ARROZ-1KG', quantity: '1' }] }, 400, 'invalid_request'],
    ['POST', '/inventory/reservations', { lines: [{ sku: 'ARROZ-1KG', quantity: 1e15 }] }, 400, 'invalid_request'],
    ['POST', '/inventory/reservations', { lines: [] }, 400, 'invalid_request'],
    ['POST', '/inventory/reservations', { lines: [{ sku: 'ARROZ-1KG', quantity: 1 }], extra: 1 }, 400, 'invalid_request'],
    ['POST', '/inventory/reservations', { lines: [{ sku: 'ARROZ-1KG', quantity: 1 }], ttlSeconds: 0 }, 400, 'invalid_request'],
    ['POST', '/inventory/reservations', { lines: [{ sku: 'NO-EXISTE', quantity: 1 }] }, 404, 'unknown_sku'],
    ['POST', '/inventory/reservations', { lines: [{ sku: 'ARROZ-1KG', quantity: 1, locationId: 'marte' }] }, 404, 'unknown_location'],
    ['POST', '/inventory/reservations', { lines: [{ sku: 'ARROZ-1KG', quantity: 1_000_000 }] }, 409, 'insufficient_stock'],
    ['POST', '/inventory/reservations', [1, 2], 400, 'invalid_request'],
    ['POST', '/inventory/reservations/00000000-0000-4000-8000-000000000000/commit', undefined, 404, 'reservation_not_found'],
    ['POST', '/inventory/reservations/not-a-uuid/release', undefined, 404, 'reservation_not_found'],
    ['POST', '/admin/inventory/receipts', { sku: 'NO-EXISTE', locationId: 'bodega-santiago', quantity: 1 }, 404, 'unknown_sku'],
    ['POST', '/admin/inventory/receipts', { sku: 'ARROZ-1KG', locationId: 'marte', quantity: 1 }, 404, 'unknown_location'],
    ['POST', '/admin/inventory/receipts', { sku: 'ARROZ-1KG', locationId: 'bodega-santiago', quantity: 0 }, 400, 'invalid_request'],
    ['POST', '/admin/inventory/receipts', { sku: 'ARROZ-1KG', locationId: 'bodega-santiago', quantity: 2 ** 53 }, 400, 'invalid_request'],
    ['POST', '/admin/inventory/adjustments', { sku: 'ARROZ-1KG', locationId: 'bodega-santiago', delta: 0, reason: 'x' }, 400, 'invalid_request'],
    ['POST', '/admin/inventory/adjustments', { sku: 'ARROZ-1KG', locationId: 'bodega-santiago', delta: -100000, reason: 'x' }, 409, 'stock_below_reserved'],
    ['POST', '/admin/inventory/adjustments', { sku: 'ARROZ-1KG', locationId: 'bodega-santiago', delta: 1 }, 400, 'invalid_request'],
    ['POST', '/admin/inventory/transfers', { sku: 'ARROZ-1KG', fromLocationId: 'bodega-santiago', toLocationId: 'bodega-santiago', quantity: 1 }, 400, 'invalid_request'],
    ['POST', '/admin/inventory/transfers', { sku: 'ARROZ-1KG', fromLocationId: 'bodega-santiago', toLocationId: 'tienda-providencia', quantity: 100000 }, 409, 'insufficient_stock'],
    ['POST', '/admin/inventory/purchase-orders', { supplier: 'Proveedor', locationId: 'marte', lines: [{ sku: 'ARROZ-1KG', quantity: 1, unitCost: 1 }] }, 404, 'unknown_location'],
    ['POST', '/admin/inventory/purchase-orders', { supplier: 'Proveedor', locationId: 'bodega-santiago', lines: [{ sku: 'NO-EXISTE', quantity: 1, unitCost: 1 }] }, 404, 'unknown_sku'],
    ['POST', '/admin/inventory/purchase-orders', { supplier: 'Proveedor', locationId: 'bodega-santiago', lines: [{ sku: 'ARROZ-1KG', quantity: 1, unitCost: -5 }] }, 400, 'invalid_request'],
    ['GET', '/inventory/availability?skus=', undefined, 400, 'invalid_request'],
    ['GET', '/inventory/availability?skus=a%20b', undefined, 400, 'invalid_inventory_input'],
    ['GET', '/inventory/availability/stream?skus=%2F%2F', undefined, 400, 'invalid_inventory_input'],
    ['GET', '/admin/inventory/stock/NO-EXISTE', undefined, 404, 'unknown_sku'],
    ['POST', '/admin/catalog/products', { name: 'X', category: 'despensa', skus: [{ sku: 'NUEVO-1', price: -1 }] }, 400, 'invalid_request'],
    ['POST', '/admin/catalog/products', { name: 'X', category: 'despensa', skus: [{ sku: 'NUEVO-1', price: 10.5 }] }, 400, 'invalid_request'],
    ['POST', '/admin/catalog/products', { name: 'X', category: 'no-existe', skus: [{ sku: 'NUEVO-1', price: 10 }] }, 404, 'category_not_found'],
    ['POST', '/admin/catalog/products', { name: 'X', category: 'despensa', skus: [{ sku: 'ARROZ-1KG', price: 10 }] }, 409, 'sku_exists'],
    ['POST', '/admin/catalog/products', { name: 'X', category: 'despensa', skus: [{ sku: 'N-2', price: 1 }, { sku: 'N-2', price: 1 }] }, 409, 'sku_exists'],
    ['PATCH', '/admin/catalog/skus/NO-EXISTE', { price: 10 }, 404, 'sku_not_found'],
    ['PATCH', '/admin/catalog/skus/ARROZ-1KG', { price: 'caro' }, 400, 'invalid_request'],
    ['PATCH', '/admin/catalog/products/00000000-0000-4000-8000-000000000000', { active: false }, 404, 'product_not_found'],
  ];
  for (const [method, path, payload, status, code] of cases) {
    const res = await call(method, path, payload);
    assert.equal(res.status, status, `${method} ${path} ${JSON.stringify(payload)}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.code, code, `${method} ${path} ${JSON.stringify(payload)}`);
  }
  assert.deepEqual(await snapshot(), before);
});

test('reserve, commit and release over HTTP; stock and ledger follow', async () => {
  const before = (await call('GET', '/admin/inventory/stock/ACEITE-1L')).body as { onHand: number; reserved: number };
  const r = await call('POST', '/inventory/reservations', { lines: [{ sku: 'ACEITE-1L', quantity: 2 }], reference: 'order-9' });
  assert.equal(r.status, 201);
  assert.equal(r.body.status, 'active');
  assert.equal(r.body.reference, 'order-9');
  const id = r.body.id as string;
  assert.equal((await call('POST', `/inventory/reservations/${id}/commit`)).body.status, 'committed');
  assert.equal((await call('POST', `/inventory/reservations/${id}/commit`)).body.status, 'committed');
  const rel = await call('POST', `/inventory/reservations/${id}/release`, { reason: 'cancelled' });
  assert.equal(rel.status, 409);
  assert.equal(rel.body.code, 'reservation_committed');
  const after = (await call('GET', '/admin/inventory/stock/ACEITE-1L')).body as { onHand: number; reserved: number };
  assert.equal(after.onHand, before.onHand - 2);
  assert.equal(after.reserved, before.reserved);
  const moves = (await call('GET', '/admin/inventory/movements?sku=ACEITE-1L&limit=2')).body as unknown as { kind: string }[];
  assert.deepEqual(moves.map((m) => m.kind), ['sale', 'reservation']);
});

test('purchase orders: draft → sent → received posts receipts; no way back', async () => {
  const po = await call('POST', '/admin/inventory/purchase-orders', {
    supplier: 'Distribuidora Los Andes',
    locationId: 'tienda-concepcion',
    expectedDate: '2026-12-05',
    lines: [{ sku: 'PISCO-35-1L', quantity: 12, unitCost: 5200 }, { sku: 'MANJAR-1KG', quantity: 6, unitCost: 2500 }],
  });
  assert.equal(po.status, 201);
  assert.equal(po.body.status, 'draft');
  assert.equal(po.body.total, 12 * 5200 + 6 * 2500);
  const id = po.body.id as string;
  const early = await call('POST', `/admin/inventory/purchase-orders/${id}/receive`);
  assert.equal(early.status, 409);
  assert.equal(early.body.code, 'invalid_transition');
  const pisco = async () => ((await call('GET', '/admin/inventory/stock/PISCO-35-1L')).body as { onHand: number }).onHand;
  const before = await pisco();
  assert.equal((await call('POST', `/admin/inventory/purchase-orders/${id}/send`)).body.status, 'sent');
  assert.equal((await call('POST', `/admin/inventory/purchase-orders/${id}/receive`)).body.status, 'received');
  assert.equal((await call('POST', `/admin/inventory/purchase-orders/${id}/receive`)).body.status, 'received');
  assert.equal(await pisco(), before + 12);
  const cancel = await call('POST', `/admin/inventory/purchase-orders/${id}/cancel`);
  assert.equal(cancel.status, 409);
  assert.equal(await count(db, `SELECT count(*) FROM inventory_movements WHERE reference = $1`, [`po:${id}`]), 2);
});

test('catalog admin: create, reprice, deactivate; public listing follows; events are appended', async () => {
  const created = await call('POST', '/admin/catalog/products', {
    name: 'Empanada de pino',
    category: 'despensa',
    skus: [{ sku: 'EMPANADA-PINO', price: 2500, attributes: { relleno: 'pino' } }],
  });
  assert.equal(created.status, 201);
  const id = created.body.id as string;
  const repriced = await call('PATCH', '/admin/catalog/skus/EMPANADA-PINO', { price: 2700 });
  assert.equal(repriced.body.price, 2700);
  const pub = await call('GET', `/catalog/products/${id}`);
  assert.deepEqual((pub.body.skus as Json[]).map((s) => [s.sku, s.price, s.available]), [['EMPANADA-PINO', 2700, 0]]);
  await call('PATCH', `/admin/catalog/products/${id}`, { active: false });
  const list = (await call('GET', '/catalog/products?category=despensa&limit=200')).body as unknown as { id: string }[];
  assert.ok(!list.some((p) => p.id === id));
  assert.equal(await count(db, `SELECT count(*) FROM events_outbox WHERE type = 'catalog.sku_changed' AND aggregate_id = 'EMPANADA-PINO'`), 3);
});

test('the SSE stream sends current availability, then every committed change, down to zero', async () => {
  await call('POST', '/admin/catalog/products', { name: 'Última unidad', category: 'hogar', skus: [{ sku: 'ULTIMA-1', price: 990 }] });
  await call('POST', '/admin/inventory/receipts', { sku: 'ULTIMA-1', locationId: 'tienda-providencia', quantity: 2 });
  const events: { sku: string; available: number }[] = [];
  let wake = () => {};
  const req = http.get(`${base}/inventory/availability/stream?skus=ULTIMA-1,ARROZ-1KG`);
  const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /text\/event-stream/);
  let buf = '';
  res.on('data', (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = /^data: (.*)$/m.exec(frame);
      if (data?.[1]) events.push(JSON.parse(data[1]) as { sku: string; available: number });
    }
    wake();
  });
  const waitFor = async (pred: () => boolean) => {
    const deadline = Date.now() + 5000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out; events: ${JSON.stringify(events)}`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
  };
  try {
    await waitFor(() => events.some((e) => e.sku === 'ULTIMA-1') && events.some((e) => e.sku === 'ARROZ-1KG'));
    assert.deepEqual(events.find((e) => e.sku === 'ULTIMA-1'), { sku: 'ULTIMA-1', available: 2 });
    const r = await call('POST', '/inventory/reservations', { lines: [{ sku: 'ULTIMA-1', quantity: 2 }] });
    await waitFor(() => events.some((e) => e.sku === 'ULTIMA-1' && e.available === 0));
    await call('POST', `/inventory/reservations/${r.body.id as string}/release`);
    await waitFor(() => events.filter((e) => e.sku === 'ULTIMA-1').length >= 3);
    assert.deepEqual(events.filter((e) => e.sku === 'ULTIMA-1').map((e) => e.available), [2, 0, 2]);
  } finally {
    req.destroy();
  }
});

test('`embudo inventory-check` reports the ledger check and exits 0 when there is no drift', async () => {
  const child = spawnEmbudo(['inventory-check'], { DATABASE_URL: url });
  assert.equal(await child.exited, 0, child.output());
  const report = JSON.parse(child.output().trim().split('\n').pop() ?? '{}') as { ok: boolean; checked: number };
  assert.equal(report.ok, true);
  assert.ok(report.checked > 50);
});
