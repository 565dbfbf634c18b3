import type { Db } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import type { StockService } from './service.js';

export const DEMO_LOCATIONS = [
  { id: 'bodega-santiago', name: 'Bodega Santiago (Pudahuel)', kind: 'warehouse' as const, priority: 10 },
  { id: 'tienda-providencia', name: 'Tienda Providencia', kind: 'store' as const, priority: 20 },
  { id: 'tienda-concepcion', name: 'Tienda Concepción', kind: 'store' as const, priority: 30 },
];

/**
 * Demo locations and stock: a deterministic spread so some SKUs are plentiful, some scarce
 * and one sold out (to show the buy button turning off).
 */
export async function seedDemoStock(db: Db, stock: StockService, skus: string[], logger: Logger): Promise<void> {
  // One transaction: a first start commits once instead of once per receipt.
  await db.transaction(async (tx) => seed(tx, stock, skus, logger));
}

async function seed(db: Db, stock: StockService, skus: string[], logger: Logger): Promise<void> {
  for (const l of DEMO_LOCATIONS) {
    await db.query(
      'INSERT INTO inventory_locations (id, name, kind, priority) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [l.id, l.name, l.kind, l.priority],
    );
  }
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM inventory_movements');
  if ((rows[0]?.n ?? 0) > 0) return;
  let received = 0;
  for (const [i, sku] of skus.entries()) {
    if (i === skus.length - 1) continue; // the last SKU stays sold out
    for (const [j, l] of DEMO_LOCATIONS.entries()) {
      const quantity = ((i * 7 + j * 13) % 40) + (j === 0 ? 20 : 0);
      if (quantity === 0) continue;
      await stock.receive({ sku, locationId: l.id, quantity, reference: 'demo-seed' }, db);
      received += 1;
    }
    if (i % 5 === 0) await db.query('UPDATE inventory_items SET safety_threshold = 10 WHERE sku = $1', [sku]);
  }
  logger.info({ receipts: received }, 'demo stock seeded');
}
