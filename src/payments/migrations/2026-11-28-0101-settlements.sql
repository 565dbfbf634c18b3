-- Processor settlement reports (CSV) as imported: one row per settled payment line. Imports
-- are idempotent (a line is recorded once) and append-only.
CREATE TABLE payment_settlement_lines (
  id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  processor     text        NOT NULL CHECK (processor IN ('transbank', 'mercadopago')),
  processor_ref text        NOT NULL,
  external_ref  text,
  line_type     text        NOT NULL CHECK (line_type IN ('sale', 'refund', 'chargeback')),
  payout_id     text        NOT NULL,
  amount        bigint      NOT NULL CHECK (amount <> 0),
  fee           bigint      NOT NULL CHECK (fee >= 0),
  settled_at    timestamptz NOT NULL,
  attempt_id    uuid        REFERENCES payment_attempts (id),
  outcome       text        NOT NULL CHECK (outcome IN ('matched', 'missing_here', 'amount_mismatch')),
  imported_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (processor, processor_ref, line_type, payout_id, amount)
);
CREATE INDEX payment_settlement_lines_attempt ON payment_settlement_lines (attempt_id);
CREATE TRIGGER payment_settlement_lines_append_only BEFORE UPDATE OR DELETE ON payment_settlement_lines
  FOR EACH STATEMENT EXECUTE FUNCTION payments_refuse_change();
CREATE TRIGGER payment_settlement_lines_no_truncate BEFORE TRUNCATE ON payment_settlement_lines
  FOR EACH STATEMENT EXECUTE FUNCTION payments_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON payment_settlement_lines FROM PUBLIC;
ALTER TABLE ledger_transactions ADD COLUMN payout_id text;
