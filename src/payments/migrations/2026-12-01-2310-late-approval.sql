-- A late approval: the processor approves an attempt it had rejected (or that had expired).
-- The money was taken, so the approval is recorded after the failure (checkout then pays the
-- order or refunds it). An attempt now holds at most one failure, at most one approval, and
-- at most one "second charge given back" (rejected: order_already_paid), and nothing final
-- follows an approval. Each order is still charged at most once (payment_order_charged_once).
DROP INDEX payment_attempt_one_outcome;
CREATE UNIQUE INDEX payment_attempt_one_failure ON payment_attempt_events (attempt_id)
  WHERE status IN ('rejected', 'expired') AND reason IS DISTINCT FROM 'order_already_paid';
CREATE UNIQUE INDEX payment_attempt_one_approval ON payment_attempt_events (attempt_id)
  WHERE status = 'approved';
CREATE UNIQUE INDEX payment_attempt_one_give_back ON payment_attempt_events (attempt_id)
  WHERE status = 'rejected' AND reason = 'order_already_paid';

-- An approval is the last word. Writers hold the attempt's lock, so a check is enough; it
-- fails as a unique violation, like the indexes, so callers read what won.
CREATE FUNCTION payments_approval_is_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM payment_attempt_events e WHERE e.attempt_id = NEW.attempt_id AND e.status = 'approved') THEN
    RAISE EXCEPTION 'payment_attempt_approval_is_final: attempt % is approved; % cannot follow', NEW.attempt_id, NEW.status
      USING ERRCODE = '23505';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payment_attempt_approval_is_final
  BEFORE INSERT ON payment_attempt_events
  FOR EACH ROW WHEN (NEW.status IN ('rejected', 'expired'))
  EXECUTE FUNCTION payments_approval_is_final();
