# The VPC and subnets are inputs: this stack places its parts in them and opens only the
# connections the pipeline needs.

data "aws_vpc" "this" {
  id = var.vpc_id
}

resource "aws_security_group" "dms" {
  name        = "${local.name}-dms"
  description = "DMS replication instance: out to ToteSys and to AWS APIs (Kinesis, Secrets Manager)"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "dms_to_source" {
  security_group_id            = aws_security_group.dms.id
  description                  = "ToteSys PostgreSQL"
  referenced_security_group_id = var.source_db_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.source_db_port
  to_port                      = var.source_db_port
}

resource "aws_vpc_security_group_egress_rule" "dms_https" {
  security_group_id = aws_security_group.dms.id
  description       = "AWS APIs over HTTPS (Kinesis, Secrets Manager) via NAT or VPC endpoints"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "source_from_dms" {
  security_group_id            = var.source_db_security_group_id
  description                  = "ToteSys CDC: DMS replication instance"
  referenced_security_group_id = aws_security_group.dms.id
  ip_protocol                  = "tcp"
  from_port                    = var.source_db_port
  to_port                      = var.source_db_port
}

resource "aws_security_group" "processor" {
  name        = "${local.name}-processor"
  description = "Stream processor tasks: out to AWS APIs only (Kinesis, DynamoDB, S3, CloudWatch, ECR)"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "processor_https" {
  security_group_id = aws_security_group.processor.id
  description       = "AWS APIs over HTTPS via NAT or VPC endpoints"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_security_group" "loader" {
  name        = "${local.name}-loader"
  description = "Loader Lambda: out to the warehouse and to AWS APIs (S3, Secrets Manager)"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "loader_to_warehouse" {
  security_group_id            = aws_security_group.loader.id
  description                  = "Warehouse PostgreSQL"
  referenced_security_group_id = var.warehouse_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.warehouse_port
  to_port                      = var.warehouse_port
}

resource "aws_vpc_security_group_egress_rule" "loader_https" {
  security_group_id = aws_security_group.loader.id
  description       = "AWS APIs over HTTPS via NAT or VPC endpoints"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "warehouse_from_loader" {
  security_group_id            = var.warehouse_security_group_id
  description                  = "ToteSys CDC: loader Lambda"
  referenced_security_group_id = aws_security_group.loader.id
  ip_protocol                  = "tcp"
  from_port                    = var.warehouse_port
  to_port                      = var.warehouse_port
}
