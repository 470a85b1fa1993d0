# The stream processor: the KCL MultiLangDaemon with stream_processor's record processors
# (`stream-processor run`, the image built by `make image`), as a Fargate service. Each task
# is one KCL worker; the KCL spreads the shards' leases over them. The task count scales on
# the stream's iterator age (below); docs/sizing.md sizes it per change rate.

resource "aws_cloudwatch_log_group" "processor" {
  name              = "/ecs/${local.name}-processor"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.pipeline.arn
}

resource "aws_ecs_cluster" "this" {
  name = local.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# Execution role: what ECS itself needs to start the task (pull the image, write its logs).
resource "aws_iam_role" "processor_execution" {
  name               = "${local.name}-processor-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "processor_execution" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions
  }
  statement {
    sid       = "PullTheProcessorImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [var.processor_ecr_repository_arn]
  }
  statement {
    sid       = "WriteTaskLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.processor.arn}:*"]
  }
}

resource "aws_iam_role_policy" "processor_execution" {
  role   = aws_iam_role.processor_execution.id
  policy = data.aws_iam_policy_document.processor_execution.json
}

# Task role: what the processor does at run time.
resource "aws_iam_role" "processor_task" {
  name               = "${local.name}-processor"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

locals {
  kcl_table_arns = [
    for suffix in ["", "-CoordinatorState", "-WorkerMetricStats"] :
    "arn:${local.partition}:dynamodb:${var.region}:${local.account_id}:table/${local.kcl_application}${suffix}"
  ]
}

data "aws_iam_policy_document" "processor_task" {
  statement {
    sid = "ReadTheStream"
    actions = [
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
    ]
    resources = [aws_kinesis_stream.changes.arn]
  }
  statement {
    sid = "KclLeaseCoordinatorAndWorkerMetricTables"
    actions = [
      "dynamodb:CreateTable",
      "dynamodb:DescribeTable",
      "dynamodb:UpdateTable",
      "dynamodb:Scan",
      "dynamodb:Query",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
    ]
    resources = concat(local.kcl_table_arns, [for arn in local.kcl_table_arns : "${arn}/index/*"])
  }
  statement {
    # the join state (UpdateItem, BatchGetItem: join_state/dynamodb.py) and the leases'
    # "owner since" records `stream-processor run` writes (PutItem: startup.py)
    sid       = "JoinState"
    actions   = ["dynamodb:DescribeTable", "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.join_state.arn]
  }
  statement {
    sid     = "WriteBatchesManifestsAndDeadLetters"
    actions = ["s3:PutObject"]
    resources = [
      "${module.batches.arn}/${local.batch_prefix}/*",
      "${module.batches.arn}/${local.manifest_prefix}/*",
      "${module.batches.arn}/${local.dead_letter_pfx}/*",
    ]
  }
  statement {
    sid       = "ThePipelineKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.pipeline.arn]
  }
  statement {
    sid       = "ProcessorAndKclMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource-level permissions; scoped by namespace
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [local.metrics_namespace, local.kcl_application]
    }
  }
}

resource "aws_iam_role_policy" "processor_task" {
  role   = aws_iam_role.processor_task.id
  policy = data.aws_iam_policy_document.processor_task.json
}

resource "aws_ecs_task_definition" "processor" {
  family                   = "${local.name}-processor"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.processor_cpu
  memory                   = var.processor_memory
  execution_role_arn       = aws_iam_role.processor_execution.arn
  task_role_arn            = aws_iam_role.processor_task.arn

  # The root filesystem is read-only; the daemon writes its properties file (and Java its
  # temporary files) to this task-local scratch volume.
  volume {
    name = "scratch"
  }

  container_definitions = jsonencode([{
    name                   = "processor"
    image                  = var.processor_image
    essential              = true
    readonlyRootFilesystem = true
    command                = ["stream-processor", "run", "--properties", "/tmp/kcl/processor.properties"]
    mountPoints            = [{ sourceVolume = "scratch", containerPath = "/tmp", readOnly = false }]
    # The KCL's graceful shutdown gets its 30 s (shutdownGraceMillis) and a little more.
    stopTimeout = 45
    environment = [
      { name = "AWS_REGION", value = var.region },
      # Said, not left to the default: the KCL's and the metrics' AWS settings, never the local
      # stack's (docs/configuration.md).
      { name = "TOTESYS_CDC_ENVIRONMENT", value = "aws" },
      { name = "TOTESYS_CDC_STREAM_NAME", value = aws_kinesis_stream.changes.name },
      { name = "TOTESYS_CDC_KCL_APPLICATION", value = local.kcl_application },
      { name = "TOTESYS_CDC_BATCH_BUCKET", value = module.batches.id },
      { name = "TOTESYS_CDC_STATE_TABLE", value = aws_dynamodb_table.join_state.name },
      { name = "TOTESYS_CDC_MAX_BATCH_AGE_S", value = tostring(var.max_batch_age_s) },
      { name = "TOTESYS_CDC_MAX_BATCH_ROWS", value = tostring(var.max_batch_rows) },
      { name = "TOTESYS_CDC_PUBLISH_METRICS", value = "1" },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.processor.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "processor"
      }
    }
  }])
}

