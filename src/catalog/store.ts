import { prepared, type Db } from '../platform/db.js';

export interface SkuRow {
  sku: string;
  productId: string;
  name: string;
  category: string;
  price: number;
  currency: 'CLP';
  active: boolean;
  attributes: Record<string, string>;
}

export interface ProductRow {
  id: string;
  name: string;
  description: string;
  category: string;
  active: boolean;
}

interface DbSku {
  sku: string;
  product_id: string;
  name: string;
  category: string;
  price: number;
  currency: 'CLP';
  active: boolean;
  product_active: boolean;
  attributes: Record<string, string>;
}

const SKU_SELECT = `SELECT s.sku, s.product_id, s.name, p.category, s.price, s.currency,
  s.active, p.active AS product_active, s.attributes
  FROM catalog_skus s JOIN catalog_products p ON p.id = s.product_id`;

// A SKU of an inactive product is not sellable, whatever its own flag says.
const toSku = (r: DbSku): SkuRow => ({
  sku: r.sku,
  productId: r.product_id,
  name: r.name,
  category: r.category,
  price: r.price,
  currency: r.currency,
  active: r.active && r.product_active,
  attributes: r.attributes,
});

export async function findSkus(db: Db, skus: readonly string[]): Promise<SkuRow[]> {
  const { rows } = await db.query<DbSku & Record<string, unknown>>(prepared(`${SKU_SELECT} WHERE s.sku = ANY($1::text[]) ORDER BY s.sku`), [skus]);
  return rows.map(toSku);
}

export async function skusOfProducts(db: Db, productIds: readonly string[]): Promise<SkuRow[]> {
  const { rows } = await db.query<DbSku & Record<string, unknown>>(
    `${SKU_SELECT} WHERE s.product_id = ANY($1::uuid[]) ORDER BY s.sku`,
    [productIds],
  );
  return rows.map(toSku);
}

export async function allSkuCodes(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ sku: string }>('SELECT sku FROM catalog_skus ORDER BY sku');
  return rows.map((r) => r.sku);
}

export async function findProduct(db: Db, id: string, lock = false): Promise<ProductRow | undefined> {
  const { rows } = await db.query<ProductRow & Record<string, unknown>>(
    `SELECT id, name, description, category, active FROM catalog_products WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return rows[0];
}

export async function listProducts(
  db: Db,
  filter: { category?: string; activeOnly: boolean; limit: number; offset: number },
): Promise<ProductRow[]> {
  const { rows } = await db.query<ProductRow & Record<string, unknown>>(
    `SELECT id, name, description, category, active FROM catalog_products
     WHERE ($1::text IS NULL OR category = $1) AND (NOT $2 OR active)
     ORDER BY category, name, id LIMIT $3 OFFSET $4`,
    [filter.category ?? null, filter.activeOnly, filter.limit, filter.offset],
  );
  return rows;
}

export async function categoryExists(db: Db, slug: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM catalog_categories WHERE slug = $1', [slug]);
  return (rowCount ?? 0) > 0;
}

export async function listCategories(db: Db): Promise<{ slug: string; name: string }[]> {
  const { rows } = await db.query<{ slug: string; name: string }>('SELECT slug, name FROM catalog_categories ORDER BY slug');
  return rows;
}

export async function insertCategory(db: Db, slug: string, name: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'INSERT INTO catalog_categories (slug, name) VALUES ($1, $2) ON CONFLICT DO NOTHING',
    [slug, name],
  );
  return (rowCount ?? 0) > 0;
}

export async function insertProduct(db: Db, p: ProductRow, now: Date): Promise<void> {
  await db.query(
    `INSERT INTO catalog_products (id, name, description, category, active, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $6)`,
    [p.id, p.name, p.description, p.category, p.active, now],
  );
}

export async function updateProduct(db: Db, p: ProductRow, now: Date): Promise<void> {
  await db.query(
    `UPDATE catalog_products SET name = $2, description = $3, category = $4, active = $5, updated_at = $6 WHERE id = $1`,
    [p.id, p.name, p.description, p.category, p.active, now],
  );
}

/** Inserts SKUs; returns the codes that already existed (nothing inserted for them). */
export async function insertSkus(db: Db, skus: readonly Omit<SkuRow, 'category'>[], now: Date): Promise<string[]> {
  const { rows } = await db.query<{ sku: string }>(
    `INSERT INTO catalog_skus (sku, product_id, name, price, currency, attributes, active, created_at, updated_at)
     SELECT t.sku, t.product_id, t.name, t.price, 'CLP', t.attributes, t.active, $7, $7
     FROM unnest($1::text[], $2::uuid[], $3::text[], $4::bigint[], $5::jsonb[], $6::boolean[])
       AS t(sku, product_id, name, price, attributes, active)
     ON CONFLICT (sku) DO NOTHING RETURNING sku`,
    [
      skus.map((s) => s.sku),
      skus.map((s) => s.productId),
      skus.map((s) => s.name),
      skus.map((s) => s.price),
      skus.map((s) => JSON.stringify(s.attributes)),
      skus.map((s) => s.active),
      now,
    ],
  );
  const inserted = new Set(rows.map((r) => r.sku));
  return skus.map((s) => s.sku).filter((s) => !inserted.has(s));
}

export async function lockSku(db: Db, sku: string): Promise<Omit<SkuRow, 'category'> | undefined> {
  const { rows } = await db.query<DbSku & Record<string, unknown>>(
    `SELECT sku, product_id, name, price, currency, active, true AS product_active, attributes
     FROM catalog_skus WHERE sku = $1 FOR UPDATE`,
    [sku],
  );
  const r = rows[0];
  return r && { sku: r.sku, productId: r.product_id, name: r.name, price: r.price, currency: r.currency, active: r.active, attributes: r.attributes };
}

export async function updateSku(db: Db, s: Omit<SkuRow, 'category'>, now: Date): Promise<void> {
  await db.query(
    `UPDATE catalog_skus SET name = $2, price = $3, attributes = $4, active = $5, updated_at = $6 WHERE sku = $1`,
    [s.sku, s.name, s.price, JSON.stringify(s.attributes), s.active, now],
  );
}
