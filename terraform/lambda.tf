# The loader: warehouse_loader.handler.handler, one warehouse transaction per manifest message,
# failed messages reported back as partial batch failures (SQS retries, then dead-letters them).

resource "aws_s3_object" "loader_package" {
  bucket      = module.artifacts.id
  key         = "lambda/warehouse-loader-${filesha256(var.loader_package_path)}.zip"
  source      = var.loader_package_path
  source_hash = filesha256(var.loader_package_path)
}

resource "aws_cloudwatch_log_group" "loader" {
  name              = "/aws/lambda/${local.name}-loader"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.pipeline.arn
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "loader" {
  name               = "${local.name}-loader"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "loader" {
  statement {
    sid       = "ConsumeTheLoadQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.load.arn]
  }
  statement {
    sid     = "ReadManifestsAndBatches"
    actions = ["s3:GetObject"]
    resources = [
      "${module.batches.arn}/${local.batch_prefix}/*",
      "${module.batches.arn}/${local.manifest_prefix}/*",
    ]
  }
  # Without ListBucket, S3 answers GetObject of a missing key with 403 AccessDenied instead of
  # 404 NoSuchKey ("GetObject", Amazon S3 API Reference, Permissions): the loader could not
  # tell a lost manifest or file (a bad batch, that message alone) from a real permission fault.
  statement {
    sid       = "TellMissingBatchesFromDeniedOnes"
    actions   = ["s3:ListBucket"]
    resources = [module.batches.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.batch_prefix}/*", "${local.manifest_prefix}/*"]
    }
  }
  statement {
    sid       = "WarehouseCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.warehouse.arn]
  }
  statement {
    sid       = "ThePipelineKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.pipeline.arn]
  }
  statement {
    sid       = "WriteItsLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.loader.arn}:*"]
  }
  statement {
    sid       = "TraceIt"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray's write actions have no resource-level permissions
  }
  statement {
    sid       = "VpcNetworkInterfacesDescribe"
    actions   = ["ec2:DescribeNetworkInterfaces"]
    resources = ["*"] # Describe* actions have no resource-level permissions
  }
  statement {
    sid     = "VpcNetworkInterfacesInItsSubnetsAndGroup"
    actions = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
    resources = concat(
      ["arn:${local.partition}:ec2:${var.region}:${local.account_id}:network-interface/*"],
      [for s in var.private_subnet_ids : "arn:${local.partition}:ec2:${var.region}:${local.account_id}:subnet/${s}"],
      [aws_security_group.loader.arn],
    )
  }
}

resource "aws_iam_role_policy" "loader" {
  role   = aws_iam_role.loader.id
  policy = data.aws_iam_policy_document.loader.json
}

resource "aws_lambda_function" "loader" {
  # checkov:skip=CKV_AWS_116: failed messages dead-letter through the SQS queue's redrive policy (sqs.tf); a Lambda DLQ only covers asynchronous invocations, which this function never gets
  # checkov:skip=CKV_AWS_272: the package is built by `make package` from this repository and uploaded by this configuration; there is no signing profile to check it against
  function_name                  = "${local.name}-loader"
  role                           = aws_iam_role.loader.arn
  handler                        = "warehouse_loader.handler.handler"
  runtime                        = "python3.12" # the wheels tools/package-lambda.sh picks
  architectures                  = ["x86_64"]
  s3_bucket                      = module.artifacts.id
  s3_key                         = aws_s3_object.loader_package.key
  source_code_hash               = filebase64sha256(var.loader_package_path)
  timeout                        = 120
  memory_size                    = 1024
  reserved_concurrent_executions = var.loader_concurrency
  kms_key_arn                    = aws_kms_key.pipeline.arn

  environment {
    variables = {
      TOTESYS_CDC_WAREHOUSE_SECRET_ARN = aws_secretsmanager_secret.warehouse.arn
    }
  }

  vpc_config {
    subnet_ids         = var.private_subnet_ids
    security_group_ids = [aws_security_group.loader.id]
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.loader, aws_iam_role_policy.loader]
}

resource "aws_lambda_event_source_mapping" "loader" {
  event_source_arn                   = aws_sqs_queue.load.arn
  function_name                      = aws_lambda_function.loader.arn
  batch_size                         = 10
  maximum_batching_window_in_seconds = 0 # latency first: a manifest is loaded as soon as it lands
  function_response_types            = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = max(2, var.loader_concurrency)
  }
}
