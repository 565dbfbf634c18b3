-- The transactional outbox: every committed change leaves exactly one row here, written in
-- the same transaction as the change. tx_id records the writing transaction so consumers can
-- read in commit-safe order (see src/events/README or consumer code).
CREATE TABLE events_outbox (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id       uuid        NOT NULL UNIQUE,
  tx_id          xid8        NOT NULL DEFAULT pg_current_xact_id(),
  type           text        NOT NULL,
  version        integer     NOT NULL CHECK (version > 0),
  context        text        NOT NULL,
  aggregate_type text        NOT NULL,
  aggregate_id   text        NOT NULL,
  payload        jsonb       NOT NULL,
  occurred_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_outbox_tx_order ON events_outbox (tx_id, id);
