# The toolchain every file here shares. State: configure a remote backend at `terraform init`
# (docs/deploying.md): nothing about it is hard-coded here.
terraform {
  required_version = ">= 1.6"
  required_providers {
    # 5.99.x: the release whose schema tests/terraform/test_provider_schema.py checks every
    # block against (tools/provider_schema.py; docs/aws-vs-local.md, "Terraform").
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.99.0"
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
