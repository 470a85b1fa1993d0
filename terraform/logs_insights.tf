# Saved CloudWatch Logs Insights queries over the pipeline's logs (CloudWatch console: Logs
# Insights, "Saved queries", folder ${local.name}), and metric filters turning log events the
# pipeline publishes no metric for into metrics the alarms in alarms.tf watch.
#
# The queries read our JSON events (contracts/events.py: ts, level, event and the event's
# fields), which Logs Insights discovers as fields, nested objects flattened with dots
# (rows.fact_payment): "Supported logs and discovered fields", Amazon CloudWatch Logs User Guide,
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_AnalyzeLogData-discoverable-fields.html
# Filter patterns: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html

locals {
  # The tables the processor writes (rows per table in batch_committed's rows); dim_date is the
  # loader's. tests/terraform checks this list against contracts/star_schema.py.
  processor_tables = [
    "dim_staff", "dim_location", "dim_currency", "dim_design", "dim_counterparty",
    "dim_payment_type", "dim_transaction", "fact_sales_order", "fact_purchase_order", "fact_payment",
  ]
  loader_metrics_namespace = "TotesysCDC/Loader"
  queries_folder           = local.name
}

resource "aws_cloudwatch_query_definition" "manifests_and_rows" {
  name            = "${local.queries_folder}/manifests per minute and rows per table"
  log_group_names = [aws_cloudwatch_log_group.processor.name]
  query_string    = <<-EOT
    # each batch_committed event is one manifest written (stream_processor/shard.py)
    filter event = "batch_committed"
    | stats count(*) as manifests, sum(records) as records, ${join(", ", [for t in local.processor_tables : "sum(rows.${t}) as ${t}"])} by bin(1m)
    | sort bin(1m) desc
  EOT
}

resource "aws_cloudwatch_query_definition" "dead_letters_by_reason" {
  name            = "${local.queries_folder}/dead letters by reason"
  log_group_names = [aws_cloudwatch_log_group.processor.name]
  query_string    = <<-EOT
    # cause: bad_record (bad data) or processor_error (our bug); key: the letter in S3,
    # for stream-processor dead-letters show KEY
    filter event = "dead_letter"
    | stats count(*) as letters, latest(key) as latest_letter by cause, reason
    | sort letters desc
  EOT
}