resource "aws_ecs_service" "processor" {
  name            = "${local.name}-processor"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.processor.arn
  desired_count   = var.processor_count
  launch_type     = "FARGATE"

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.processor.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # The task count is Application Auto Scaling's once deployed (below): an apply must not put
  # it back to processor_count.
  lifecycle {
    ignore_changes = [desired_count]
  }
}

# --- autoscaling on how far behind the stream the workers are --------------------------------
#
# Step scaling on the stream's GetRecords.IteratorAgeMilliseconds (Maximum), the metric the
# "processor-behind" alarm (alarms.tf) already watches, rather than target tracking: target
# tracking is for metrics that fall as tasks are added and rise as they are removed ("Use
# predefined increments based on CloudWatch alarms to scale Amazon ECS services", Amazon ECS
# Developer Guide), and an iterator age does not: it stays near zero until the workers fall
# behind, then grows with the backlog. Step policies
# keep acting while their alarm stays in ALARM, one cooldown apart ("How step scaling for
# Application Auto Scaling works", Application Auto Scaling User Guide). The processor's own
# MillisBehindLatest (TotesysCDC/StreamProcessor, per flush) says the same but is published only
# when a batch flushes, so a stalled worker goes quiet on it; the stream's metric does not
# depend on the workers publishing.
#
# More tasks help only up to one per shard: the KCL leases a shard to one worker at a time, and
# KCL 3 moves leases to even out the workers' CPU ("KCL configurations", Amazon Kinesis Data
# Streams Developer Guide), so a new task takes leases from busy ones. docs/sizing.md gives the
# floor (processor_count) per change rate; autoscaling is for backlogs and bursts above it.

locals {
  # A provisioned stream's shard count is known: no more tasks than shards. An on-demand
  # stream's is AWS's (4 at first, more as traffic grows).
  processor_max_tasks = (
    var.kinesis_stream_mode == "PROVISIONED"
    ? max(var.processor_count, min(var.processor_max_count, var.kinesis_shard_count))
    : var.processor_max_count
  )
}

resource "aws_appautoscaling_target" "processor" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.processor.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.processor_count
  max_capacity       = local.processor_max_tasks

  lifecycle {
    precondition {
      condition     = var.processor_max_count >= var.processor_count
      error_message = "processor_max_count (the autoscaling ceiling) must be at least processor_count (the floor)."
    }
  }
}

resource "aws_appautoscaling_policy" "processor_scale_out" {
  name               = "${local.name}-processor-scale-out"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.processor.service_namespace
  resource_id        = aws_appautoscaling_target.processor.resource_id
  scalable_dimension = aws_appautoscaling_target.processor.scalable_dimension

  step_scaling_policy_configuration {
    adjustment_type = "ChangeInCapacity"
    # A new task starts, then waits for the KCL's lease assignment (17-25 s locally, docs/local-stack.md):
    # give it 5 minutes before judging again.
    cooldown                = 300
    metric_aggregation_type = "Maximum"
    # Bounds are relative to the alarm's threshold: up to 4x it, one task; beyond, two.
    step_adjustment {
      metric_interval_lower_bound = 0
      metric_interval_upper_bound = 3 * var.processor_scale_out_iterator_age_ms
      scaling_adjustment          = 1
    }
    step_adjustment {
      metric_interval_lower_bound = 3 * var.processor_scale_out_iterator_age_ms
      scaling_adjustment          = 2
    }
  }
}

resource "aws_appautoscaling_policy" "processor_scale_in" {
  name               = "${local.name}-processor-scale-in"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.processor.service_namespace
  resource_id        = aws_appautoscaling_target.processor.resource_id
  scalable_dimension = aws_appautoscaling_target.processor.scalable_dimension

  step_scaling_policy_configuration {
    adjustment_type = "ChangeInCapacity"
    # A task leaving hands its leases over (shutdownGraceMillis, stopTimeout 45 s): one at a
    # time, 15 minutes apart.
    cooldown                = 900
    metric_aggregation_type = "Maximum"
    step_adjustment {
      metric_interval_upper_bound = 0
      scaling_adjustment          = -1
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "processor_scale_out" {
  alarm_name          = "${local.name}-processor-scale-out"
  alarm_description   = "Scaling, not paging: the workers are more than ${var.processor_scale_out_iterator_age_ms} ms behind the stream; add tasks (up to ${local.processor_max_tasks})."
  namespace           = "AWS/Kinesis"
  metric_name         = "GetRecords.IteratorAgeMilliseconds"
  dimensions          = { StreamName = aws_kinesis_stream.changes.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = var.processor_scale_out_iterator_age_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_appautoscaling_policy.processor_scale_out.arn]
}

resource "aws_cloudwatch_metric_alarm" "processor_scale_in" {
  alarm_name          = "${local.name}-processor-scale-in"
  alarm_description   = "Scaling, not paging: the workers have been less than ${var.processor_scale_in_iterator_age_ms} ms behind for 30 minutes; remove a task (down to ${var.processor_count})."
  namespace           = "AWS/Kinesis"
  metric_name         = "GetRecords.IteratorAgeMilliseconds"
  dimensions          = { StreamName = aws_kinesis_stream.changes.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 30
  threshold           = var.processor_scale_in_iterator_age_ms
  comparison_operator = "LessThanThreshold"
  # No data means nobody is reading the stream: never a reason to remove a worker.
  treat_missing_data = "notBreaching"
  alarm_actions      = [aws_appautoscaling_policy.processor_scale_in.arn]
}
