# Access logs of the other buckets. It cannot log to itself; S3's log delivery writes with
# SSE-S3, so it is the one bucket not encrypted with the pipeline's key.
resource "aws_s3_bucket" "logs" {
  # checkov:skip=CKV_AWS_18: the access-log bucket is the log target; logging it to itself would loop
  # checkov:skip=CKV_AWS_144: logs of a regional pipeline; cross-region replication is not worth its cost here
  # checkov:skip=CKV_AWS_145: S3 server access log delivery supports SSE-S3 only, not SSE-KMS
  # checkov:skip=CKV2_AWS_62: nothing consumes events of access logs
  bucket = "${local.name}-access-logs-${local.account_id}"
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  depends_on = [aws_s3_bucket_versioning.logs]
}

data "aws_iam_policy_document" "logs_bucket" {
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket     = aws_s3_bucket.logs.id
  policy     = data.aws_iam_policy_document.logs_bucket.json
  depends_on = [aws_s3_bucket_public_access_block.logs]
}

# Micro-batches (parquet + manifests) and dead-lettered records, one bucket, prefixes as in
# stream_processor/config.py.
module "batches" {
  source      = "./modules/bucket"
  name        = local.batch_bucket_name
  kms_key_arn = aws_kms_key.pipeline.arn
  log_bucket  = aws_s3_bucket.logs.id
  expirations = {
    "${local.batch_prefix}/"    = var.batch_retention_days
    "${local.manifest_prefix}/" = var.batch_retention_days
    "${local.dead_letter_pfx}/" = var.dead_letter_retention_days
    "${local.rejected_pfx}/"    = var.dead_letter_retention_days
  }
  # A manifest written → one SQS message → one warehouse transaction.
  notify_queue = {
    arn    = aws_sqs_queue.load.arn
    prefix = "${local.manifest_prefix}/"
    suffix = ".json"
  }
  depends_on = [aws_sqs_queue_policy.load]
}

# The loader Lambda's package (too large to upload inline with pyarrow in it).
module "artifacts" {
  source      = "./modules/bucket"
  name        = "${local.name}-artifacts-${local.account_id}"
  kms_key_arn = aws_kms_key.pipeline.arn
  log_bucket  = aws_s3_bucket.logs.id
}

