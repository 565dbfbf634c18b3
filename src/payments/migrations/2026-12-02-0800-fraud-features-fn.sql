-- The fraud decision's features read as a function: its plan is made once per connection
-- (a generic plan, cached by PL/pgSQL), not for every batch, and each entity, customer and
-- card is looked up by its primary key (LATERAL, fenced with OFFSET 0), never by a scan of a
-- whole table filtered by a list: on small tables the planner preferred the scan, which
-- compared every row with every key (1.4 ms for 40 keys over 2,600 counter rows; 0.1 ms as
-- lookups).
CREATE FUNCTION fraud_features(
  p_entities text[], p_from_1h timestamptz, p_from_24h timestamptz, p_customer_ids text[], p_cards text[],
  OUT counters json, OUT profiles json, OUT regions json
) LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
  SELECT json_agg(c) INTO counters FROM (
    SELECT e.entity, s.*
      FROM unnest(p_entities) AS e(entity)
      CROSS JOIN LATERAL (
        SELECT coalesce(sum(f.attempts) FILTER (WHERE f.bucket >= p_from_1h), 0)::int AS attempts_1h, sum(f.attempts)::int AS attempts_24h,
               coalesce(sum(f.declines) FILTER (WHERE f.bucket >= p_from_1h), 0)::int AS declines_1h, sum(f.declines)::int AS declines_24h,
               coalesce(sum(f.small_declines) FILTER (WHERE f.bucket >= p_from_1h), 0)::int AS small_declines_1h, sum(f.small_declines)::int AS small_declines_24h,
               coalesce(sum(f.amount) FILTER (WHERE f.bucket >= p_from_1h), 0)::float8 AS amount_1h, sum(f.amount)::float8 AS amount_24h
          FROM fraud_counters f WHERE f.entity = e.entity AND f.bucket >= p_from_24h) s
     WHERE s.attempts_24h IS NOT NULL) c;

  SELECT json_agg(p) INTO profiles FROM (
    SELECT x.customer_id, x.approved_orders, x.approved_amount, x.max_amount
      FROM unnest(p_customer_ids) AS u(customer_id)
      CROSS JOIN LATERAL (
        SELECT fp.customer_id, fp.approved_orders, fp.approved_amount::float8 AS approved_amount, fp.max_amount::float8 AS max_amount
          FROM fraud_customer_profiles fp WHERE fp.customer_id = u.customer_id OFFSET 0) x) p;

  SELECT json_agg(r) INTO regions FROM (
    SELECT u.card, x.regions
      FROM unnest(p_cards) AS u(card)
      CROSS JOIN LATERAL (SELECT array_agg(cr.region) AS regions FROM fraud_card_regions cr WHERE cr.card = u.card) x
     WHERE x.regions IS NOT NULL) r;
END
$$;
