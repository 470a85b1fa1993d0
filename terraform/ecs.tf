# The stream processor: the KCL MultiLangDaemon with stream_processor's record processors
# (`stream-processor run`, the image built by `make image`), as a Fargate service. Each task
# is one KCL worker; the KCL spreads the shards' leases over them.

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
    sid       = "JoinState"
    actions   = ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:UpdateItem"]
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
}
