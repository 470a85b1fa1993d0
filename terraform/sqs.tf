resource "aws_sqs_queue" "load_dlq" {
  name                      = "${local.name}-load-dlq"
  message_retention_seconds = 1209600 # 14 days, the maximum: time to look and redrive
  kms_master_key_id         = aws_kms_key.pipeline.arn
}

resource "aws_sqs_queue" "load" {
  name = "${local.name}-load"
  # Six times the Lambda timeout, as AWS advises for event source mappings ("Creating and
  # configuring an Amazon SQS event source mapping"), plus the batching window a message may
  # wait in before its invocation starts.
  visibility_timeout_seconds = 6 * aws_lambda_function.loader.timeout + var.loader_batching_window_s
  message_retention_seconds  = 345600
  receive_wait_time_seconds  = 20
  kms_master_key_id          = aws_kms_key.pipeline.arn
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.load_dlq.arn
    maxReceiveCount     = var.loader_max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "load_dlq" {
  queue_url = aws_sqs_queue.load_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.load.arn]
  })
}

data "aws_iam_policy_document" "load_queue" {
  statement {
    sid       = "ManifestEventsFromTheBatchBucket"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.load.arn]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      # by name, not module.batches.arn: the bucket's notification waits for this policy
      values = ["arn:${local.partition}:s3:::${local.batch_bucket_name}"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "load" {
  queue_url = aws_sqs_queue.load.id
  policy    = data.aws_iam_policy_document.load_queue.json
}
