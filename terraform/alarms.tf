# Every alarm goes to one SNS topic; subscribe an address with var.alarm_email (or add other
# subscriptions to the topic output). DMS task failures arrive as DMS events on the same topic.

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.pipeline.arn
}

data "aws_iam_policy_document" "alarms_topic" {
  statement {
    sid       = "CloudWatchAlarmsAndDmsEvents"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "dms.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms_topic.json
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# DMS task failure: the task's failure and state-change events (stopped, failed).
resource "aws_dms_event_subscription" "task" {
  name             = "${local.name}-dms-task"
  sns_topic_arn    = aws_sns_topic.alarms.arn
  source_type      = "replication-task"
  source_ids       = [aws_dms_replication_task.cdc.replication_task_id]
  event_categories = ["failure", "state change"]
  enabled          = true
}

resource "aws_dms_event_subscription" "instance" {
  name             = "${local.name}-dms-instance"
  sns_topic_arn    = aws_sns_topic.alarms.arn
  source_type      = "replication-instance"
  source_ids       = [aws_dms_replication_instance.this.replication_instance_id]
  event_categories = ["failure", "failover", "low storage"]
  enabled          = true
}

locals {
  dms_dimensions = {
    ReplicationInstanceIdentifier = aws_dms_replication_instance.this.replication_instance_id
    ReplicationTaskIdentifier     = aws_dms_replication_task.cdc.replication_task_id
  }
  alarm_actions = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "dms_cdc_latency_source" {
  alarm_name          = "${local.name}-dms-cdc-latency-source"
  alarm_description   = "DMS reads ToteSys's WAL more than ${var.cdc_latency_alarm_s} s late (source busy, slot lag, instance too small)."
  namespace           = "AWS/DMS"
  metric_name         = "CDCLatencySource"
  dimensions          = local.dms_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.cdc_latency_alarm_s
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "dms_cdc_latency_target" {
  alarm_name          = "${local.name}-dms-cdc-latency-target"
  alarm_description   = "DMS writes changes to Kinesis more than ${var.cdc_latency_alarm_s} s after they were committed."
  namespace           = "AWS/DMS"
  metric_name         = "CDCLatencyTarget"
  dimensions          = local.dms_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.cdc_latency_alarm_s
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# ToteSys's own health: a replication slot that is not read holds WAL until the disk fills (the
# source's outage, not the pipeline's). Metrics of the RDS instance (AWS/RDS, per
# DBInstanceIdentifier; "Amazon CloudWatch metrics for Amazon RDS", RDS User Guide).
resource "aws_cloudwatch_metric_alarm" "source_slot_lag" {
  alarm_name          = "${local.name}-source-replication-slot-lag"
  alarm_description   = "ToteSys's oldest replication slot holds back more than ${var.slot_lag_alarm_bytes} bytes of WAL: is the DMS task running? (cdc monitor --source aws)"
  namespace           = "AWS/RDS"
  metric_name         = "OldestReplicationSlotLag"
  dimensions          = { DBInstanceIdentifier = var.source_db_instance_identifier }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.slot_lag_alarm_bytes
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "source_transaction_logs" {
  alarm_name          = "${local.name}-source-transaction-logs-disk"
  alarm_description   = "ToteSys's WAL takes more than ${var.transaction_logs_alarm_bytes} bytes of disk (a slot holding it, or a write burst)."
  namespace           = "AWS/RDS"
  metric_name         = "TransactionLogsDiskUsage"
  dimensions          = { DBInstanceIdentifier = var.source_db_instance_identifier }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.transaction_logs_alarm_bytes
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "kinesis_iterator_age" {
  alarm_name          = "${local.name}-processor-behind"
  alarm_description   = "The stream processor is more than ${var.iterator_age_alarm_ms} ms behind the stream (tasks down, too few tasks, or failing batches)."
  namespace           = "AWS/Kinesis"
  metric_name         = "GetRecords.IteratorAgeMilliseconds"
  dimensions          = { StreamName = aws_kinesis_stream.changes.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.iterator_age_alarm_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "load_dlq_depth" {
  alarm_name          = "${local.name}-load-dead-letters"
  alarm_description   = "Manifests the loader gave up on are waiting in the load DLQ: read the loader's logs, fix, then redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.load_dlq.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "processor_dead_letters" {
  alarm_name          = "${local.name}-processor-dead-letters"
  alarm_description   = "The processor dead-lettered change records it could not decode (s3://<batches>/${local.dead_letter_pfx}/)."
  namespace           = local.metrics_namespace
  metric_name         = "DeadLetters"
  dimensions          = { Application = local.kcl_application }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "processor_schema_drift" {
  alarm_name          = "${local.name}-processor-schema-drift"
  alarm_description   = "The source's tables no longer match Contract A (a column added, gone or of another type, a table added or dropped): schema_drift events in the processor's log say which and whether it breaks the contract. Evolve the contract (docs/contracts.md) or revert the source; breaking drift also dead-letters the table's records."
  namespace           = local.metrics_namespace
  metric_name         = "SchemaDrift"
  dimensions          = { Application = local.kcl_application }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "processor_errors" {
  alarm_name          = "${local.name}-processor-errors"
  alarm_description   = "The processor's own code failed on a valid change record (a bug, not bad data): the record is dead-lettered as processor_error; fix, then stream-processor dead-letters redrive."
  namespace           = local.metrics_namespace
  metric_name         = "ProcessorErrors"
  dimensions          = { Application = local.kcl_application }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "loader_errors" {
  alarm_name          = "${local.name}-loader-errors"
  alarm_description   = "The loader Lambda failed invocations (a whole batch failed, e.g. the warehouse is unreachable)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.loader.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "loader_throttles" {
  alarm_name          = "${local.name}-loader-throttles"
  alarm_description   = "The loader Lambda is throttled: loads queue up behind its reserved concurrency."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.loader.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# From log metric filters (logs_insights.tf): what no published metric counts.
resource "aws_cloudwatch_metric_alarm" "processor_error_log_lines" {
  alarm_name          = "${local.name}-processor-error-log-lines"
  alarm_description   = "The processor logged an ERROR (a failed checkpoint, a record processor's exception, a processor_error dead letter, or the KCL daemon's own error): saved query 'errors'."
  namespace           = local.metrics_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.processor_error_events.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "loader_manifest_failures" {
  alarm_name          = "${local.name}-loader-manifest-failures"
  alarm_description   = "The loader failed to load a manifest (SQS redelivers it; after the last redelivery it waits in the load DLQ): saved query 'load failures by class'."
  namespace           = local.loader_metrics_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.loader_manifest_failures.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "loader_rows_refused" {
  alarm_name          = "${local.name}-loader-rows-refused"
  alarm_description   = "The warehouse refused rows for their data (too long, a NUL, out of range, NOT NULL, CHECK): set aside under s3://<batches>/${local.rejected_pfx}/, the rest loaded. Saved query 'rows the warehouse refused'; warehouse-loader rejected list, fix, rejected redrive."
  namespace           = local.loader_metrics_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.loader_rows_refused.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "load_queue_age" {
  alarm_name          = "${local.name}-load-queue-age"
  alarm_description   = "A manifest has waited on the load queue more than ${var.load_queue_age_alarm_s} s: the loader is behind (throttled, too little concurrency, the warehouse slow) or a manifest keeps failing and is redelivered."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.load.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.load_queue_age_alarm_s
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# A shard holding records it has not committed (the record processor's watchdog publishes the
# seconds every minute; stream_processor/kcl_app.py). Committing keeps it near the batch age (1 s).
resource "aws_cloudwatch_metric_alarm" "processor_shard_uncommitted" {
  alarm_name          = "${local.name}-processor-shard-uncommitted"
  alarm_description   = "A shard has held records without committing them for more than ${var.shard_stall_alarm_s} s (a call that hangs, a store that never answers): stream-processor status names it and its last stop."
  namespace           = local.metrics_namespace
  metric_name         = "UncommittedSeconds"
  dimensions          = { Application = local.kcl_application }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = var.shard_stall_alarm_s
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# A worker that keeps stopping its shards (an edge down, the breaker tripping on our own bug):
# each stop restarts the daemon and reads every shard of the worker again from its checkpoint,
# so the shards do not move while it lasts.
resource "aws_cloudwatch_metric_alarm" "processor_shard_stops" {
  alarm_name          = "${local.name}-processor-shard-stops"
  alarm_description   = "Shards stopped 3 times or more in 15 minutes (shard_stopped events: an edge unavailable, a commit that could not be made, or the breaker on most records failing as processor_error): stream-processor status, then the saved query 'errors' for the reason."
  namespace           = local.metrics_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.processor_shard_stops.metric_transformation[0].name
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = 1
  threshold           = 3
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
