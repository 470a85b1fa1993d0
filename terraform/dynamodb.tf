# The processor's join state (stream_processor/join_state/dynamodb.py: one item per source row
# of a joined dimension, key "pk"). The KCL makes its own lease, coordinator and worker-metrics
# tables, named after the application; the processor's IAM allows exactly those.
resource "aws_dynamodb_table" "join_state" {
  name         = "${local.name}-join-state"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.pipeline.arn
  }

  point_in_time_recovery {
    enabled = true
  }

  deletion_protection_enabled = true
}
