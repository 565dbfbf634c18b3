-- Stock levels are counters updated on every reservation: leave room in each page so updates
-- stay HOT (same page, no new index entry), else a hot SKU's row accumulates index entries
-- for dead versions and every lock of it slows down.
ALTER TABLE inventory_stock SET (fillfactor = 50);
