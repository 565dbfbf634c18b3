-- Catalog: categories, products and their SKUs. Prices are integers in the currency's minor
-- unit (CLP has none: pesos).
CREATE TABLE catalog_categories (
  slug       text PRIMARY KEY CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE catalog_products (
  id          uuid PRIMARY KEY,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '',
  category    text NOT NULL REFERENCES catalog_categories (slug),
  active      boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX catalog_products_category ON catalog_products (category) WHERE active;

CREATE TABLE catalog_skus (
  sku        text PRIMARY KEY CHECK (sku ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  product_id uuid NOT NULL REFERENCES catalog_products (id),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  price      bigint NOT NULL CHECK (price >= 0 AND price <= 1000000000000),
  currency   text NOT NULL DEFAULT 'CLP' CHECK (currency = 'CLP'),
  attributes jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attributes) = 'object'),
  active     boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX catalog_skus_product ON catalog_skus (product_id);
