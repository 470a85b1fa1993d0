variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-2"
  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-west-2."
  }
}

variable "environment" {
  description = "Short environment name, part of every resource name (e.g. dev, prod)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment: 2-16 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

# --- networking: given, not created ---------------------------------------------------------

variable "vpc_id" {
  description = "VPC holding ToteSys, the warehouse, DMS, the processor and the loader."
  type        = string
  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC id (vpc-...)."
  }
}

variable "private_subnet_ids" {
  description = "At least two private subnets (different AZs) with a route to AWS APIs (NAT or VPC endpoints)."
  type        = list(string)
  validation {
    condition     = length(var.private_subnet_ids) >= 2 && alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "private_subnet_ids: two or more subnet ids (subnet-...)."
  }
}

variable "source_db_security_group_id" {
  description = "Security group of the ToteSys database; DMS is allowed in on its port."
  type        = string
}

variable "warehouse_security_group_id" {
  description = "Security group of the warehouse database; the loader Lambda is allowed in on its port."
  type        = string
}

variable "source_db_port" {
  description = "ToteSys PostgreSQL port."
  type        = number
  default     = 5432
}

variable "warehouse_port" {
  description = "Warehouse PostgreSQL port."
  type        = number
  default     = 5432
}

# --- DMS ------------------------------------------------------------------------------------

variable "dms_instance_class" {
  description = "DMS replication instance class. dms.t3.* are burstable (sustained CDC spends CPU credits); docs/sizing.md suggests a class per change rate (dms.c5.large at 1,000 changes/s)."
  type        = string
  default     = "dms.t3.medium"
  validation {
    condition     = startswith(var.dms_instance_class, "dms.")
    error_message = "dms_instance_class must be a DMS class such as dms.t3.medium."
  }
}

variable "dms_engine_version" {
  description = "DMS engine version (3.5.x supports PostgreSQL 15 sources)."
  type        = string
  default     = "3.5.3"
}

variable "dms_multi_az" {
  description = "Run the replication instance Multi-AZ."
  type        = bool
  default     = true
}

variable "dms_allocated_storage_gb" {
  description = "Replication instance storage (GB)."
  type        = number
  default     = 50
  validation {
    condition     = var.dms_allocated_storage_gb >= 20 && var.dms_allocated_storage_gb <= 6144
    error_message = "dms_allocated_storage_gb must be between 20 and 6144."
  }
}

variable "source_db_name" {
  description = "ToteSys database name."
  type        = string
  default     = "totesys"
}

variable "source_db_instance_identifier" {
  description = "ToteSys's RDS DB instance identifier: its replication slot and WAL disk usage are alarmed (AWS/RDS metrics)."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,62}$", var.source_db_instance_identifier))
    error_message = "source_db_instance_identifier must be an RDS DB instance identifier."
  }
}

# --- Kinesis --------------------------------------------------------------------------------

variable "kinesis_stream_mode" {
  description = "ON_DEMAND (the default: AWS scales the shards, billed per GB in 1 KiB records) or PROVISIONED (kinesis_shard_count shards; cheaper at a steady rate, docs/sizing.md)."
  type        = string
  default     = "ON_DEMAND"
  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.kinesis_stream_mode)
    error_message = "kinesis_stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "kinesis_shard_count" {
  description = "Shards when kinesis_stream_mode is PROVISIONED (ignored on demand): 1,000 records/s or 1 MiB/s each, run at 70% (docs/sizing.md: 2 at 1,000 changes/s, 15 at 10,000, 143 at 100,000)."
  type        = number
  default     = 2
  validation {
    condition     = var.kinesis_shard_count >= 1
    error_message = "kinesis_shard_count must be at least 1."
  }
}

variable "kinesis_retention_hours" {
  description = "How far back a replay can go (24-8760 hours)."
  type        = number
  default     = 168
  validation {
    condition     = var.kinesis_retention_hours >= 24 && var.kinesis_retention_hours <= 8760
    error_message = "kinesis_retention_hours must be between 24 and 8760."
  }
}

# --- the processor (ECS Fargate) ------------------------------------------------------------

variable "processor_image" {
  description = "Processor container image (built by `make image`, pushed to ECR), e.g. 123456789012.dkr.ecr.eu-west-2.amazonaws.com/totesys-cdc-processor:1.0.0."
  type        = string
  validation {
    condition     = can(regex("^[^:]+:[A-Za-z0-9_.-]+$", var.processor_image)) && !endswith(var.processor_image, ":latest")
    error_message = "processor_image must carry an explicit tag other than latest."
  }
}

