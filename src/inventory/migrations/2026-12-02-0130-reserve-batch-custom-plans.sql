-- inventory_reserve_batch's statements take their arrays as parameters. After five calls
-- plpgsql caches a generic plan, and once the stock table has statistics (any ANALYZE) the
-- generic plans of its statements cost a hot SKU's batches about 2.5x (64 callers on one SKU
-- among 20,000: 2,704 reservations/s with the cached generic plans, 6,336/s planned for each
-- call's own arrays). Planning each call is a fraction of a millisecond per batch.
ALTER FUNCTION inventory_reserve_batch(
  text[], text[], text[], integer[], integer[], text[], text[], integer[],
  uuid[], text[], timestamptz[], uuid[], integer[], text[], text[], integer[], timestamptz, text
) SET plan_cache_mode = force_custom_plan;
