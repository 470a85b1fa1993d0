-- The load ledger: one row per manifest loaded, written in the same transaction as its rows,
-- so a redelivered or replayed manifest is recognised and skipped.
CREATE TABLE cdc_load_ledger (
    manifest_key   text PRIMARY KEY,
    etag           text,
    shard_id       text,
    records        integer NOT NULL,
    rows_loaded    jsonb NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    duration_ms    numeric(12, 1)
);
