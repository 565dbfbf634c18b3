import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCatalog } from '../../src/catalog/index.js';
import { manualClock } from '../../src/platform/clock.js';
import { isAppError } from '../../src/platform/errors.js';
import { freshDatabase } from '../support/db.js';
import { capturingLogger } from '../support/platform.js';

const { db } = await freshDatabase();
const catalog = createCatalog({ db, logger: capturingLogger('warn').logger, clock: manualClock() });

test('getSkus returns the contract view; a SKU of an inactive product is not active', async () => {
  await catalog.createCategory({ slug: 'bebidas', name: 'Bebidas' });
  const p = await catalog.createProduct({
    name: 'Vino tinto',
    category: 'bebidas',
    skus: [{ sku: 'VINO-1', price: 7990, attributes: { cepa: 'Carmenere' } }, { sku: 'VINO-2', name: 'Vino tinto 1,5 L', price: 12990 }],
  });
  const views = await catalog.getSkus(['VINO-2', 'VINO-1', 'NADA']);
  assert.deepEqual(views, [
    { sku: 'VINO-1', productId: p.id, name: 'Vino tinto', category: 'bebidas', price: 7990, currency: 'CLP', active: true, attributes: { cepa: 'Carmenere' } },
    { sku: 'VINO-2', productId: p.id, name: 'Vino tinto 1,5 L', category: 'bebidas', price: 12990, currency: 'CLP', active: true, attributes: {} },
  ]);
  await catalog.updateProduct(p.id, { active: false });
  assert.deepEqual((await catalog.getSkus(['VINO-1'])).map((s) => s.active), [false]);
  assert.deepEqual(await catalog.getSkus([]), []);
});

test('invalid input through the service (not only HTTP) is refused with a code and stores nothing', async () => {
  const before = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM catalog_skus')).rows[0]?.n;
  for (const input of [
    { name: 'X', category: 'bebidas', skus: [{ sku: 'X-1', price: -1 }] },
    { name: 'X', category: 'bebidas', skus: [{ sku: 'con espacio', price: 1 }] },
    { name: '', category: 'bebidas', skus: [{ sku: 'X-1', price: 1 }] },
    { name: 'X', category: 'bebidas', skus: [] },
  ]) {
    await assert.rejects(catalog.createProduct(input), (err) => isAppError(err) && err.code === 'invalid_catalog_input');
  }
  assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM catalog_skus')).rows[0]?.n, before);
});

test('the demo seed is idempotent and has about thirty SKUs with CLP prices', async () => {
  await catalog.seedDemo();
  await catalog.seedDemo();
  const skus = await catalog.getSkus(await catalog.listSkuCodes());
  const demo = skus.filter((s) => !s.sku.startsWith('VINO-'));
  assert.ok(demo.length >= 28 && demo.length <= 35, `${demo.length}`);
  assert.ok(demo.every((s) => s.currency === 'CLP' && Number.isInteger(s.price)));
  assert.equal(new Set(demo.map((s) => s.category)).size, 4);
});
