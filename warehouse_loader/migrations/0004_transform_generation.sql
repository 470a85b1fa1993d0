-- The transform generation (contracts/generation.py) that wrote each row, and the load ledger
-- keyed by (manifest, generation): a manifest replayed by a newer generation (after a fix to
-- the transform) is loaded, and its rows replace those of an equal version. Rows loaded before
-- generations existed are generation 1.
ALTER TABLE dim_staff ADD COLUMN cdc_generation integer NOT NULL DEFAULT 1;
ALTER TABLE dim_location ADD COLUMN cdc_generation integer NOT NULL DEFAULT 1;
ALTER TABLE dim_currency ADD COLUMN cdc_generation integer NOT NULL DEFAULT 1;
ALTER TABLE dim_design ADD COLUMN cdc_generation integer NOT NULL DEFAULT 1;
ALTER TABLE dim_counterparty ADD COLUMN cdc_generation integer NOT NULL DEFAULT 1;
ALTER TABLE dim_payment_type ADD COLUMN cdc_generation integer NOT NULL DEFAULT 1;
ALTER TABLE dim_transaction ADD COLUMN cdc_generation integer NOT NULL DEFAULT 1;
ALTER TABLE fact_sales_order ADD COLUMN cdc_generation integer NOT NULL DEFAULT 1;
ALTER TABLE fact_purchase_order ADD COLUMN cdc_generation integer NOT NULL DEFAULT 1;
ALTER TABLE fact_payment ADD COLUMN cdc_generation integer NOT NULL DEFAULT 1;
ALTER TABLE cdc_load_ledger ADD COLUMN generation integer NOT NULL DEFAULT 1;
ALTER TABLE cdc_load_ledger DROP CONSTRAINT cdc_load_ledger_pkey;
ALTER TABLE cdc_load_ledger ADD PRIMARY KEY (manifest_key, generation);
