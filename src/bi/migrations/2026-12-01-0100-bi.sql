-- BI: users with roles (scrypt password hashes), sessions (only a hash of the cookie token is
-- kept), the append-only access audit log, and KPI alert rules with their last state.
CREATE TABLE bi_users (
  id            uuid        PRIMARY KEY,
  username      text        NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._-]{2,64}$'),
  password_hash text        NOT NULL,
  roles         text[]      NOT NULL CHECK (roles <@ ARRAY['analyst','scientist','cdo','engineer','admin']::text[]),
  disabled      boolean     NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  created_by    text
);

CREATE TABLE bi_sessions (
  token_hash  bytea       PRIMARY KEY,
  user_id     uuid        NOT NULL REFERENCES bi_users (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX bi_sessions_expiry ON bi_sessions (expires_at);

-- Who opened which dashboard, ran which query, exported what, and when (append-only).
CREATE TABLE bi_access_audit (
  id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  username  text        NOT NULL,
  roles     text[]      NOT NULL,
  action    text        NOT NULL CHECK (action IN ('login', 'login_failed', 'logout', 'dashboard', 'drill', 'export', 'query', 'query_refused', 'user_admin', 'fraud_review', 'alert_rule')),
  target    text        NOT NULL,
  row_count bigint,
  detail    jsonb
);
CREATE INDEX bi_access_audit_at ON bi_access_audit (at DESC);

CREATE FUNCTION bi_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'bi_access_audit is append-only: % refused', TG_OP USING ERRCODE = 'P0001';
END $$;
CREATE TRIGGER bi_access_audit_no_update BEFORE UPDATE OR DELETE ON bi_access_audit
  FOR EACH ROW EXECUTE FUNCTION bi_audit_append_only();
CREATE TRIGGER bi_access_audit_no_truncate BEFORE TRUNCATE ON bi_access_audit
  FOR EACH STATEMENT EXECUTE FUNCTION bi_audit_append_only();

-- Thresholds on KPIs, as data; the evaluator writes each rule's last value and state.
CREATE TABLE bi_alert_rules (
  id          text        PRIMARY KEY CHECK (id ~ '^[a-z0-9_-]{2,64}$'),
  kpi         text        NOT NULL,
  op          text        NOT NULL CHECK (op IN ('>', '>=', '<', '<=')),
  threshold   double precision NOT NULL,
  description text        NOT NULL,
  enabled     boolean     NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE bi_alert_state (
  rule_id      text        PRIMARY KEY REFERENCES bi_alert_rules (id) ON DELETE CASCADE,
  value        double precision,
  firing       boolean     NOT NULL,
  since        timestamptz,
  evaluated_at timestamptz NOT NULL
);

INSERT INTO bi_alert_rules (id, kpi, op, threshold, description) VALUES
  ('stuck-payments', 'payments_pending_over_1h', '>', 0, 'Payments pending for more than an hour'),
  ('etl-freshness', 'etl_lag_seconds', '>', 300, 'Warehouse more than 5 minutes behind the events'),
  ('approval-rate-drop', 'approval_rate_24h', '<', 0.7, 'Payment approval rate over the last 24 h below 70 %'),
  ('stockouts', 'stockouts', '>', 0, 'SKU-locations with nothing available'),
  ('dq-failures', 'dq_failing_checks', '>', 0, 'Data-quality checks failing in the last run');
