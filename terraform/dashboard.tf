# One page for the whole pipeline, in flow order: DMS → Kinesis → processor → S3/SQS → loader.
locals {
  dashboard_widgets = [
    ["DMS CDC latency (s)", [
      ["AWS/DMS", "CDCLatencySource", "ReplicationInstanceIdentifier", local.dms_dimensions.ReplicationInstanceIdentifier, "ReplicationTaskIdentifier", local.dms_dimensions.ReplicationTaskIdentifier],
      ["AWS/DMS", "CDCLatencyTarget", "ReplicationInstanceIdentifier", local.dms_dimensions.ReplicationInstanceIdentifier, "ReplicationTaskIdentifier", local.dms_dimensions.ReplicationTaskIdentifier],
    ], "Maximum"],
    ["DMS changes applied", [
      ["AWS/DMS", "CDCIncomingChanges", "ReplicationInstanceIdentifier", local.dms_dimensions.ReplicationInstanceIdentifier, "ReplicationTaskIdentifier", local.dms_dimensions.ReplicationTaskIdentifier],
    ], "Maximum"],
    ["Kinesis records in / out", [
      ["AWS/Kinesis", "IncomingRecords", "StreamName", aws_kinesis_stream.changes.name],
      ["AWS/Kinesis", "GetRecords.Records", "StreamName", aws_kinesis_stream.changes.name],
    ], "Sum"],
    ["Processor behind the stream (ms)", [
      ["AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", aws_kinesis_stream.changes.name],
      [local.metrics_namespace, "MillisBehindLatest", "Application", local.kcl_application],
    ], "Maximum"],
    ["Processor records, rows, dead letters", [
      [local.metrics_namespace, "RecordsIn", "Application", local.kcl_application],
      [local.metrics_namespace, "RowsOut", "Application", local.kcl_application],
      [local.metrics_namespace, "DeadLetters", "Application", local.kcl_application],
    ], "Sum"],
    ["Processor flush latency (ms)", [
      [local.metrics_namespace, "FlushLatencyMs", "Application", local.kcl_application],
    ], "p99"],
    ["Processor tasks (autoscaled on iterator age)", [
      ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", aws_ecs_cluster.this.name, "ServiceName", aws_ecs_service.processor.name],
      ["ECS/ContainerInsights", "DesiredTaskCount", "ClusterName", aws_ecs_cluster.this.name, "ServiceName", aws_ecs_service.processor.name],
    ], "Maximum"],
    ["Load queue and dead letters", [
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.load.name],
      ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.load.name],
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.load_dlq.name],
    ], "Maximum"],
    ["Loader invocations, errors, throttles", [
      ["AWS/Lambda", "Invocations", "FunctionName", aws_lambda_function.loader.function_name],
      ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.loader.function_name],
      ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.loader.function_name],
    ], "Sum"],
    ["Loader duration (ms)", [
      ["AWS/Lambda", "Duration", "FunctionName", aws_lambda_function.loader.function_name],
    ], "p99"],
  ]
}

resource "aws_cloudwatch_dashboard" "pipeline" {
  dashboard_name = local.name
  dashboard_body = jsonencode({
    widgets = [
      for i, w in local.dashboard_widgets : {
        type   = "metric"
        x      = (i % 3) * 8
        y      = floor(i / 3) * 6
        width  = 8
        height = 6
        properties = {
          title   = w[0]
          metrics = w[1]
          stat    = w[2]
          period  = 60
          region  = var.region
          view    = "timeSeries"
        }
      }
    ]
  })
}