resource "aws_cloudwatch_query_definition" "load_failures_by_class" {
  name            = "${local.queries_folder}/load failures by class"
  log_group_names = [aws_cloudwatch_log_group.loader.name]
  query_string    = <<-EOT
    # manifest_failed: error "<class>: <text>" (BadBatch: never loads as it is; Transient:
    # retries ran out, SQS redelivers it); load_retried: one failed attempt, retried at once
    filter event in ["manifest_failed", "load_retried"]
    | parse error /^(?<failure_class>[A-Za-z]+)[:(]/
    | stats count(*) as failures, latest(error) as latest_error by event, failure_class, retryable
    | sort failures desc
  EOT
}

resource "aws_cloudwatch_query_definition" "refused_rows" {
  name            = "${local.queries_folder}/rows the warehouse refused"
  log_group_names = [aws_cloudwatch_log_group.loader.name]
  query_string    = <<-EOT
    # rows_refused (warehouse_loader/load.py): rows of a manifest's table the warehouse refused
    # for their data, set aside under s3://<batches>/loader-rejected/ (warehouse-loader rejected list)
    filter event = "rows_refused"
    | stats sum(rows) as refused, count(*) as manifests, latest(reason) as latest_reason, latest(manifest) as latest_manifest by table
    | sort refused desc
  EOT
}

resource "aws_cloudwatch_query_definition" "slowest_loads" {
  name            = "${local.queries_folder}/slowest loads"
  log_group_names = [aws_cloudwatch_log_group.loader.name]
  query_string    = <<-EOT
    # manifest_loaded (warehouse_loader/handler.py): duration_ms of the load transaction
    filter event = "manifest_loaded"
    | fields @timestamp, duration_ms, attempts, manifest, skipped
    | sort duration_ms desc
    | limit 25
  EOT
}

resource "aws_cloudwatch_query_definition" "processor_startup" {
  name            = "${local.queries_folder}/processor start-up steps"
  log_group_names = [aws_cloudwatch_log_group.processor.name]
  query_string    = <<-EOT
    # stream-processor run's start-up steps, per task (log stream), seconds since it started
    filter event = "startup"
    | fields @timestamp, @logStream, step, shard, elapsed_s
    | sort @timestamp desc
    | limit 200
  EOT
}

resource "aws_cloudwatch_query_definition" "errors" {
  name            = "${local.queries_folder}/errors"
  log_group_names = [aws_cloudwatch_log_group.processor.name, aws_cloudwatch_log_group.loader.name]
  query_string    = <<-EOT
    # our events at level ERROR, and the KCL daemon's own ERROR lines ("<time> ERROR [thread] ...")
    filter level = "ERROR" or @message like /^\S+ ERROR \[/
    | fields @timestamp, @logStream, event, error, reason, @message
    | sort @timestamp desc
    | limit 100
  EOT
}

# --- metric filters: the log events no metric counts ------------------------------------------

# Any ERROR in the processor's log: our events at level ERROR (checkpoint_failed,
# record_processor_failed/_crashed, a processor_error dead letter) and the daemon's own ERROR
# lines. Meaningful since the daemon no longer wraps every event in an ERROR line
# (stream_processor/logback.xml). Both filters count into one metric.
resource "aws_cloudwatch_log_metric_filter" "processor_error_events" {
  name           = "${local.name}-processor-error-events"
  log_group_name = aws_cloudwatch_log_group.processor.name
  pattern        = "{ $.level = \"ERROR\" }"
  metric_transformation {
    name      = "ErrorLogLines"
    namespace = local.metrics_namespace
    value     = "1"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_log_metric_filter" "processor_daemon_errors" {
  name           = "${local.name}-processor-daemon-errors"
  log_group_name = aws_cloudwatch_log_group.processor.name
  # the daemon's line: "<ISO time> <LEVEL> [thread] logger [shard] - message"
  pattern = "[time, level = \"ERROR\", ...]"
  metric_transformation {
    name      = "ErrorLogLines"
    namespace = local.metrics_namespace
    value     = "1"
    unit      = "Count"
  }
}

# A record processor that stopped its shard (kcl_app.StarSchemaProcessor.stop).
resource "aws_cloudwatch_log_metric_filter" "processor_shard_stops" {
  name           = "${local.name}-processor-shard-stops"
  log_group_name = aws_cloudwatch_log_group.processor.name
  pattern        = "{ $.event = \"shard_stopped\" }"
  metric_transformation {
    name      = "ShardStops"
    namespace = local.metrics_namespace
    value     = "1"
    unit      = "Count"
  }
}

# A manifest the loader could not load. The Lambda's Errors metric counts failed invocations
# only; a manifest reported back as a partial batch failure is not one, and reaches the DLQ
# alarm only after the queue's last redelivery.
resource "aws_cloudwatch_log_metric_filter" "loader_manifest_failures" {
  name           = "${local.name}-loader-manifest-failures"
  log_group_name = aws_cloudwatch_log_group.loader.name
  pattern        = "{ $.event = \"manifest_failed\" }"
  metric_transformation {
    name      = "ManifestFailures"
    namespace = local.loader_metrics_namespace
    value     = "1"
    unit      = "Count"
  }
}

# Rows the warehouse refused for their data (one rows_refused event per manifest and table,
# with the count): set aside as letters, the rest of the manifest loaded.
resource "aws_cloudwatch_log_metric_filter" "loader_rows_refused" {
  name           = "${local.name}-loader-rows-refused"
  log_group_name = aws_cloudwatch_log_group.loader.name
  pattern        = "{ $.event = \"rows_refused\" }"
  metric_transformation {
    name      = "RowsRefused"
    namespace = local.loader_metrics_namespace
    value     = "$.rows"
    unit      = "Count"
  }
}
