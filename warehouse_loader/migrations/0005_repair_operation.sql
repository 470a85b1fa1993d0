-- A fact version written by `warehouse-loader reconcile --repair` (the source's row at a
-- snapshot, versioned at the snapshot's WAL position) says so: cdc_operation = 'repair'.
ALTER TABLE fact_sales_order DROP CONSTRAINT fact_sales_order_cdc_operation_check;
ALTER TABLE fact_sales_order ADD CONSTRAINT fact_sales_order_cdc_operation_check
    CHECK (cdc_operation IN ('load', 'insert', 'update', 'delete', 'repair'));
ALTER TABLE fact_purchase_order DROP CONSTRAINT fact_purchase_order_cdc_operation_check;
ALTER TABLE fact_purchase_order ADD CONSTRAINT fact_purchase_order_cdc_operation_check
    CHECK (cdc_operation IN ('load', 'insert', 'update', 'delete', 'repair'));
ALTER TABLE fact_payment DROP CONSTRAINT fact_payment_cdc_operation_check;
ALTER TABLE fact_payment ADD CONSTRAINT fact_payment_cdc_operation_check
    CHECK (cdc_operation IN ('load', 'insert', 'update', 'delete', 'repair'));
