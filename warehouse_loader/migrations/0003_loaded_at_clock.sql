-- cdc_loaded_at and the ledger's loaded_at: the moment the row was written (clock_timestamp),
-- not the start of its load transaction (now()), so commit-to-warehouse latency and freshness
-- are measured from when a row really landed.
ALTER TABLE dim_staff ALTER COLUMN cdc_loaded_at SET DEFAULT clock_timestamp();
ALTER TABLE dim_location ALTER COLUMN cdc_loaded_at SET DEFAULT clock_timestamp();
ALTER TABLE dim_currency ALTER COLUMN cdc_loaded_at SET DEFAULT clock_timestamp();
ALTER TABLE dim_design ALTER COLUMN cdc_loaded_at SET DEFAULT clock_timestamp();
ALTER TABLE dim_counterparty ALTER COLUMN cdc_loaded_at SET DEFAULT clock_timestamp();
ALTER TABLE dim_payment_type ALTER COLUMN cdc_loaded_at SET DEFAULT clock_timestamp();
ALTER TABLE dim_transaction ALTER COLUMN cdc_loaded_at SET DEFAULT clock_timestamp();
ALTER TABLE fact_sales_order ALTER COLUMN cdc_loaded_at SET DEFAULT clock_timestamp();
ALTER TABLE fact_purchase_order ALTER COLUMN cdc_loaded_at SET DEFAULT clock_timestamp();
ALTER TABLE fact_payment ALTER COLUMN cdc_loaded_at SET DEFAULT clock_timestamp();
ALTER TABLE cdc_load_ledger ALTER COLUMN loaded_at SET DEFAULT clock_timestamp();
