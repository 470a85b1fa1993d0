# The AWS deployment (DESIGN.md §9) is built out by its own issue; this pins the toolchain
# every module here will share.
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}
