-- Durable consumers: a position per consumer as (tx_id, event_seq) in the outbox's commit-safe
-- order, an inbox of handled events (written in the handler's transaction), dead letters, and
-- the relay's own position (the relay is a consumer that publishes to NATS JetStream).
CREATE TABLE events_positions (
  consumer   text        PRIMARY KEY,
  tx_id      xid8        NOT NULL DEFAULT '0',
  event_seq  bigint      NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events_inbox (
  consumer     text        NOT NULL,
  event_id     uuid        NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);

CREATE TABLE events_dead_letters (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  consumer         text        NOT NULL,
  event_id         uuid        NOT NULL,
  event_seq        bigint      NOT NULL,
  type             text        NOT NULL,
  version          integer     NOT NULL,
  envelope         jsonb       NOT NULL,
  error            text        NOT NULL,
  attempts         integer     NOT NULL,
  failed_at        timestamptz NOT NULL DEFAULT now(),
  -- requested: `embudo events replay <id>` asked the consumer to run it again.
  status           text        NOT NULL DEFAULT 'dead' CHECK (status IN ('dead', 'requested', 'replayed')),
  replayed_at      timestamptz,
  UNIQUE (consumer, event_id)
);
CREATE INDEX events_dead_letters_requested ON events_dead_letters (consumer) WHERE status = 'requested';