variable "processor_ecr_repository_arn" {
  description = "ARN of the ECR repository holding processor_image (the task may pull only from it)."
  type        = string
}

variable "processor_count" {
  description = "Processor tasks (KCL workers) at deployment and the autoscaling floor: what the steady change rate needs (docs/sizing.md: 2 at 1,000 changes/s, 6 at 10,000, 45 at 100,000 with 1 vCPU and 2048 MiB each; from about 2,300 changes/s the count is set by the workers' CPU). A shard is leased by one worker, so tasks beyond the shard count are idle."
  type        = number
  default     = 2
  validation {
    condition     = var.processor_count >= 1 && var.processor_count <= 200
    error_message = "processor_count must be between 1 and 200."
  }
}

variable "processor_max_count" {
  description = "Autoscaling ceiling of the processor tasks (scaled out on the stream's iterator age, ecs.tf). On a PROVISIONED stream it is capped at kinesis_shard_count (one worker per shard); an on-demand stream starts with 4 shards and AWS adds more."
  type        = number
  default     = 8
  validation {
    condition     = var.processor_max_count >= 1 && var.processor_max_count <= 200
    error_message = "processor_max_count must be between 1 and 200."
  }
}

variable "processor_scale_out_iterator_age_ms" {
  description = "Add processor tasks when the stream's GetRecords.IteratorAgeMilliseconds (Maximum) stays above this for 3 minutes (two at a time above 4x this)."
  type        = number
  default     = 30000
  validation {
    condition     = var.processor_scale_out_iterator_age_ms >= 1000
    error_message = "processor_scale_out_iterator_age_ms must be at least 1000."
  }
}

variable "processor_scale_in_iterator_age_ms" {
  description = "Remove a processor task (down to processor_count) when the iterator age stays below this for 30 minutes: the processor is caught up."
  type        = number
  default     = 5000
  validation {
    condition     = var.processor_scale_in_iterator_age_ms >= 250
    error_message = "processor_scale_in_iterator_age_ms must be at least 250 (the KCL polls every 250 ms)."
  }
}

variable "processor_cpu" {
  description = "Fargate CPU units per task (1024 = 1 vCPU). Under the KCL daemon a worker processes about 3,900 records per CPU-second (measured), so a vCPU takes about 2,300 changes/s at 60% (docs/sizing.md)."
  type        = number
  default     = 1024
  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.processor_cpu)
    error_message = "processor_cpu must be a Fargate CPU value: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "processor_memory" {
  description = "Fargate memory (MiB) per task. The KCL daemon runs one Python record processor per shard it holds (up to 184 MiB each while draining a backlog, measured) beside its JVM (a heap of up to a quarter of this, plus about 170 MiB) and stream-processor run (about 93 MiB): 2048 MiB holds 6 shards (docs/sizing.md)."
  type        = number
  default     = 2048
  validation {
    condition     = var.processor_memory >= 1024 && var.processor_memory <= 122880
    error_message = "processor_memory must be between 1024 and 122880 MiB."
  }
}

variable "max_batch_age_s" {
  description = "Micro-batch age limit (TOTESYS_CDC_MAX_BATCH_AGE_S): the main latency knob, and what the bill scales with (a manifest per shard per flush: S3 PUTs, SQS messages, Lambda invocations; docs/sizing.md)."
  type        = number
  default     = 1
  validation {
    condition     = var.max_batch_age_s > 0 && var.max_batch_age_s <= 300
    error_message = "max_batch_age_s must be in (0, 300]."
  }
}

variable "max_batch_rows" {
  description = "Micro-batch row limit (TOTESYS_CDC_MAX_BATCH_ROWS)."
  type        = number
  default     = 20000
  validation {
    condition     = var.max_batch_rows >= 1
    error_message = "max_batch_rows must be at least 1."
  }
}

# --- storage and loading --------------------------------------------------------------------

variable "batch_retention_days" {
  description = "Days batch parquet files and manifests are kept after writing (they are loaded within seconds; replay re-reads Kinesis)."
  type        = number
  default     = 14
  validation {
    condition     = var.batch_retention_days >= 1
    error_message = "batch_retention_days must be at least 1."
  }
}

variable "dead_letter_retention_days" {
  description = "Days dead-lettered records are kept in S3 for inspection."
  type        = number
  default     = 90
  validation {
    condition     = var.dead_letter_retention_days >= 7
    error_message = "dead_letter_retention_days must be at least 7."
  }
}

variable "loader_package_path" {
  description = "The loader Lambda zip built by `make package`."
  type        = string
  default     = "../dist/warehouse-loader.zip"
}

