-- Orders held for fraud review: paid, stock still reserved, waiting for a person.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN ('pending_payment', 'paid', 'payment_failed', 'expired',
  'cancelled', 'refunding', 'partially_refunded', 'refunded', 'fulfilled', 'on_hold'));
