-- Stock taken again for a late approval (the order's reservation had lapsed). The row is
-- committed on its own, before the reservation is committed as a sale and before the order's
-- transaction commits, so a retry after a crash in between commits that same reservation
-- (commit is idempotent) instead of selling the order's stock a second time. No foreign key:
-- the order row is locked FOR UPDATE by the transaction that writes this row from another
-- connection, and a key-share lock on it would wait for that transaction forever.
CREATE TABLE checkout_late_reservations (
  order_id       uuid        PRIMARY KEY,
  reservation_id text        NOT NULL,
  created_at     timestamptz NOT NULL
);
