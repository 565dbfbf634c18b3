-- Payments: attempts and their append-only event history, refunds, the notification inbox,
-- the janitor schedule, the card vault and a double-entry money ledger.

-- Shared guard: append-only tables refuse UPDATE and DELETE at the database, whoever asks.
CREATE FUNCTION payments_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'P0001';
END $$;

-- One row per attempt, written before the processor is called (so a crash leaves a trace).
CREATE TABLE payment_attempts (
  id            uuid        PRIMARY KEY,
  order_id      text        NOT NULL,
  customer_id   text        NOT NULL,
  amount        bigint      NOT NULL CHECK (amount > 0),
  currency      text        NOT NULL CHECK (currency = 'CLP'),
  method        text        NOT NULL CHECK (method IN ('oneclick', 'webpay', 'mercadopago_card', 'mercadopago_cash')),
  processor     text        NOT NULL CHECK (processor IN ('transbank', 'mercadopago')),
  buy_order     text        NOT NULL UNIQUE CHECK (length(buy_order) <= 26),
  saved_card_id uuid,
  return_url    text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_attempts_order ON payment_attempts (order_id);

-- The history of each attempt; its current state is the last event's status. Monotonic
-- transitions are enforced in the domain; exactly-once facts are enforced here.
CREATE TABLE payment_attempt_events (
  id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  attempt_id    uuid        NOT NULL REFERENCES payment_attempts (id),
  order_id      text        NOT NULL,
  kind          text        NOT NULL,
  status        text        NOT NULL CHECK (status IN ('created', 'redirect', 'unknown', 'pending', 'review', 'approved', 'rejected', 'expired')),
  processor_ref text,
  reason        text,
  data          jsonb       NOT NULL DEFAULT '{}',
  occurred_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_attempt_events_attempt ON payment_attempt_events (attempt_id, id);
-- Exactly one final outcome per attempt.
CREATE UNIQUE INDEX payment_attempt_one_outcome ON payment_attempt_events (attempt_id)
  WHERE status IN ('approved', 'rejected', 'expired');
-- Each order is charged at most once.
CREATE UNIQUE INDEX payment_order_charged_once ON payment_attempt_events (order_id)
  WHERE status = 'approved';
-- A Webpay token is committed at most once (the claim is taken before calling commit).
CREATE UNIQUE INDEX payment_attempt_one_commit ON payment_attempt_events (attempt_id)
  WHERE kind = 'commit_started';

-- The processor's identifier for an attempt (token, payment id), for lookups from returns
-- and webhooks.
CREATE TABLE payment_processor_refs (
  processor     text        NOT NULL,
  ref           text        NOT NULL,
  attempt_id    uuid        NOT NULL REFERENCES payment_attempts (id),
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (processor, ref)
);

CREATE TABLE payment_refunds (
  id            uuid        PRIMARY KEY,
  attempt_id    uuid        NOT NULL REFERENCES payment_attempts (id),
  order_id      text        NOT NULL,
  amount        bigint      NOT NULL CHECK (amount > 0),
  reason        text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_refunds_attempt ON payment_refunds (attempt_id);

CREATE TABLE payment_refund_events (
  id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  refund_id     uuid        NOT NULL REFERENCES payment_refunds (id),
  status        text        NOT NULL CHECK (status IN ('requested', 'unknown', 'succeeded', 'failed')),
  refund_type   text,
  data          jsonb       NOT NULL DEFAULT '{}',
  occurred_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX payment_refund_one_outcome ON payment_refund_events (refund_id)
  WHERE status IN ('succeeded', 'failed');

-- Captured >= refunded: refunds still standing (not failed) never exceed the approved amount.
CREATE FUNCTION payments_check_refundable() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  captured bigint;
  refunded bigint;
BEGIN
  SELECT a.amount INTO captured FROM payment_attempts a
   WHERE a.id = NEW.attempt_id
     AND EXISTS (SELECT 1 FROM payment_attempt_events e WHERE e.attempt_id = a.id AND e.status = 'approved');
  IF captured IS NULL THEN
    RAISE EXCEPTION 'attempt % is not approved', NEW.attempt_id USING ERRCODE = '23514';
  END IF;
  SELECT coalesce(sum(r.amount), 0) INTO refunded FROM payment_refunds r
   WHERE r.attempt_id = NEW.attempt_id
     AND NOT EXISTS (SELECT 1 FROM payment_refund_events x WHERE x.refund_id = r.id AND x.status = 'failed');
  IF refunded > captured THEN
    RAISE EXCEPTION 'refunds % exceed captured % for attempt %', refunded, captured, NEW.attempt_id
      USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER payment_refunds_within_captured
  AFTER INSERT ON payment_refunds DEFERRABLE INITIALLY IMMEDIATE
  FOR EACH ROW EXECUTE FUNCTION payments_check_refundable();

-- Processor notifications as received (deduped by the provider's notification id).
CREATE TABLE payment_notifications (
  provider        text        NOT NULL,
  notification_id text        NOT NULL,
  resource_id     text        NOT NULL,
  topic           text        NOT NULL,
  body            jsonb       NOT NULL,
  received_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, notification_id)
);
CREATE TABLE payment_notifications_processed (
  provider        text        NOT NULL,
  notification_id text        NOT NULL,
  result          text        NOT NULL,
  processed_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, notification_id),
  FOREIGN KEY (provider, notification_id) REFERENCES payment_notifications (provider, notification_id)
);

-- When the janitor next asks the processor about an unresolved attempt (a work queue, so it
-- is mutable; the facts it learns go to payment_attempt_events).
CREATE TABLE payment_janitor_schedule (
  attempt_id    uuid        PRIMARY KEY REFERENCES payment_attempts (id),
  next_check_at timestamptz NOT NULL,
  checks        integer     NOT NULL DEFAULT 0,
  give_up_at    timestamptz NOT NULL
);
CREATE INDEX payment_janitor_due ON payment_janitor_schedule (next_check_at);

-- Saved cards: the Oneclick tbk_user, envelope-encrypted (AES-256-GCM data key per record,
-- wrapped by a key-encryption key named by kek_id). Only the processor's mask and card type
-- are kept in clear.
CREATE TABLE payment_inscriptions_pending (
  token         text        PRIMARY KEY,
  customer_id   text        NOT NULL,
  username      text        NOT NULL,
  return_url    text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE payment_saved_cards (
  id            uuid        PRIMARY KEY,
  customer_id   text        NOT NULL,
  username      text        NOT NULL,
  card_type     text        NOT NULL,
  card_mask     text        NOT NULL CHECK (card_mask ~ '^[X*]*[0-9]{0,4}$'),
  kek_id        text        NOT NULL,
  wrapped_key   bytea       NOT NULL,
  ciphertext    bytea       NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_saved_cards_customer ON payment_saved_cards (customer_id);

-- Double-entry ledger: amounts are signed (debit > 0, credit < 0); each transaction sums to
-- zero, checked at commit by a deferred constraint trigger.
CREATE TABLE ledger_transactions (
  id            uuid        PRIMARY KEY,
  kind          text        NOT NULL,
  attempt_id    uuid        REFERENCES payment_attempts (id),
  refund_id     uuid        REFERENCES payment_refunds (id),
  occurred_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ledger_one_capture ON ledger_transactions (attempt_id) WHERE kind = 'payment_captured';
CREATE UNIQUE INDEX ledger_one_refund ON ledger_transactions (refund_id) WHERE kind = 'refund';
CREATE TABLE ledger_entries (
  id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id uuid        NOT NULL REFERENCES ledger_transactions (id),
  account        text        NOT NULL,
  amount         bigint      NOT NULL CHECK (amount <> 0),
  currency       text        NOT NULL CHECK (currency = 'CLP')
);
CREATE INDEX ledger_entries_tx ON ledger_entries (transaction_id);
CREATE INDEX ledger_entries_account ON ledger_entries (account);

CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  total bigint;
  n integer;
BEGIN
  SELECT coalesce(sum(amount), 0), count(*) INTO total, n
    FROM ledger_entries WHERE transaction_id = NEW.transaction_id;
  IF total <> 0 OR n < 2 THEN
    RAISE EXCEPTION 'ledger transaction % does not balance (sum %, % entries)', NEW.transaction_id, total, n
      USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_entries_balanced
  AFTER INSERT ON ledger_entries DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
-- A transaction header without entries is caught too.
CREATE FUNCTION ledger_check_has_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ledger_entries WHERE transaction_id = NEW.id) THEN
    RAISE EXCEPTION 'ledger transaction % has no entries', NEW.id USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_transactions_have_entries
  AFTER INSERT ON ledger_transactions DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION ledger_check_has_entries();

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['payment_attempts', 'payment_attempt_events', 'payment_processor_refs',
    'payment_refunds', 'payment_refund_events', 'payment_notifications',
    'payment_notifications_processed', 'ledger_transactions', 'ledger_entries']
  LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH STATEMENT EXECUTE FUNCTION payments_refuse_change()', t || '_append_only', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION payments_refuse_change()', t || '_no_truncate', t);
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I FROM PUBLIC', t);
  END LOOP;
END $$;