variable "loader_max_receive_count" {
  description = "Deliveries of a manifest message before SQS moves it to the dead-letter queue."
  type        = number
  default     = 5
  validation {
    condition     = var.loader_max_receive_count >= 1 && var.loader_max_receive_count <= 1000
    error_message = "loader_max_receive_count must be between 1 and 1000."
  }
}

variable "loader_concurrency" {
  description = "Loader Lambdas at once = warehouse connections the loader may hold: the function's reserved concurrency and the SQS event source's maximum concurrency, set equal so the event source never invokes beyond what is reserved (docs/sizing.md gives it per change rate; the warehouse needs this many connections plus about 5 for operations)."
  type        = number
  default     = 4
  validation {
    condition     = var.loader_concurrency >= 2 && var.loader_concurrency <= 1000
    error_message = "loader_concurrency must be between 2 and 1000 (the SQS event source's MaximumConcurrency range)."
  }
}

variable "loader_batch_size" {
  description = "Manifest messages per loader invocation (SQS event source BatchSize), loaded one after another, each in its own transaction. Above 10 needs loader_batching_window_s >= 1; keep batch size x the load time of a manifest well inside the 120 s timeout (docs/sizing.md)."
  type        = number
  default     = 10
  validation {
    condition     = var.loader_batch_size >= 1 && var.loader_batch_size <= 10000
    error_message = "loader_batch_size must be between 1 and 10000 (the maximum for a standard queue)."
  }
}

variable "loader_batching_window_s" {
  description = "Seconds the SQS event source may wait to fill a batch (MaximumBatchingWindowInSeconds). 0: a manifest is loaded as soon as it lands (latency first); more: fewer, fuller invocations (docs/sizing.md)."
  type        = number
  default     = 0
  validation {
    condition     = var.loader_batching_window_s >= 0 && var.loader_batching_window_s <= 300
    error_message = "loader_batching_window_s must be between 0 and 300."
  }
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for every log group."
  type        = number
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts."
  }
}

# --- alarms ---------------------------------------------------------------------------------

variable "alarm_email" {
  description = "Address subscribed to the alarm topic (confirm the e-mail AWS sends). Empty: no subscription."
  type        = string
  default     = ""
  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an e-mail address or empty."
  }
}

variable "cdc_latency_alarm_s" {
  description = "Alarm when DMS CDCLatencySource or CDCLatencyTarget exceeds this many seconds."
  type        = number
  default     = 60
}

variable "slot_lag_alarm_bytes" {
  description = "Alarm when ToteSys's oldest replication slot holds back more WAL than this (OldestReplicationSlotLag): the DMS slot is not being read and WAL fills the disk."
  type        = number
  default     = 10737418240 # 10 GiB
  validation {
    condition     = var.slot_lag_alarm_bytes > 0
    error_message = "slot_lag_alarm_bytes must be positive."
  }
}

variable "transaction_logs_alarm_bytes" {
  description = "Alarm when ToteSys's WAL takes more disk than this (TransactionLogsDiskUsage)."
  type        = number
  default     = 21474836480 # 20 GiB
  validation {
    condition     = var.transaction_logs_alarm_bytes > 0
    error_message = "transaction_logs_alarm_bytes must be positive."
  }
}

variable "iterator_age_alarm_ms" {
  description = "Alarm when the processor falls this far behind the stream (GetRecords.IteratorAgeMilliseconds)."
  type        = number
  default     = 60000
}

variable "load_queue_age_alarm_s" {
  description = "Alarm when the oldest manifest message on the load queue is older than this (ApproximateAgeOfOldestMessage): the loader is behind, or a manifest keeps failing and is redelivered until it reaches the DLQ. Keep it above the queue's visibility timeout (6 x the Lambda timeout) if one retried message should not page."
  type        = number
  default     = 900
  validation {
    condition     = var.load_queue_age_alarm_s >= 60
    error_message = "load_queue_age_alarm_s must be at least 60 (SQS reports the age once a minute)."
  }
}

variable "shard_stall_alarm_s" {
  description = "Alarm when a shard has held records without committing them for longer than this (the processor's UncommittedSeconds metric)."
  type        = number
  default     = 300
  validation {
    condition     = var.shard_stall_alarm_s >= 60
    error_message = "shard_stall_alarm_s must be at least 60 (the processor publishes the metric once a minute)."
  }
}

variable "create_dms_service_roles" {
  description = "Create the account-wide dms-vpc-role and dms-cloudwatch-logs-role (false when the account already has them)."
  type        = bool
  default     = true
}
