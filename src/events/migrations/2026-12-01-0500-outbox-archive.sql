-- The outbox archive's files in the lake (<dataDir>/lake/outbox_archive/date=YYYY-MM-DD/*.parquet),
-- recorded in the same transaction that deletes their rows from events_outbox. A file on disk
-- that is not listed here was left by an archiver that stopped before committing: its rows are
-- still hot, and the next run removes the file before archiving them again (exactly once).
CREATE TABLE events_outbox_archive (
  file        text        PRIMARY KEY,
  day         date        NOT NULL,
  first_id    bigint      NOT NULL,
  last_id     bigint      NOT NULL,
  row_count   integer     NOT NULL CHECK (row_count > 0),
  archived_at timestamptz NOT NULL DEFAULT now()
);
