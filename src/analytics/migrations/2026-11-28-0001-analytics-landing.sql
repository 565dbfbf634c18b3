-- Events the analytics.etl consumer has received, landed in the same transaction as its inbox
-- row (exactly once); the ETL moves them to the DuckDB warehouse past its high-water mark.
CREATE TABLE analytics_landing (
  landing_seq bigserial PRIMARY KEY,
  event_id uuid NOT NULL UNIQUE,
  outbox_seq bigint NOT NULL,
  type text NOT NULL,
  version int NOT NULL,
  aggregate_id text NOT NULL,
  payload jsonb NOT NULL,
  occurred_at timestamptz NOT NULL,
  landed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX analytics_landing_occurred ON analytics_landing (occurred_at);
