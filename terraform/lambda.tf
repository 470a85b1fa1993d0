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
  # Rows the warehouse refuses for their data are set aside as letters, one per row, written
  # before the load commits (warehouse_loader/rejected.py); the bucket is encrypted with the
  # pipeline key, hence GenerateDataKey below.
  statement {
    sid       = "SetAsideRefusedRows"
    actions   = ["s3:PutObject"]
    resources = ["${module.batches.arn}/${local.rejected_pfx}/*"]
  }
  statement {
    sid       = "WarehouseCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.warehouse.arn]
  }
  statement {
    sid       = "ThePipelineKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
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
  reserved_concurrent_executions = var.loader_concurrency # = the event source's cap, below
  kms_key_arn                    = aws_kms_key.pipeline.arn

  environment {
    variables = {
      TOTESYS_CDC_ENVIRONMENT          = "aws" # said, not left to the default (docs/configuration.md)
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

# Concurrency, sized in docs/sizing.md (manifests/s x load time per manifest): the function's
# reserved concurrency and the event source's maximum concurrency are both loader_concurrency.
# The event source's cap keeps it from invoking more loaders than that ("Configuring scaling
# behavior for SQS event source mappings", AWS Lambda Developer Guide). Reserved concurrency
# alone would not: the event source does not account for it and reads more messages than the
# function may take (AWS re:Post Knowledge Center, "lambda-sqs-scaling"); the throttled ones
# come back after the visibility timeout with a receive counted towards the dead-letter queue.
# Reserved concurrency still earns its place: it caps every other way of invoking the loader
# (warehouse connections stay bounded) and keeps that much of the account's concurrency for it
# (100 stay unreserved: "Configuring reserved concurrency", AWS Lambda Developer Guide). Equal,
# the cap is never above what is reserved, which the same Knowledge Center article advises.
resource "aws_lambda_event_source_mapping" "loader" {
  event_source_arn = aws_sqs_queue.load.arn
  function_name    = aws_lambda_function.loader.arn
  # Up to 10,000 on a standard queue, but above 10 only with a batching window of 1 s or more
  # ("Lambda parameters for Amazon SQS event source mappings"; CreateEventSourceMapping, AWS
  # Lambda API Reference). Default 10 with no window: a manifest is loaded as soon as it lands.
  batch_size                         = var.loader_batch_size
  maximum_batching_window_in_seconds = var.loader_batching_window_s
  function_response_types            = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = var.loader_concurrency
  }

  lifecycle {
    precondition {
      condition     = var.loader_batch_size <= 10 || var.loader_batching_window_s >= 1
      error_message = "loader_batch_size above 10 needs loader_batching_window_s of at least 1 (Lambda refuses the event source mapping otherwise)."
    }
  }
}
