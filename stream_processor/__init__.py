"""DMS change records → star-schema rows → parquet micro-batches in S3, under the KCL."""
