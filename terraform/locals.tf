locals {
  name       = "totesys-cdc-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # The names the code reads (stream_processor/config.py, warehouse_loader/config.py).
  kcl_application   = "${local.name}-star-schema"
  batch_bucket_name = "${local.name}-batches-${local.account_id}"
  batch_prefix      = "batches"
  manifest_prefix   = "manifests"
  dead_letter_pfx   = "dead-letters"
  rejected_pfx      = "loader-rejected" # rows the warehouse refused (warehouse_loader/rejected.py)
  metrics_namespace = "TotesysCDC/StreamProcessor"

  # The DMS definitions `cdc dms render` writes: never copied by hand.
  dms_table_mappings   = file("${path.module}/dms/table_mappings.json")
  dms_task_settings    = file("${path.module}/dms/task_settings.json")
  dms_kinesis_settings = jsondecode(file("${path.module}/dms/kinesis_settings.json"))
  dms_source_settings  = jsondecode(file("${path.module}/dms/postgres_settings.json"))
}
