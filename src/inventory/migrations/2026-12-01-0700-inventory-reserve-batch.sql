-- Group-commit reservations with late locking. The batcher plans a batch in memory against
-- levels it read earlier (or predicted from the batch before it), then this one call locks
-- every stock row of the batch's SKUs in the global lock order (sku, location_id), checks they
-- still hold exactly the planned-from values, and writes reservations, lines, movements and
-- levels, and notifies the availability channel. It returns NULL when it applied the batch;
-- otherwise it writes nothing and returns the current rows (jsonb), and the caller rolls back
-- and plans again. Row locks are held from here to COMMIT only.
CREATE FUNCTION inventory_reserve_batch(
  p_skus text[],
  p_check_sku text[], p_check_loc text[], p_check_on_hand integer[], p_check_reserved integer[],
  p_level_sku text[], p_level_loc text[], p_level_delta integer[],
  p_res_id uuid[], p_res_ref text[], p_res_exp timestamptz[],
  p_line_res uuid[], p_line_no integer[], p_line_sku text[], p_line_loc text[], p_line_qty integer[],
  p_now timestamptz, p_channel text
) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_current jsonb;
  v_same boolean;
  v_notes text[];
BEGIN
  PERFORM 1 FROM inventory_stock WHERE sku = ANY (p_skus) ORDER BY sku, location_id FOR UPDATE;
  -- Locked: this statement (a new snapshot) sees the latest committed values.
  WITH cur AS (
    SELECT s.sku, s.location_id, s.on_hand, s.reserved, l.priority
    FROM inventory_stock s JOIN inventory_locations l ON l.id = s.location_id
    WHERE s.sku = ANY (p_skus)
  ), planned AS (
    SELECT * FROM unnest(p_check_sku, p_check_loc, p_check_on_hand, p_check_reserved) AS p(sku, location_id, on_hand, reserved)
  )
  SELECT NOT EXISTS (SELECT sku, location_id, on_hand, reserved FROM cur EXCEPT ALL SELECT * FROM planned)
     AND NOT EXISTS (SELECT * FROM planned EXCEPT ALL SELECT sku, location_id, on_hand, reserved FROM cur),
         (SELECT coalesce(jsonb_agg(jsonb_build_array(sku, location_id, on_hand, reserved, priority)), '[]'::jsonb) FROM cur)
    INTO v_same, v_current;
  IF NOT v_same THEN
    RETURN v_current;
  END IF;

  WITH u AS (
    UPDATE inventory_stock s SET reserved = s.reserved + v.delta, version = s.version + 1
    FROM unnest(p_level_sku, p_level_loc, p_level_delta) AS v(sku, location_id, delta)
    WHERE s.sku = v.sku AND s.location_id = v.location_id
    RETURNING s.sku, s.location_id, s.on_hand - s.reserved AS available, s.version
  ), numbered AS (
    SELECT *, (row_number() OVER () - 1) / 100 AS chunk FROM u
  )
  SELECT array_agg(note) INTO v_notes FROM (
    SELECT json_agg(json_build_array(sku, location_id, available, version))::text AS note FROM numbered GROUP BY chunk
  ) n;
  INSERT INTO inventory_reservations (id, status, reference, expires_at, created_at)
    SELECT id, 'active', ref, exp, p_now FROM unnest(p_res_id, p_res_ref, p_res_exp) AS t(id, ref, exp);
  INSERT INTO inventory_reservation_lines (reservation_id, line_no, sku, location_id, quantity)
    SELECT * FROM unnest(p_line_res, p_line_no, p_line_sku, p_line_loc, p_line_qty);
  INSERT INTO inventory_movements (sku, location_id, kind, on_hand_delta, reserved_delta, reservation_id, created_at)
    SELECT sku, loc, 'reservation', 0, q, rid, p_now FROM unnest(p_line_sku, p_line_loc, p_line_qty, p_line_res) AS t(sku, loc, q, rid);
  PERFORM pg_notify(p_channel, note) FROM unnest(v_notes) AS note WHERE note IS NOT NULL;
  RETURN NULL;
END $$;
