# The toolchain every file here shares. State: configure a remote backend at `terraform init`
# (docs/deploying.md): nothing about it is hard-coded here.
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = merge(var.tags, { project = "totesys-cdc", environment = var.environment })
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
