-- Inventory: locations, stock levels per SKU and location, reservations with a TTL, the
-- append-only stock-movement ledger, and purchase orders.
CREATE TABLE inventory_locations (
  id         text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind       text NOT NULL CHECK (kind IN ('warehouse', 'store')),
  -- Allocation order: lower first, ties by id (see src/inventory/domain/allocation.ts).
  priority   integer NOT NULL DEFAULT 100 CHECK (priority BETWEEN 0 AND 1000000),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- SKUs inventory knows about, with an optional safety threshold (reorder point).
CREATE TABLE inventory_items (
  sku              text PRIMARY KEY,
  safety_threshold integer NOT NULL DEFAULT 0 CHECK (safety_threshold >= 0),
  created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE inventory_stock (
  sku         text NOT NULL REFERENCES inventory_items (sku),
  location_id text NOT NULL REFERENCES inventory_locations (id),
  on_hand     integer NOT NULL DEFAULT 0,
  reserved    integer NOT NULL DEFAULT 0,
  -- Bumped on every change; the availability feed keeps the newest value per row.
  version     bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (sku, location_id),
  CONSTRAINT inventory_stock_reserved_nonnegative CHECK (reserved >= 0),
  CONSTRAINT inventory_stock_available_nonnegative CHECK (on_hand - reserved >= 0)
);

CREATE TABLE inventory_reservations (
  id          uuid PRIMARY KEY,
  status      text NOT NULL CHECK (status IN ('active', 'committed', 'released', 'expired')),
  reference   text,
  reason      text,
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL,
  finished_at timestamptz
);
-- The sweeper scans only active reservations by expiry.
CREATE INDEX inventory_reservations_due ON inventory_reservations (expires_at) WHERE status = 'active';
CREATE INDEX inventory_reservations_reference ON inventory_reservations (reference) WHERE reference IS NOT NULL;

CREATE TABLE inventory_reservation_lines (
  reservation_id uuid NOT NULL REFERENCES inventory_reservations (id),
  line_no        integer NOT NULL,
  sku            text NOT NULL,
  location_id    text NOT NULL,
  quantity       integer NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (reservation_id, line_no)
);

-- The ledger: every change of on_hand or reserved is one row. on_hand = Σ on_hand_delta and
-- reserved = Σ reserved_delta per SKU-location (checked by the invariant report).
CREATE TABLE inventory_movements (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sku            text NOT NULL,
  location_id    text NOT NULL,
  kind           text NOT NULL CHECK (kind IN (
                   'receipt', 'adjustment', 'reservation', 'release', 'expiry', 'sale', 'return',
                   'transfer_out', 'transfer_in')),
  on_hand_delta  integer NOT NULL,
  reserved_delta integer NOT NULL,
  reservation_id uuid,
  reference      text,
  reason         text,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inventory_movements_sku_location ON inventory_movements (sku, location_id);

CREATE FUNCTION inventory_movements_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'inventory_movements is append-only: % refused', TG_OP
    USING ERRCODE = 'P0001';
END $$;
CREATE TRIGGER inventory_movements_no_update BEFORE UPDATE OR DELETE ON inventory_movements
  FOR EACH ROW EXECUTE FUNCTION inventory_movements_append_only();
CREATE TRIGGER inventory_movements_no_truncate BEFORE TRUNCATE ON inventory_movements
  FOR EACH STATEMENT EXECUTE FUNCTION inventory_movements_append_only();

CREATE TABLE inventory_purchase_orders (
  id            uuid PRIMARY KEY,
  supplier      text NOT NULL CHECK (length(supplier) BETWEEN 1 AND 200),
  location_id   text NOT NULL REFERENCES inventory_locations (id),
  expected_date date,
  status        text NOT NULL CHECK (status IN ('draft', 'sent', 'received', 'cancelled')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE inventory_purchase_order_lines (
  purchase_order_id uuid NOT NULL REFERENCES inventory_purchase_orders (id),
  line_no           integer NOT NULL,
  sku               text NOT NULL REFERENCES inventory_items (sku),
  quantity          integer NOT NULL CHECK (quantity > 0),
  unit_cost         bigint NOT NULL CHECK (unit_cost >= 0),
  PRIMARY KEY (purchase_order_id, line_no)
);
