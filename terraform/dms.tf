# DMS: full load + CDC from ToteSys into the Kinesis stream. The task's table mappings and
# settings and both endpoints' settings are the files `cdc dms render` writes into dms/
# (locals.tf): the local capture engine and DMS are held to the same definition.

data "aws_iam_policy_document" "dms_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["dms.amazonaws.com", "dms.${var.region}.amazonaws.com"]
    }
  }
}

# The two roles DMS looks up by name in every account.
resource "aws_iam_role" "dms_vpc" {
  count              = var.create_dms_service_roles ? 1 : 0
  name               = "dms-vpc-role"
  assume_role_policy = data.aws_iam_policy_document.dms_assume.json
}

resource "aws_iam_role_policy_attachment" "dms_vpc" {
  count      = var.create_dms_service_roles ? 1 : 0
  role       = aws_iam_role.dms_vpc[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonDMSVPCManagementRole"
}

resource "aws_iam_role" "dms_logs" {
  count              = var.create_dms_service_roles ? 1 : 0
  name               = "dms-cloudwatch-logs-role"
  assume_role_policy = data.aws_iam_policy_document.dms_assume.json
}

resource "aws_iam_role_policy_attachment" "dms_logs" {
  count      = var.create_dms_service_roles ? 1 : 0
  role       = aws_iam_role.dms_logs[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonDMSCloudWatchLogsRole"
}

resource "aws_dms_replication_subnet_group" "this" {
  replication_subnet_group_id          = "${local.name}-dms"
  replication_subnet_group_description = "${local.name}: DMS replication instance subnets"
  subnet_ids                           = var.private_subnet_ids
  depends_on                           = [aws_iam_role_policy_attachment.dms_vpc]
}

resource "aws_dms_replication_instance" "this" {
  replication_instance_id     = "${local.name}-dms"
  replication_instance_class  = var.dms_instance_class
  engine_version              = var.dms_engine_version
  allocated_storage           = var.dms_allocated_storage_gb
  multi_az                    = var.dms_multi_az
  publicly_accessible         = false
  auto_minor_version_upgrade  = true
  kms_key_arn                 = aws_kms_key.pipeline.arn
  replication_subnet_group_id = aws_dms_replication_subnet_group.this.id
  vpc_security_group_ids      = [aws_security_group.dms.id]
}

# Source: ToteSys, credentials read by DMS from Secrets Manager (never in terraform).
resource "aws_iam_role" "dms_source_secret" {
  name               = "${local.name}-dms-source-secret"
  assume_role_policy = data.aws_iam_policy_document.dms_assume.json
}

data "aws_iam_policy_document" "dms_source_secret" {
  statement {
    sid       = "ReadTheSourceSecret"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [aws_secretsmanager_secret.source_db.arn]
  }
  statement {
    sid       = "DecryptIt"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.pipeline.arn]
  }
}

resource "aws_iam_role_policy" "dms_source_secret" {
  role   = aws_iam_role.dms_source_secret.id
  policy = data.aws_iam_policy_document.dms_source_secret.json
}

resource "aws_dms_endpoint" "source" {
  endpoint_id                     = "${local.name}-totesys"
  endpoint_type                   = "source"
  engine_name                     = "postgres"
  database_name                   = var.source_db_name
  ssl_mode                        = "require"
  secrets_manager_arn             = aws_secretsmanager_secret.source_db.arn
  secrets_manager_access_role_arn = aws_iam_role.dms_source_secret.arn
  kms_key_arn                     = aws_kms_key.pipeline.arn

  postgres_settings {
    slot_name                    = local.dms_source_settings.SlotName
    plugin_name                  = local.dms_source_settings.PluginName
    heartbeat_enable             = local.dms_source_settings.HeartbeatEnable
    heartbeat_frequency          = local.dms_source_settings.HeartbeatFrequency
    heartbeat_schema             = local.dms_source_settings.HeartbeatSchema
    capture_ddls                 = local.dms_source_settings.CaptureDdls
    ddl_artifacts_schema         = local.dms_source_settings.DdlArtifactsSchema
    map_boolean_as_boolean       = local.dms_source_settings.MapBooleanAsBoolean
    fail_tasks_on_lob_truncation = local.dms_source_settings.FailTasksOnLobTruncation
    execute_timeout              = local.dms_source_settings.ExecuteTimeout
  }
}

# Target: the Kinesis stream, written through a role that may put records on it only.
resource "aws_iam_role" "dms_kinesis" {
  name               = "${local.name}-dms-kinesis"
  assume_role_policy = data.aws_iam_policy_document.dms_assume.json
}

data "aws_iam_policy_document" "dms_kinesis" {
  statement {
    sid       = "PutChangeRecords"
    actions   = ["kinesis:PutRecord", "kinesis:PutRecords", "kinesis:DescribeStream", "kinesis:DescribeStreamSummary"]
    resources = [aws_kinesis_stream.changes.arn]
  }
  statement {
    sid       = "EncryptForTheStream"
    actions   = ["kms:GenerateDataKey"]
    resources = [aws_kms_key.pipeline.arn]
  }
}

resource "aws_iam_role_policy" "dms_kinesis" {
  role   = aws_iam_role.dms_kinesis.id
  policy = data.aws_iam_policy_document.dms_kinesis.json
}

resource "aws_dms_endpoint" "target" {
  endpoint_id   = "${local.name}-kinesis"
  endpoint_type = "target"
  engine_name   = "kinesis"
  kms_key_arn   = aws_kms_key.pipeline.arn

  kinesis_settings {
    stream_arn                     = aws_kinesis_stream.changes.arn
    service_access_role_arn        = aws_iam_role.dms_kinesis.arn
    message_format                 = local.dms_kinesis_settings.MessageFormat
    include_transaction_details    = local.dms_kinesis_settings.IncludeTransactionDetails
    include_partition_value        = local.dms_kinesis_settings.IncludePartitionValue
    partition_include_schema_table = local.dms_kinesis_settings.PartitionIncludeSchemaTable
    include_table_alter_operations = local.dms_kinesis_settings.IncludeTableAlterOperations
    include_control_details        = local.dms_kinesis_settings.IncludeControlDetails
    include_null_and_empty         = local.dms_kinesis_settings.IncludeNullAndEmpty
  }
}

resource "aws_dms_replication_task" "cdc" {
  replication_task_id       = "${local.name}-cdc"
  migration_type            = "full-load-and-cdc"
  replication_instance_arn  = aws_dms_replication_instance.this.replication_instance_arn
  source_endpoint_arn       = aws_dms_endpoint.source.endpoint_arn
  target_endpoint_arn       = aws_dms_endpoint.target.endpoint_arn
  table_mappings            = local.dms_table_mappings
  replication_task_settings = local.dms_task_settings
  start_replication_task    = true

  depends_on = [aws_iam_role_policy_attachment.dms_logs]
}
