variable "name" {
  description = "Bucket name (globally unique)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS."
  type        = string
}

variable "log_bucket" {
  description = "Bucket receiving this bucket's server access logs."
  type        = string
}

variable "expirations" {
  description = "Lifecycle: objects under each prefix expire after this many days (noncurrent versions too)."
  type        = map(number)
  default     = {}
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted object version is kept."
  type        = number
  default     = 30
}

variable "notify_queue" {
  description = "Send object-created events under prefix (ending in suffix) to this SQS queue; null: none."
  type = object({
    arn    = string
    prefix = string
    suffix = string
  })
  default = null
}
