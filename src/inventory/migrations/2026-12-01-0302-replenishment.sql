-- Automatic replenishment: suppliers, and per SKU-location who supplies it, how fast, at what
-- service level, and how much to order (EOQ or min/max, supplier minimum and pack size).
CREATE TABLE inventory_suppliers (
  id             text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
  name           text    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  lead_time_days numeric NOT NULL CHECK (lead_time_days > 0 AND lead_time_days <= 365),
  -- Cost of placing one purchase order (CLP), for EOQ.
  order_cost     bigint  NOT NULL DEFAULT 0 CHECK (order_cost >= 0),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE inventory_replenishment_policies (
  sku            text    NOT NULL REFERENCES inventory_items (sku),
  location_id    text    NOT NULL REFERENCES inventory_locations (id),
  supplier_id    text    NOT NULL REFERENCES inventory_suppliers (id),
  -- Overrides the supplier's lead time for this SKU when set.
  lead_time_days numeric CHECK (lead_time_days > 0 AND lead_time_days <= 365),
  service_level  numeric NOT NULL DEFAULT 0.95 CHECK (service_level > 0.5 AND service_level < 1),
  method         text    NOT NULL DEFAULT 'eoq' CHECK (method IN ('eoq', 'minmax')),
  max_qty        integer CHECK (max_qty > 0),
  min_order_qty  integer NOT NULL DEFAULT 1 CHECK (min_order_qty >= 1),
  pack_size      integer NOT NULL DEFAULT 1 CHECK (pack_size >= 1),
  unit_cost      bigint  NOT NULL DEFAULT 0 CHECK (unit_cost >= 0),
  -- Yearly holding cost as a fraction of the unit cost (EOQ).
  holding_rate   numeric NOT NULL DEFAULT 0.25 CHECK (holding_rate >= 0 AND holding_rate <= 10),
  -- 'draft': a person sends the purchase orders; 'auto': they are sent as created.
  send_mode      text    NOT NULL DEFAULT 'draft' CHECK (send_mode IN ('draft', 'auto')),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sku, location_id),
  CHECK (method <> 'minmax' OR max_qty IS NOT NULL)
);

-- Which purchase orders replenishment created, for which SKU-location (the suggestion's PO).
CREATE TABLE inventory_replenishment_orders (
  purchase_order_id uuid NOT NULL REFERENCES inventory_purchase_orders (id),
  sku               text NOT NULL,
  location_id       text NOT NULL,
  quantity          integer NOT NULL CHECK (quantity > 0),
  reason            text NOT NULL,
  created_at        timestamptz NOT NULL,
  PRIMARY KEY (purchase_order_id, sku)
);
CREATE INDEX inventory_replenishment_orders_sku ON inventory_replenishment_orders (sku, location_id, created_at DESC);
CREATE INDEX inventory_purchase_order_lines_sku ON inventory_purchase_order_lines (sku);
