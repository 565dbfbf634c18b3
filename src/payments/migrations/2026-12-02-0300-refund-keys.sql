-- Refunds made with an idempotency key (automatic refunds of an order's effects, retried when
-- the order's transaction is retried): one refund per payment and key.
ALTER TABLE payment_refunds ADD COLUMN idempotency_key text;
CREATE UNIQUE INDEX payment_refunds_key ON payment_refunds (attempt_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
