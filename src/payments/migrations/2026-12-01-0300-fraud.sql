-- Fraud prevention: versioned rule sets, incremental counters the decision reads (no scans),
-- customer and card history, every decision (append-only), the review queue and chargeback
-- labels imported from settlement reports.

-- Each edit of the rules is a new version; the highest is in force. Never changed.
CREATE TABLE fraud_rule_versions (
  version    integer PRIMARY KEY CHECK (version > 0),
  rule_set   jsonb       NOT NULL,
  created_by text        NOT NULL CHECK (length(created_by) BETWEEN 1 AND 200),
  note       text,
  created_at timestamptz NOT NULL
);

-- Velocity counters per entity ('card:…', 'customer:…', 'ip:…', 'device:…') and 10-minute
-- bucket, bumped as attempts are decided and processors decline. A decision reads at most
-- 144 rows per entity through the primary key. Old buckets are pruned (mutable by design).
CREATE TABLE fraud_counters (
  entity         text        NOT NULL,
  bucket         timestamptz NOT NULL,
  attempts       integer     NOT NULL DEFAULT 0,
  declines       integer     NOT NULL DEFAULT 0,
  small_declines integer     NOT NULL DEFAULT 0,
  amount         bigint      NOT NULL DEFAULT 0,
  PRIMARY KEY (entity, bucket)
) WITH (fillfactor = 70);
CREATE INDEX fraud_counters_bucket ON fraud_counters (bucket);

-- What a customer's approved payments look like (running aggregates).
CREATE TABLE fraud_customer_profiles (
  customer_id     text PRIMARY KEY,
  approved_orders integer     NOT NULL DEFAULT 0,
  approved_amount bigint      NOT NULL DEFAULT 0,
  max_amount      bigint      NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL
);

-- Delivery regiones a card has been approved for.
CREATE TABLE fraud_card_regions (
  card      text    NOT NULL,
  region    text    NOT NULL,
  approvals integer NOT NULL DEFAULT 0,
  PRIMARY KEY (card, region)
);

-- Every decision: inputs (features, never card data), rule version, score, outcome.
CREATE TABLE fraud_decisions (
  id           uuid PRIMARY KEY,
  order_id     text        NOT NULL,
  attempt_id   uuid,
  customer_id  text        NOT NULL,
  amount       bigint      NOT NULL CHECK (amount > 0),
  currency     text        NOT NULL,
  method       text        NOT NULL,
  decision     text        NOT NULL CHECK (decision IN ('allow', 'review', 'block')),
  score        smallint    NOT NULL CHECK (score BETWEEN 0 AND 100),
  reasons      text[]      NOT NULL,
  rule_version integer     NOT NULL REFERENCES fraud_rule_versions (version),
  entities     text[]      NOT NULL,
  region       text,
  inputs       jsonb       NOT NULL,
  duration_us  integer,
  decided_at   timestamptz NOT NULL
);
CREATE INDEX fraud_decisions_order ON fraud_decisions (order_id, decided_at DESC);
CREATE UNIQUE INDEX fraud_decisions_attempt ON fraud_decisions (attempt_id) WHERE attempt_id IS NOT NULL;
CREATE INDEX fraud_decisions_decided ON fraud_decisions (decided_at);

-- Orders held for a person to look at. One open review per order.
CREATE TABLE fraud_reviews (
  id          uuid PRIMARY KEY,
  order_id    text        NOT NULL,
  decision_id uuid        NOT NULL REFERENCES fraud_decisions (id),
  attempt_id  uuid,
  amount      bigint      NOT NULL,
  currency    text        NOT NULL,
  score       smallint    NOT NULL,
  reasons     text[]      NOT NULL,
  status      text        NOT NULL CHECK (status IN ('open', 'approved', 'rejected')),
  reviewer    text,
  note        text,
  created_at  timestamptz NOT NULL,
  decided_at  timestamptz,
  CHECK ((status = 'open') = (decided_at IS NULL))
);
CREATE UNIQUE INDEX fraud_reviews_one_open ON fraud_reviews (order_id) WHERE status = 'open';
CREATE INDEX fraud_reviews_status ON fraud_reviews (status, created_at);
CREATE INDEX fraud_reviews_order ON fraud_reviews (order_id, created_at DESC);

-- A chargeback labels the decision that let the payment through (once).
CREATE TABLE fraud_chargebacks (
  decision_id uuid PRIMARY KEY REFERENCES fraud_decisions (id),
  order_id    text        NOT NULL,
  attempt_id  uuid        NOT NULL,
  amount      bigint      NOT NULL,
  settled_at  timestamptz NOT NULL,
  labeled_at  timestamptz NOT NULL
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['fraud_rule_versions', 'fraud_decisions', 'fraud_chargebacks']
  LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH STATEMENT EXECUTE FUNCTION payments_refuse_change()', t || '_append_only', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION payments_refuse_change()', t || '_no_truncate', t);
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I FROM PUBLIC', t);
  END LOOP;
END $$;
