output "kinesis_stream_name" {
  description = "The change stream (TOTESYS_CDC_STREAM_NAME)."
  value       = aws_kinesis_stream.changes.name
}

output "kinesis_stream_arn" {
  description = "The change stream's ARN."
  value       = aws_kinesis_stream.changes.arn
}

output "dms_replication_task_arn" {
  description = "The DMS task (cdc monitor --dms-task-arn, aws dms start-replication-task)."
  value       = aws_dms_replication_task.cdc.replication_task_arn
}

output "dms_replication_task_id" {
  description = "The DMS task identifier (CloudWatch dimension ReplicationTaskIdentifier)."
  value       = aws_dms_replication_task.cdc.replication_task_id
}

output "dms_replication_instance_id" {
  description = "The DMS replication instance identifier."
  value       = aws_dms_replication_instance.this.replication_instance_id
}

output "kcl_application_name" {
  description = "KCL application: the lease table's name (stream-processor replay ...)."
  value       = local.kcl_application
}

output "join_state_table" {
  description = "The processor's join-state DynamoDB table (TOTESYS_CDC_STATE_TABLE)."
  value       = aws_dynamodb_table.join_state.name
}

output "batch_bucket" {
  description = "Micro-batches, manifests and dead letters (TOTESYS_CDC_BATCH_BUCKET)."
  value       = module.batches.id
}

output "load_queue_url" {
  description = "Manifest events for the loader."
  value       = aws_sqs_queue.load.id
}

output "load_dlq_url" {
  description = "Manifests the loader gave up on (inspect, then redrive)."
  value       = aws_sqs_queue.load_dlq.id
}

output "loader_function_name" {
  description = "The loader Lambda."
  value       = aws_lambda_function.loader.function_name
}

output "processor_cluster" {
  description = "ECS cluster of the processor service."
  value       = aws_ecs_cluster.this.name
}

output "processor_service" {
  description = "ECS service running the KCL workers."
  value       = aws_ecs_service.processor.name
}

output "processor_log_group" {
  description = "The processor's log group."
  value       = aws_cloudwatch_log_group.processor.name
}

output "loader_log_group" {
  description = "The loader's log group."
  value       = aws_cloudwatch_log_group.loader.name
}

output "source_db_secret_arn" {
  description = "Set ToteSys's credentials here (aws secretsmanager put-secret-value)."
  value       = aws_secretsmanager_secret.source_db.arn
}

output "warehouse_secret_arn" {
  description = "Set the warehouse loader role's credentials here (aws secretsmanager put-secret-value; docs/database-roles.md)."
  value       = aws_secretsmanager_secret.warehouse.arn
}

output "alarm_topic_arn" {
  description = "SNS topic of every alarm and DMS event; add subscriptions here."
  value       = aws_sns_topic.alarms.arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the pipeline."
  value       = aws_cloudwatch_dashboard.pipeline.dashboard_name
}

output "kms_key_arn" {
  description = "The pipeline's KMS key."
  value       = aws_kms_key.pipeline.arn
}
