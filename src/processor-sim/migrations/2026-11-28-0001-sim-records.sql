-- The processor simulator's own state, kept apart from the platform's tables: it plays an
-- external processor, so it stores documents (Webpay transactions, Oneclick inscriptions,
-- Mercado Pago payments, pending webhook deliveries) by kind and id. due_at drives the
-- simulator's own timers (webhook retries, cash payment expiry, in_process settlement).
CREATE TABLE sim_records (
  kind       text        NOT NULL,
  id         text        NOT NULL,
  data       jsonb       NOT NULL,
  due_at     timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, id)
);
CREATE INDEX sim_records_due ON sim_records (kind, due_at) WHERE due_at IS NOT NULL;

-- What the simulator received and sent, for its admin page and for demos.
CREATE TABLE sim_log (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at         timestamptz NOT NULL,
  direction  text        NOT NULL CHECK (direction IN ('in', 'out')),
  summary    text        NOT NULL,
  status     integer
);
