# One customer-managed key encrypts the stream, the buckets, the queues, the state table, the
# secrets, the topic and the log groups. Services that encrypt on a caller's behalf are allowed
# through their service principals; everything else goes through IAM policies.

data "aws_iam_policy_document" "kms" {
  # checkov:skip=CKV_AWS_111: a key policy's "*" resource is the key itself, not every resource
  # checkov:skip=CKV_AWS_356: a key policy's "*" resource is the key itself, not every resource
  # checkov:skip=CKV_AWS_109: the account root must administer its key, or the key becomes unmanageable
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy "*" means this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
  statement {
    sid       = "ServicesEncryptForThisAccount"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*", "kms:DescribeKey"]
    resources = ["*"] # in a key policy "*" means this key
    principals {
      type = "Service"
      identifiers = [
        "logs.${var.region}.amazonaws.com",
        "s3.amazonaws.com",
        "sns.amazonaws.com",
        "cloudwatch.amazonaws.com",
      ]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "pipeline" {
  description             = "${local.name}: stream, batches, queues, state, secrets, logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "pipeline" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.pipeline.key_id
}
