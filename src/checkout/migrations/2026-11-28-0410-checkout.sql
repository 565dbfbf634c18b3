-- Idempotency keys for every state-changing POST (Stripe's rules: first response stored,
-- same key + other body refused, kept at least 24 h). A key is claimed by inserting its row
-- with a lease; duplicates wait for the row to be completed instead of holding a connection.
CREATE TABLE checkout_idempotency_keys (
  scope        text        NOT NULL,
  key          text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  fingerprint  bytea       NOT NULL,
  state        text        NOT NULL CHECK (state IN ('running', 'done')),
  owner        uuid        NOT NULL,
  lease_until  timestamptz NOT NULL,
  status_code  integer,
  body         json, -- json, not jsonb: replays keep the exact key order
  created_at   timestamptz NOT NULL,
  completed_at timestamptz,
  PRIMARY KEY (scope, key),
  CHECK ((state = 'done') = (status_code IS NOT NULL))
);
CREATE INDEX checkout_idempotency_keys_created ON checkout_idempotency_keys (created_at);

CREATE TABLE carts (
  id          uuid PRIMARY KEY,
  customer_id uuid        NOT NULL,
  status      text        NOT NULL CHECK (status IN ('open', 'checking_out', 'checked_out')),
  currency    text        NOT NULL DEFAULT 'CLP' CHECK (currency = 'CLP'),
  order_id    uuid,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL
);
CREATE INDEX carts_customer ON carts (customer_id, created_at DESC);

CREATE TABLE cart_lines (
  cart_id  uuid    NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
  sku      text    NOT NULL,
  quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 99),
  added_at timestamptz NOT NULL,
  PRIMARY KEY (cart_id, sku)
);

CREATE TABLE orders (
  id                     uuid PRIMARY KEY,
  customer_id            uuid        NOT NULL,
  cart_id                uuid        NOT NULL UNIQUE,
  status                 text        NOT NULL CHECK (status IN ('pending_payment', 'paid', 'payment_failed', 'expired',
                           'cancelled', 'refunding', 'partially_refunded', 'refunded', 'fulfilled')),
  currency               text        NOT NULL CHECK (currency = 'CLP'),
  subtotal               integer     NOT NULL CHECK (subtotal > 0),
  shipping               integer     NOT NULL CHECK (shipping >= 0),
  total                  integer     NOT NULL CHECK (total = subtotal + shipping),
  refunded_amount        integer     NOT NULL DEFAULT 0 CHECK (refunded_amount BETWEEN 0 AND total),
  payment_method         text        NOT NULL,
  payment_attempt_id     text,
  reservation_id         text        NOT NULL,
  reservation_expires_at timestamptz NOT NULL,
  delivery               jsonb       NOT NULL,
  version                integer     NOT NULL DEFAULT 1,
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL
);
CREATE INDEX orders_customer ON orders (customer_id, created_at DESC);
CREATE INDEX orders_status_created ON orders (status, created_at DESC);
CREATE INDEX orders_pending_expiry ON orders (reservation_expires_at) WHERE status = 'pending_payment';

CREATE TABLE order_lines (
  order_id   uuid    NOT NULL REFERENCES orders (id),
  sku        text    NOT NULL,
  name       text    NOT NULL,
  quantity   integer NOT NULL CHECK (quantity > 0),
  unit_price integer NOT NULL CHECK (unit_price >= 0),
  line_total integer NOT NULL CHECK (line_total = unit_price * quantity),
  PRIMARY KEY (order_id, sku)
);

-- Every state change of an order, in order; append-only.
CREATE TABLE order_transitions (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  order_id    uuid        NOT NULL REFERENCES orders (id),
  from_status text,
  to_status   text        NOT NULL,
  reason      text        NOT NULL,
  cause       text,
  occurred_at timestamptz NOT NULL
);
CREATE INDEX order_transitions_order ON order_transitions (order_id, id);

-- Refunds already applied to an order (dedupe by the processor's refund id).
CREATE TABLE order_refunds (
  refund_id  text PRIMARY KEY,
  order_id   uuid        NOT NULL REFERENCES orders (id),
  amount     integer     NOT NULL CHECK (amount > 0),
  applied_at timestamptz NOT NULL
);

CREATE FUNCTION checkout_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'P0001';
END $$;
CREATE TRIGGER order_transitions_append_only BEFORE UPDATE OR DELETE ON order_transitions
  FOR EACH ROW EXECUTE FUNCTION checkout_refuse_change();
CREATE TRIGGER order_refunds_append_only BEFORE UPDATE OR DELETE ON order_refunds
  FOR EACH ROW EXECUTE FUNCTION checkout_refuse_change();

-- The read model the app polls: one narrow row per order, its version is the ETag.
CREATE TABLE checkout_order_status (
  order_id       uuid PRIMARY KEY,
  customer_id    uuid        NOT NULL,
  status         text        NOT NULL,
  total          integer     NOT NULL,
  currency       text        NOT NULL,
  payment_status text,
  next_action    jsonb,
  version        integer     NOT NULL,
  updated_at     timestamptz NOT NULL
);
