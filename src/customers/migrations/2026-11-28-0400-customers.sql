-- Customers of the storefront: registered (email + scrypt password hash) or guest (email
-- only). Sessions keep only the SHA-256 of the opaque token the client holds.
CREATE TABLE customers (
  id            uuid PRIMARY KEY,
  kind          text        NOT NULL CHECK (kind IN ('registered', 'guest')),
  email         text        NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
  name          text,
  password_hash text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'registered') = (password_hash IS NOT NULL))
);
-- One registered account per email; guests may repeat an email (each guest checkout is its own).
CREATE UNIQUE INDEX customers_registered_email ON customers (email) WHERE kind = 'registered';

CREATE TABLE customer_addresses (
  id             uuid PRIMARY KEY,
  customer_id    uuid        NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  recipient_name text        NOT NULL,
  street         text        NOT NULL,
  number         text        NOT NULL,
  apartment      text,
  comuna         text        NOT NULL,
  region         text        NOT NULL,
  region_code    text        NOT NULL,
  phone          text,
  reference      text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  deleted_at     timestamptz
);
CREATE INDEX customer_addresses_customer ON customer_addresses (customer_id) WHERE deleted_at IS NULL;

CREATE TABLE customer_sessions (
  token_hash  bytea PRIMARY KEY,
  customer_id uuid        NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  revoked_at  timestamptz
);
CREATE INDEX customer_sessions_expiry ON customer_sessions (expires_at);
