# The secrets exist in terraform; their values do not. Set them once, out of band, so no
# password ever lands in terraform state (docs/deploying.md):
#   aws secretsmanager put-secret-value --secret-id <arn> --secret-string file://secret.json
# Source (DMS): {"username", "password", "host", "port", "dbname"}.
# Warehouse (loader): {"username", "password", "host", "port", "dbname"}.

resource "aws_secretsmanager_secret" "source_db" {
  # checkov:skip=CKV2_AWS_57: rotation belongs to whoever owns the ToteSys database; DMS re-reads the secret on reconnect
  name        = "${local.name}/source-db"
  description = "ToteSys PostgreSQL credentials for DMS (value set outside terraform)"
  kms_key_id  = aws_kms_key.pipeline.arn
}

resource "aws_secretsmanager_secret" "warehouse" {
  # checkov:skip=CKV2_AWS_57: rotation belongs to whoever owns the warehouse; the loader re-reads the secret when it reconnects
  name = "${local.name}/warehouse"
  # The loader role's credentials only (docs/database-roles.md): no DDL; the owner's, which
  # migrations need, are not kept where the Lambda can read them.
  description = "Warehouse credentials of the loader role (warehouse_loader) for the loader Lambda (value set outside terraform)"
  kms_key_id  = aws_kms_key.pipeline.arn
}
