import type { Clock } from '../platform/clock.js';
import type { Db } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { applyMovements } from './ledger.js';
import { ensureLevels, type MovementRow } from './store.js';

export const DEMO_LOCATIONS = [
  { id: 'bodega-santiago', name: 'Bodega Santiago (Pudahuel)', kind: 'warehouse' as const, priority: 10 },
  { id: 'tienda-providencia', name: 'Tienda Providencia', kind: 'store' as const, priority: 20 },
  { id: 'tienda-concepcion', name: 'Tienda Concepción', kind: 'store' as const, priority: 30 },
];

/**
 * Demo locations and stock: a deterministic spread so some SKUs are plentiful, some scarce
 * and one sold out (to show the buy button turning off). Every receipt goes through the ledger
 * at once (one set of statements for all of them, as a first start waits for this before it
 * serves): the same levels, movements and one `inventory.stock_changed` event per level as
 * receiving them one by one.
 */
export async function seedDemoStock(db: Db, clock: Clock, skus: string[], logger: Logger): Promise<void> {
  await db.transaction(async (tx) => seed(tx, clock, skus, logger));
}

async function seed(db: Db, clock: Clock, skus: string[], logger: Logger): Promise<void> {
  await db.query(
    'INSERT INTO inventory_locations (id, name, kind, priority) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) ON CONFLICT DO NOTHING',
    [DEMO_LOCATIONS.map((l) => l.id), DEMO_LOCATIONS.map((l) => l.name), DEMO_LOCATIONS.map((l) => l.kind), DEMO_LOCATIONS.map((l) => l.priority)],
  );
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM inventory_movements');
  if ((rows[0]?.n ?? 0) > 0) return;
  const receipts: MovementRow[] = [];
  for (const [i, sku] of skus.entries()) {
    if (i === skus.length - 1) continue; // the last SKU stays sold out
    for (const [j, l] of DEMO_LOCATIONS.entries()) {
      const quantity = ((i * 7 + j * 13) % 40) + (j === 0 ? 20 : 0);
      if (quantity === 0) continue;
      receipts.push({ sku, locationId: l.id, kind: 'receipt', onHandDelta: quantity, reservedDelta: 0, reference: 'demo-seed' });
    }
  }
  if (receipts.length > 0) {
    await ensureLevels(db, receipts);
    await applyMovements(db, receipts, clock.now());
  }
  await db.query('UPDATE inventory_items SET safety_threshold = 10 WHERE sku = ANY($1::text[])', [skus.filter((_, i) => i % 5 === 0 && i !== skus.length - 1)]);
  logger.info({ receipts: receipts.length }, 'demo stock seeded');
}
